//! The connection to Redis that every limiter built on one store shares,
//! and the runtime thread that drives it.
//!
//! One multiplexed connection carries every caller's script calls: they are
//! written back to back and the replies matched in order, so many threads
//! pipeline over one socket with no pool and no lock held across a round
//! trip. A connection that broke (server restarted, socket reset) is
//! forgotten and the next call opens another, within its own deadline. A
//! blocking call that finds no other call in flight skips the runtime
//! thread and makes its own round trip on a second, synchronous connection
//! (`solo.rs`).

use crate::core::decision::Decision;
use crate::store::error::StoreError;
use crate::store::fleet::Member;
use crate::store::script::{self, At, Call, Lua, Op};
use crate::store::solo::{Caller, Solo};
use crate::store::topology::{self, Moved, Topology, UNKNOWN};
use crate::store::units::ScriptQuota;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{
    AsyncConnectionConfig, Client, Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture,
    RedisResult, Value,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::runtime::{Handle, Runtime};

/// How long the cluster client waits on one node for a connection or a
/// reply before it retries elsewhere: it refreshes its slot map under a
/// lock every call waits on, so a node that stopped answering must not
/// hold that lock for long. Each call's own deadline still bounds the call.
const CLUSTER_NODE_TIMEOUT: Duration = Duration::from_secs(1);
/// The least time between two refreshes of the store's slot map.
const TOPOLOGY_REFRESH: Duration = Duration::from_secs(1);

/// A Redis server that limiters keep their buckets in: one multiplexed
/// connection and one runtime thread, shared by every limiter built on it
/// (cloning shares them too). A blocking call made while no other call is
/// in flight writes and reads a synchronous connection of the store's on
/// its own thread instead, sparing two thread hand-offs (a standalone
/// server's; a cluster's calls all go through the cluster client). Nothing
/// connects until the first call, so building never waits on the server;
/// a server that is away is the limiters' failure policy's business.
///
/// On Redis Cluster ([`cluster`](Self::cluster)) the connection is the
/// `redis` crate's cluster client: one multiplexed connection per node,
/// each call sent to its keys' slot's master, MOVED and ASK followed.
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
    target: Target,
    gcra: Lua,
    /// The connection once open; the task opening it holds the lock.
    link: Arc<tokio::sync::Mutex<Option<Link>>>,
    /// Which master each slot is on (a cluster's; unused standalone).
    topology: Arc<Topology>,
    /// When the slot map was last asked for.
    refreshed: Mutex<Option<Instant>>,
    /// This store's membership of each fleet it joined, by name (see `fleet.rs`).
    fleets: Mutex<HashMap<String, Weak<Member>>>,
    /// The blocking caller's own round trip, while it is the only call.
    solo: Solo,
    /// Taken only by `Drop`.
    runtime: Option<Runtime>,
}

/// What a store connects to.
#[derive(Clone)]
enum Target {
    Server(Client),
    Cluster(Box<ClusterClient>),
}

