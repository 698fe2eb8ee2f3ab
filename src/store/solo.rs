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

use crate::store::connection::Failure;
use crate::sync::{AtomicU64, Ordering};
use redis::{Client, Connection, RedisError, RedisResult};
use std::cell::Cell;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What a store keeps for its solo round trips.
pub(crate) struct Solo {
    /// The server's client; `None` on a cluster, whose calls are routed by
    /// the cluster client alone.
    client: Option<Client>,
    /// The synchronous connection once open, with the read and write
    /// timeout last set on its socket.
    line: Mutex<Option<(Connection, Duration)>>,
    /// Calls of the store in flight, by either path.
    in_flight: AtomicU64,
}

/// One call, counted in flight until dropped.
pub(crate) struct Flight<'a> {
    solo: &'a Solo,
    /// Whether it was the only call in flight when it began.
    alone: bool,
}

/// The store's synchronous connection, lent to one call.
pub(crate) struct Line<'a> {
    held: MutexGuard<'a, Option<(Connection, Duration)>>,
    client: &'a Client,
}

impl Solo {
    pub(crate) fn new(client: Option<Client>) -> Self {
        Self {
            client,
            line: Mutex::new(None),
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
    /// no other call in flight when it began, and no other call holding
    /// the connection (never waited for).
    pub(crate) fn line(&self) -> Option<Line<'_>> {
        let client = self.solo.client.as_ref()?;
        if !self.alone || !Caller::is_blocking() {
            return None;
        }
        let held = self.solo.line.try_lock().ok()?;
        Some(Line { held, client })
    }
}

impl Line<'_> {
    /// Runs `exchange` on the connection within `deadline`, opening the
    /// connection first if there is none. A connection that failed in any
    /// way is closed: a reply that comes after its deadline would
    /// otherwise be read as the next call's.
    pub(crate) fn run<T>(
        mut self,
        deadline: Duration,
        exchange: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, Failure> {
        let start = Instant::now();
        let outcome = self.timed(deadline).and_then(|connection| {
            let left = deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(timed_out());
            }
            set_timeouts(connection, left)?;
            exchange(&mut connection.0)
        });
        outcome.map_err(|error| {
            *self.held = None;
            if error.is_timeout() {
                Failure::Timeout
            } else {
                Failure::Redis
            }
        })
    }

    /// The open connection, or a new one opened within `deadline`.
    fn timed(&mut self, deadline: Duration) -> RedisResult<&mut (Connection, Duration)> {
        if self.held.is_none() {
            let connection = self.client.get_connection_with_timeout(deadline)?;
            // No timeout set yet: the first call sets its own.
            *self.held = Some((connection, Duration::ZERO));
        }
        Ok(self.held.as_mut().expect("opened above"))
    }
}

/// Sets the socket's read and write timeouts to `left`, unless they are
/// already (two system calls saved on most calls).
fn set_timeouts(line: &mut (Connection, Duration), left: Duration) -> RedisResult<()> {
    let (connection, set) = line;
    // Within a millisecond is close enough: the deadline bounds each
    // read and write, not the call as a whole, either way.
    if set.abs_diff(left) > Duration::from_millis(1) || set.is_zero() {
        connection.set_read_timeout(Some(left))?;
        connection.set_write_timeout(Some(left))?;
        *set = left;
    }
    Ok(())
}

fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
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
