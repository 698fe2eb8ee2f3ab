//! Fleet-wide limits kept in Redis (the `redis` feature): the same GCRA
//! decisions as the local engine, decided by one server-side script per
//! call, so every host behind a load balancer enforces one limit.
//!
//! * [`RedisStore`]: the server (or a Redis Cluster), one multiplexed
//!   connection (per node) and the runtime thread driving it, shared by the
//!   limiters built on it; a lone blocking call makes its own round trip.
//!   Through the C ABI an event loop can also own a socket to a standalone
//!   server whose protocol the library speaks (`fg_redis_wire`: see
//!   `wire.rs`), so that its checks make their round trips on its thread.
//! * [`RedisLimiter`]: a token bucket per key; [`RedisLayers`]: several
//!   buckets checked for one request in one script (one per cluster slot),
//!   all charged or none.
//! * [`RedisWindow`]: a sliding window per key; [`RedisInFlight`]: a cap on
//!   the requests per key in flight at once, its permits leases.
//! * [`LeasedLimiter`] and [`LeasedLayers`]: the same buckets, checked
//!   locally from tokens leased ahead of time (see [`lease`]).
//! * [`OnFailure`] and [`StoreCounters`]: what a limiter answers when Redis
//!   does not, and how often that happened.
//! * [`Fleet`]: how many hosts share the limits now, counted by heartbeats
//!   in Redis: what [`OnFailure::Local`] divides a limit by.
//!
//! # What is exact
//!
//! The script reads the server's `TIME` (microseconds), so the hosts'
//! clocks do not enter a decision. It keeps a bucket as its debt and the
//! microsecond of its last write, in units chosen so that every figure is
//! an integer below 2^53 (Lua's numbers are doubles): a unit is
//! `gcd(1000 k, T, L)` ticks for a quota of `k` ticks per ns, `T` ticks per
//! request and a lockout ceiling of `L` ticks. At microsecond-aligned
//! arrival times the decisions, with every field (admitted, limit,
//! remaining, reset, retry-after, can never fit), are those of a
//! [`KeyedLimiter`](crate::KeyedLimiter) with the same quota: the engine's
//! ticks are finer than a microsecond, but the server's clock is not, so
//! nothing finer ever reaches the arithmetic. A quota whose burst and
//! lockout span more than 2^51 units is refused with
//! [`Error::BurstTooLarge`](crate::Error::BurstTooLarge). The engine's own
//! ceiling is 2^59 ticks, so a quota whose unit is 256 ticks or more fits
//! whatever its burst: `per_second(30)`, `per_minute(7)` and `per_day(1)`
//! count in units of 1000 ticks. A period coprime with 1000 ns (1 per
//! 999_999_999 ns) has a unit of one tick, and fits bursts up to 2^21.
//!
//! A bucket's key expires once its debt has drained: an idle key costs
//! Redis nothing. A limit must have its own key prefix, since a bucket is
//! read under the quota of the limiter reading it.
//!
//! # What is exact for windows and in-flight caps
//!
//! A [`RedisWindow`] keeps per key what a local window keeps (the latest
//! window it was given, the counts and their window) and decides, with every
//! field, as a [`KeyedWindows`](crate::KeyedWindows) of the same limit and
//! window does at microsecond arrival times, late timestamps included. Its
//! script counts time in units of `gcd(1000, W)` ns, so any window of at
//! least a microsecond works (a window of more than 2^53 ns must be whole
//! microseconds), and compares the products of counts and times past 2^53
//! exactly. Two differences, both only for rare keys: the local word keeps
//! its window modulo 2^22 windows, so counts left idle that long may deny
//! once, where Redis keeps the window whole; and a Redis key expires when
//! the window after its counts' ends, forgetting its latest window, which
//! only a timestamp behind it (a server clock stepped back) would read.
//!
//! A [`RedisInFlight`] never has more than its limit of unexpired leases
//! out per key: taking, renewing and giving back are each one script. A
//! local cap knows its holders live (by process id); a fleet's hosts are
//! trusted for a lease, so a dead host's permits come back one lease after
//! it last took or renewed them, and a request that outlives its lease
//! unrenewed is counted no more.
//!
//! # Redis Cluster and hash tags
//!
//! [`RedisStore::cluster`] keeps buckets on a Redis Cluster: each call goes
//! to the master of its key's slot, and the `redis` crate's cluster client
//! follows MOVED and ASK when slots move. A slot is CRC16 of the key's
//! hash tag, the bytes between its first `{` and the next `}` (when not
//! empty), else of the whole key, prefix included: `{ws:42}:key:7` and
//! `api:{ws:42}` share a slot. A node that lost the script (a restart, a
//! failover, `SCRIPT FLUSH`) is sent its source once and caches it.
//!
//! [`RedisLayers`] sends all of one request's keys in one slot to one
//! script: every layer admits and is charged, or none is (a denying layer
//! with a lockout is charged its lockout, as locally). Give a request's
//! keys a common hash tag, such as `{ws:42}:key:7` and `{ws:42}`, and a
//! cluster decides them as one server would. Keys in several slots are
//! checked by one script per slot, in parallel, and the slots that
//! admitted are refunded when another refused: still all or none, never
//! admitting beyond a limit, but a count is briefly high between a charge
//! and its refund, when another host may be denied (see [`RedisLayers`]).
//! On a standalone server every layer goes to one script, tagged or not.
//!
//! # What Redis itself can undo
//!
//! A bucket lives only in Redis: a server restarted without persistence,
//! or a failover to a replica the last writes had not reached, forgets it,
//! and the key starts full again (one burst more than the limit, once). A
//! server clock stepped backwards reads as more debt, as the engine reads a
//! timestamp behind its last (capped at 2^52 units: such a bucket denies).
//!
//! # The deny cache
//!
//! A [`RedisLimiter`] remembers, per key, when a denied key fits again and
//! denies it locally until then, without a round trip: exact for GCRA,
//! where that instant only moves later (see `deny_cache.rs`). Layered
//! checks have none: every one is a round trip.
//!
//! # Failures
//!
//! Every call has a deadline (5 ms unless set). A call that misses it or
//! fails is answered by the limiter's [`OnFailure`] and counted; after
//! several failures in a row a circuit breaker answers without trying, and
//! probes Redis every cool-down (250 ms unless set): decisions are exact
//! again within a cool-down and a deadline of Redis returning.
//!
//! [`OnFailure::Local`] fails neither open nor closed but local: each host
//! keeps its share of the limit in process, the rate divided by the fleet's
//! size `N` exactly (the quota's period times `N`) and the burst divided by
//! `N` rounded down (at least 1), per key, in a
//! [`KeyedLimiter`](crate::KeyedLimiter) per limit. `N` is the [`Fleet`]'s
//! last count, kept by a heartbeat every second on the store's runtime
//! thread and read from an atomic, so a degraded decision does no I/O; it
//! lags a host's death by at most about 4 seconds (see [`Fleet`]). A fleet
//! of `N` hosts behind an even load balancer then admits about the limit
//! while Redis is away: a key's traffic all on one host gets only that
//! host's share, and each host's share starts full when an outage begins, or
//! as the last one left it (what Redis had charged is not known locally).
//! A [`RedisWindow`] fails local alike, with the limit divided by `N`
//! (rounded down, at least 1) over the same window; a [`RedisInFlight`]
//! with the cap divided by `N`, its permits taken locally given back
//! locally: Redis does not count them, so once it answers again the fleet
//! may run up to about twice the cap until they end.
//!
//! On a cluster each limiter has a breaker per master, found from the slot
//! map the store learns with `CLUSTER SLOTS` when it connects and after a
//! failure: a dead or stopped master's slots are answered by the failure
//! policy while every other master's keys are still decided exactly. When
//! its replica takes over, the first probe it answers closes the breaker;
//! a master that stopped answering without closing its sockets (stopped,
//! or cut off by a partition that drops packets) gives the cluster client
//! no error to learn the new map from, so the store, seeing the slots
//! moved in its own map, draws a MOVED for it (measured: exact again
//! 2.2 to 3.5 s after a master is killed, 3.4 to 5.9 s after one is
//! stopped, with a node timeout of 1 s).
//! Two settings of the cluster decide how long that takes and whether the
//! other masters keep answering meanwhile: `cluster-node-timeout` (a
//! master is failed over that long after it stops answering, plus an
//! election) and `cluster-require-full-coverage`, which must be `no`:
//! with the default `yes` every node refuses every key while any slot's
//! master is down and not yet replaced.

mod breaker;
mod connection;
mod deny_cache;
mod error;
mod fleet;
mod guard;
mod inflight;
mod layers;
pub mod lease;
mod limiter;
mod local;
mod script;
mod solo;
mod topology;
mod units;
mod window;
#[cfg(feature = "capi")]
pub(crate) mod wire;

pub use breaker::{OnFailure, StoreCounters};
pub use connection::RedisStore;
pub use error::StoreError;
pub use fleet::Fleet;
pub use inflight::{RedisAcquisition, RedisInFlight, RedisInFlightBuilder, RedisPermit};
pub use layers::{RedisLayers, RedisLayersBuilder};
pub use lease::{
    LeaseCounters, LeasedLayers, LeasedLayersBuilder, LeasedLimiter, LeasedLimiterBuilder,
};
pub use limiter::{RedisLimiter, RedisLimiterBuilder};
pub use window::{RedisWindow, RedisWindowBuilder};
#[cfg(feature = "capi")]
pub(crate) use {
    connection::Failure,
    limiter::{Sent, Started},
    script::Op,
};