/// An open connection to a [`Target`].
#[derive(Clone)]
pub(crate) enum Link {
    Server(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Link::Server(connection) => connection.req_packed_command(cmd),
            Link::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Link::Server(connection) => connection.req_packed_commands(pipeline, offset, count),
            Link::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Link::Server(connection) => connection.get_db(),
            Link::Cluster(connection) => connection.get_db(),
        }
    }
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
        Self::start(Target::Server(client))
    }

    /// A store on the Redis Cluster that `urls` (`redis://host:port/`, any
    /// of its nodes; one that answers is enough) belong to;
    /// [`StoreError::InvalidUrl`] when there are none or one does not
    /// parse. Connects on first use, learning the cluster's slots then.
    ///
    /// A layered check's keys should share a hash tag so that one script
    /// decides them all; a dead master's slots are answered by the failure
    /// policy while the other masters' are still decided (see the
    /// [module docs](crate::store)).
    ///
    /// The cluster client waits at most a second on a node, and sends a
    /// call again when its reply is lost (a dropped connection, no reply
    /// within that second) while its caller still waits: with a deadline
    /// past a second, or a connection dropped after the script ran, a
    /// bucket may be charged twice. That denies more, never admits more.
    ///
    /// ```no_run
    /// use floodgate::store::{RedisLimiter, RedisStore};
    /// use floodgate::Quota;
    ///
    /// let store = RedisStore::cluster(&[
    ///     "redis://10.0.0.1:7000/",
    ///     "redis://10.0.0.2:7000/",
    ///     "redis://10.0.0.3:7000/",
    /// ])?;
    /// let limiter = RedisLimiter::builder(&store, Quota::per_second(30)?).build()?;
    /// assert!(limiter.check("user:42", 1)?.is_admitted());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// ```
    /// use floodgate::store::{RedisStore, StoreError};
    /// assert!(RedisStore::cluster(&["redis://127.0.0.1:1/"]).is_ok()); // nothing connects yet
    /// assert_eq!(RedisStore::cluster::<&str>(&[]).err(), Some(StoreError::InvalidUrl));
    /// assert_eq!(RedisStore::cluster(&["http://x"]).err(), Some(StoreError::InvalidUrl));
    /// ```
    pub fn cluster<U: AsRef<str>>(urls: &[U]) -> Result<Self, StoreError> {
        let client = ClusterClient::builder(urls.iter().map(AsRef::as_ref))
            .connection_timeout(CLUSTER_NODE_TIMEOUT)
            .response_timeout(CLUSTER_NODE_TIMEOUT)
            .build()
            .map_err(|_| StoreError::InvalidUrl)?;
        Self::start(Target::Cluster(Box::new(client)))
    }

    fn start(target: Target) -> Result<Self, StoreError> {
        // One worker: it only moves bytes between callers and the sockets.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("floodgate-redis")
            .enable_all()
            .build()
            .map_err(|_| StoreError::Thread)?;
        let solo = Solo::new(match &target {
            Target::Server(client) => Some(client.clone()),
            Target::Cluster(_) => None,
        });
        Ok(Self {
            inner: Arc::new(Inner {
                solo,
                target,
                gcra: Lua::new(script::SOURCE),
                link: Arc::new(tokio::sync::Mutex::new(None)),
                topology: Arc::new(Topology::new()),
                refreshed: Mutex::new(None),
                fleets: Mutex::new(HashMap::new()),
                runtime: Some(runtime),
            }),
        })
    }

    pub(crate) fn handle(&self) -> &Handle {
        // Present until `Drop`, which no call outlives.
        self.inner
            .runtime
            .as_ref()
            .map(Runtime::handle)
            .expect("the runtime lives as long as the store")
    }

    /// The standalone server's address and settings; `None` on a cluster.
    #[cfg(feature = "capi")]
    pub(crate) fn server(&self) -> Option<&redis::ConnectionInfo> {
        match &self.inner.target {
            Target::Server(client) => Some(client.get_connection_info()),
            Target::Cluster(_) => None,
        }
    }

    /// The GCRA script every limiter of the store sends.
    #[cfg(feature = "capi")]
    pub(crate) fn gcra(&self) -> &Lua {
        &self.inner.gcra
    }

    /// Whether `other` is this store (or a clone of it).
    #[cfg(feature = "capi")]
    pub(crate) fn is(&self, other: &RedisStore) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The fleets this store joined (see `fleet.rs`).
    pub(crate) fn fleets(&self) -> &Mutex<HashMap<String, Weak<Member>>> {
        &self.inner.fleets
    }

    /// Runs `work` to completion on the calling thread, timed by the
    /// store's runtime: what the blocking API is made of. Must not be
    /// called from inside an async runtime (use the `_async` calls there).
    pub(crate) fn block_on<F: Future>(&self, work: F) -> F::Output {
        let _caller = Caller::blocking();
        self.handle().block_on(work)
    }

    /// Runs `work` in the background on the store's runtime: callable from
    /// any thread, inside an async runtime or not, and never waits.
    pub(crate) fn spawn<F: Future<Output = ()> + Send + 'static>(&self, work: F) {
        drop(self.handle().spawn(work));
    }

    /// Which script call `key` may share: on a cluster, the calls of keys
    /// in one slot; on a standalone server, every key goes in one call,
    /// whatever its hash tag.
    pub(crate) fn call_group(&self, key: &[u8]) -> u16 {
        match self.inner.target {
            Target::Server(_) => 0,
            Target::Cluster(_) => topology::slot(key),
        }
    }

    /// The failure domain of `key` (see `topology.rs`): its master's on a
    /// cluster whose map is known, [`UNKNOWN`] otherwise.
    pub(crate) fn domain(&self, key: &[u8]) -> usize {
        match self.inner.target {
            Target::Server(_) => UNKNOWN,
            Target::Cluster(_) => self.inner.topology.domain(topology::slot(key)),
        }
    }

    /// The shared connection, opened if there is none. It is opened by a
    /// task on the store's runtime, which keeps it even when the caller's
    /// deadline ends first, so a slow first connection is not thrown away.
    async fn connection(&self, deadline: Duration) -> Result<Link, RedisError> {
        let mut slot = Arc::clone(&self.inner.link).lock_owned().await;
        if let Some(link) = slot.as_ref() {
            return Ok(link.clone());
        }
        let target = self.inner.target.clone();
        let topology = Arc::clone(&self.inner.topology);
        self.handle()
            .spawn(async move {
                let link = match target {
                    Target::Server(client) => {
                        // Replies are timed by each call's own deadline, not the socket's.
                        let config = AsyncConnectionConfig::new()
                            .set_connection_timeout(Some(deadline))
                            .set_response_timeout(None);
                        Link::Server(
                            client
                                .get_multiplexed_async_connection_with_config(&config)
                                .await?,
                        )
                    }
                    Target::Cluster(client) => {
                        let mut link = Link::Cluster(client.get_async_connection().await?);
                        learn_slots(&mut link, &topology).await;
                        link
                    }
                };
                *slot = Some(link.clone());
                Ok(link)
            })
            .await
            .map_err(|_| RedisError::from(std::io::Error::other("connect task ended")))?
    }

    /// Forgets a standalone connection that failed for good: the next call
    /// opens one. A caller holding the slot is opening one already, so a
    /// busy slot is left alone. A cluster connection repairs itself.
    fn forget(&self) {
        if let Ok(mut slot) = self.inner.link.try_lock() {
            if matches!(*slot, Some(Link::Server(_))) {
                *slot = None;
            }
        }
    }

    /// Asks a cluster for its slot map again, in the background, unless it
    /// was asked within [`TOPOLOGY_REFRESH`]: after a failure the slots may
    /// have moved.
    fn refresh_slots(&self) {
        let Ok(Some(Link::Cluster(connection))) = self.inner.link.try_lock().as_deref().cloned()
        else {
            return;
        };
        {
            let mut refreshed = self
                .inner
                .refreshed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if refreshed.is_some_and(|at| at.elapsed() < TOPOLOGY_REFRESH) {
                return;
            }
            *refreshed = Some(Instant::now());
        }
        let topology = Arc::clone(&self.inner.topology);
        self.handle().spawn(async move {
            let mut link = Link::Cluster(connection);
            if let Some(moved) = learn_slots(&mut link, &topology).await {
                point_to(link, moved).await;
            }
        });
    }

    /// Runs the GCRA script for `keys` within `deadline`.
    pub(crate) async fn run(
        &self,
        keys: &[(&[u8], &ScriptQuota)],
        op: Op,
        at: At,
        deadline: Duration,
    ) -> Result<Vec<Decision>, Failure> {
        let reply: Vec<u64> = self
            .invoke(&self.inner.gcra, &script::call(keys, op, at), deadline)
            .await?;
        Ok(script::decisions(&reply, keys))
    }

    /// Sends `call` of `lua` (any of the store's scripts) and reads its
    /// reply within `deadline`.
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        lua: &Lua,
        call: &Call,
        deadline: Duration,
    ) -> Result<T, Failure> {
        let flight = self.inner.solo.board();
        if let Some(line) = flight.line(self.handle()) {
            return line.run(deadline, |connection| lua.invoke_blocking(connection, call));
        }
        self.within(deadline, async {
            let mut connection = self.connection(deadline).await?;
            lua.invoke(&mut connection, call).await
        })
        .await
    }

    /// Sends `command` within `deadline`.
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        command: &Cmd,
        deadline: Duration,
    ) -> Result<T, Failure> {
        let _flight = self.inner.solo.board();
        self.within(deadline, async {
            let mut connection = self.connection(deadline).await?;
            command.query_async(&mut connection).await
        })
        .await
    }

    /// `call`'s reply, if it came within `deadline`; after a failure a
    /// cluster's slot map is asked for again, since the slots may have moved.
    async fn within<T>(
        &self,
        deadline: Duration,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, Failure> {
        let outcome = match tokio::time::timeout(deadline, call).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Ok(reply)) => return Ok(reply),
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
        };
        self.refresh_slots();
        outcome
    }
}

