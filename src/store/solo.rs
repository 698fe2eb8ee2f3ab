//! The calling thread's own round trip, for a blocking call that is the
//! only one in flight.
//!
//! A call on the shared multiplexed connection crosses two threads: the
//! caller hands its command to the store's runtime thread, which writes it,
//! reads the reply and wakes the caller. With many callers that is what
//! lets one socket pipeline them all; with one, the two hand-offs cost as
//! much as the round trip itself on a local server. So a call made through
//! the blocking API ([`Caller::blocking`]), on a standalone server, while
//! no other call of its store is in flight, writes and reads the store's
//! one synchronous connection itself, as `redis-benchmark` does. The next
//! caller to arrive while it waits finds a call in flight and pipelines on
//! the multiplexed connection as before.
//!
//! The synchronous connection is opened in the background, on the
//! runtime's blocking pool, the first time a lone call finds none (that
//! call and the others until it is open go the multiplexed way): no call's
//! deadline pays for a connect, and a connect slower than a deadline is
//! not thrown away.

use crate::store::connection::Failure;
use crate::sync::{AtomicU64, Ordering};
use redis::{Client, Connection, RedisResult};
use std::cell::Cell;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// How long a background connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The least time between two connects that failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// What a store keeps for its solo round trips.
pub(crate) struct Solo {
    /// The server's client; `None` on a cluster, whose calls are routed by
    /// the cluster client alone.
    client: Option<Client>,
    /// The synchronous connection, as far as it got.
    line: Arc<Mutex<Line>>,
    /// Calls of the store in flight, by either path.
    in_flight: AtomicU64,
}

/// The synchronous connection's state.
enum Line {
    /// None open; a connect that failed, when.
    Closed(Option<Instant>),
    /// A connect is under way in the background.
    Opening,
    /// Open, with the read and write timeout last set on its socket.
    Open(Connection, Duration),
}

/// One call, counted in flight until dropped.
pub(crate) struct Flight<'a> {
    solo: &'a Solo,
    /// Whether it was the only call in flight when it began.
    alone: bool,
}

/// The store's open synchronous connection, lent to one call.
pub(crate) struct Lent<'a> {
    held: MutexGuard<'a, Line>,
}

impl Solo {
    pub(crate) fn new(client: Option<Client>) -> Self {
        Self {
            client,
            line: Arc::new(Mutex::new(Line::Closed(None))),
            in_flight: AtomicU64::new(0),
        }
    }

    /// Counts a call in flight until the returned [`Flight`] drops.
    pub(crate) fn board(&self) -> Flight<'_> {
        // Relaxed: a hint of whether others wait, guarding no data (the
        // connection has its own lock); a stale count only picks the
        // other path for one call.
        let before = self.in_flight.fetch_add(1, Ordering::Relaxed);
        Flight {
            solo: self,
            alone: before == 0,
        }
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        // Relaxed: as in `board`.
        self.solo.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Flight<'_> {
    /// The synchronous connection, if this call may make its own round
    /// trip: made through the blocking API, to a standalone server, with
    /// no other call in flight when it began, the connection open and no
    /// other call holding it (never waited for). A lone blocking call that
    /// finds it closed starts opening it on `runtime`'s blocking pool.
    pub(crate) fn line(&self, runtime: &Handle) -> Option<Lent<'_>> {
        let client = self.solo.client.as_ref()?;
        if !self.alone || !Caller::is_blocking() {
            return None;
        }
        let mut held = self.solo.line.try_lock().ok()?;
        match *held {
            Line::Open(..) => return Some(Lent { held }),
            Line::Closed(failed) if failed.is_none_or(|at| at.elapsed() >= RECONNECT_AFTER) => {
                *held = Line::Opening;
                let (client, line) = (client.clone(), Arc::clone(&self.solo.line));
                drop(runtime.spawn_blocking(move || {
                    let opened = client.get_connection_with_timeout(CONNECT_TIMEOUT);
                    *line.lock().unwrap_or_else(PoisonError::into_inner) = match opened {
                        // No timeout set yet: the first call sets its own.
                        Ok(connection) => Line::Open(connection, Duration::ZERO),
                        Err(_) => Line::Closed(Some(Instant::now())),
                    };
                }));
            }
            Line::Closed(_) | Line::Opening => {}
        }
        None
    }
}

impl Lent<'_> {
    /// Runs `exchange` on the connection, each read and write bounded by
    /// `deadline`. A connection that failed in any way is
    /// closed (the next lone call opens another): a reply that comes after
    /// its deadline would otherwise be read as the next call's.
    pub(crate) fn run<T>(
        mut self,
        deadline: Duration,
        exchange: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, Failure> {
        let Line::Open(connection, timeout) = &mut *self.held else {
            unreachable!("lent only while open");
        };
        let outcome =
            set_timeouts(connection, timeout, deadline).and_then(|()| exchange(connection));
        outcome.map_err(|error| {
            *self.held = Line::Closed(None);
            if error.is_timeout() {
                Failure::Timeout
            } else {
                Failure::Redis
            }
        })
    }
}

/// Sets the socket's read and write timeouts to `deadline`, unless they
/// are already (two system calls saved on nearly every call).
fn set_timeouts(
    connection: &mut Connection,
    set: &mut Duration,
    deadline: Duration,
) -> RedisResult<()> {
    if *set != deadline {
        connection.set_read_timeout(Some(deadline))?;
        connection.set_write_timeout(Some(deadline))?;
        *set = deadline;
    }
    Ok(())
}

/// Whether this thread is waiting in the store's blocking API: only such
/// a thread may make its own round trip, since blocking it blocks no one
/// else (a runtime thread, or an async caller's, carries other work).
pub(crate) struct Caller {
    was: bool,
}

thread_local! {
    static BLOCKING: Cell<bool> = const { Cell::new(false) };
}

impl Caller {
    /// Marks this thread as a blocking caller until the guard drops.
    pub(crate) fn blocking() -> Self {
        Self {
            was: BLOCKING.replace(true),
        }
    }

    fn is_blocking() -> bool {
        BLOCKING.get()
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        BLOCKING.set(self.was);
    }
}
