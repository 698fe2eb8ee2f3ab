//! The connection to Redis that every limiter built on one store shares,
//! and the runtime thread that drives it.
//!
//! One multiplexed connection carries every caller's script calls: they are
//! written back to back and the replies matched in order, so many threads
//! pipeline over one socket with no pool and no lock held across a round
//! trip. A connection that broke (server restarted, socket reset) is
//! forgotten and the next call opens another, within its own deadline.

use crate::core::decision::Decision;
use crate::store::error::StoreError;
use crate::store::script::{self, At, Op};
use crate::store::units::ScriptQuota;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError, Script};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};

/// A Redis server that limiters keep their buckets in: one multiplexed
/// connection and one runtime thread, shared by every limiter built on it
/// (cloning shares them too). Nothing connects until the first call, so
/// building never waits on the server; a server that is away is the
/// limiters' failure policy's business.
///
/// ```no_run
/// use floodgate::store::{RedisLimiter, RedisStore};
/// use floodgate::Quota;
///
/// let store = RedisStore::open("redis://127.0.0.1:6379/")?;
/// let limiter = RedisLimiter::builder(&store, Quota::per_second(30)?).build()?;
/// assert!(limiter.check("user:42", 1)?.is_admitted());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    script: Script,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Taken only by `Drop`.
    runtime: Option<Runtime>,
}

/// Why a call to Redis gave no decision.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The deadline passed first.
    Timeout,
    /// The server or the socket answered with an error.
    Redis,
}

impl RedisStore {
    /// A store on the server at `url` (`redis://host:port/db`,
    /// `redis+unix:///path`); [`StoreError::InvalidUrl`] when the URL does
    /// not parse. Starts the store's runtime thread; connects on first use.
    ///
    /// ```
    /// use floodgate::store::{RedisStore, StoreError};
    /// assert!(RedisStore::open("redis://127.0.0.1:1/").is_ok()); // nothing connects yet
    /// assert_eq!(RedisStore::open("http://x").err(), Some(StoreError::InvalidUrl));
    /// ```
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(|_| StoreError::InvalidUrl)?;
        // One worker: it only moves bytes between callers and the socket.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("floodgate-redis")
            .enable_all()
            .build()
            .map_err(|_| StoreError::Thread)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                script: Script::new(script::SOURCE),
                connection: tokio::sync::Mutex::new(None),
                runtime: Some(runtime),
            }),
        })
    }

    fn handle(&self) -> &Handle {
        // Present until `Drop`, which no call outlives.
        self.inner
            .runtime
            .as_ref()
            .map(Runtime::handle)
            .expect("the runtime lives as long as the store")
    }

    /// Runs `work` to completion on the calling thread, timed by the
    /// store's runtime: what the blocking API is made of. Must not be
    /// called from inside an async runtime (use the `_async` calls there).
    pub(crate) fn block_on<F: Future>(&self, work: F) -> F::Output {
        self.handle().block_on(work)
    }

    /// Runs `work` in the background on the store's runtime: callable from
    /// any thread, inside an async runtime or not, and never waits.
    pub(crate) fn spawn<F: Future<Output = ()> + Send + 'static>(&self, work: F) {
        drop(self.handle().spawn(work));
    }

    /// The shared connection, opened if there is none (on the store's
    /// runtime, so it outlives the caller's).
    async fn connection(&self, deadline: Duration) -> Result<MultiplexedConnection, RedisError> {
        let mut slot = self.inner.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let client = self.inner.client.clone();
        // Replies are timed by each call's own deadline, not the socket's.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(deadline))
            .set_response_timeout(None);
        let opened = self
            .handle()
            .spawn(async move {
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
            })
            .await
            .map_err(|_| RedisError::from(std::io::Error::other("connect task ended")))??;
        *slot = Some(opened.clone());
        Ok(opened)
    }

    /// Forgets a connection that failed for good: the next call opens one.
    /// A caller holding the slot is opening one already, so a busy slot is
    /// left alone.
    fn forget(&self) {
        if let Ok(mut slot) = self.inner.connection.try_lock() {
            *slot = None;
        }
    }

    /// Runs the script for `keys` within `deadline`.
    pub(crate) async fn run(
        &self,
        keys: &[(&[u8], &ScriptQuota)],
        op: Op,
        at: At,
        deadline: Duration,
    ) -> Result<Vec<Decision>, Failure> {
        let call = async {
            let mut connection = self.connection(deadline).await?;
            script::run(&self.inner.script, &mut connection, keys, op, at).await
        };
        match tokio::time::timeout(deadline, call).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Ok(decisions)) => Ok(decisions),
            Ok(Err(error)) => {
                // A paused server keeps its socket: only a broken one is dropped.
                if error.is_unrecoverable_error()
                    || error.is_connection_dropped()
                    || error.is_io_error()
                {
                    self.forget();
                }
                Err(Failure::Redis)
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Shutting down in the background never blocks, so the last store
        // may be dropped inside an async task too.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