/// Learns a cluster's slot map from `CLUSTER SLOTS` (any node answers),
/// and a slot that moved since; a failure leaves the map as it was, to be
/// asked again after the next.
async fn learn_slots(link: &mut Link, topology: &Topology) -> Option<Moved> {
    let reply = tokio::time::timeout(
        CLUSTER_NODE_TIMEOUT,
        redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async::<Value>(link),
    )
    .await;
    topology.learn(&reply.ok()?.ok()?)
}

/// Makes the cluster client learn that a slot moved. It learns the map
/// again on MOVED and on a broken connection, but not when a master stops
/// answering (SIGSTOP, a partition that drops packets) and its replica
/// takes over: it would send that master's slots to it until it answered
/// again. Asking a master that does not serve the slot for one of its keys
/// draws the MOVED. The client's refresh holds every call while it asks a
/// node for the map, at most [`CLUSTER_NODE_TIMEOUT`] if it asks the
/// stopped one first.
async fn point_to(link: Link, moved: Moved) {
    let (Link::Cluster(mut connection), Some(key)) = (link, topology::key_in(moved.slot)) else {
        return;
    };
    let (host, port) = moved.elsewhere;
    let mut exists = redis::cmd("EXISTS");
    exists.arg(key);
    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
    // The answer does not matter, only the MOVED on the way.
    let _ = tokio::time::timeout(
        2 * CLUSTER_NODE_TIMEOUT,
        connection.route_command(exists, routing),
    )
    .await;
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
