//! Fleet-wide limits kept in Redis (the `redis` feature): the same GCRA
//! decisions as the local engine, decided by one server-side script per
//! call, so every host behind a load balancer enforces one limit.
//!
//! * [`RedisStore`]: the server (or a Redis Cluster), one multiplexed
//!   connection (per node) and the runtime thread driving it, shared by the
//!   limiters built on it.
//! * [`RedisLimiter`]: a token bucket per key; [`RedisLayers`]: several
//!   buckets checked for one request in one script (one per cluster slot),
//!   all charged or none.
//! * [`OnFailure`] and [`StoreCounters`]: what a limiter answers when Redis
//!   does not, and how often that happened.
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
mod guard;
mod layers;
mod limiter;
mod script;
mod topology;
mod units;

pub use breaker::{OnFailure, StoreCounters};
pub use connection::RedisStore;
pub use error::StoreError;
pub use layers::{RedisLayers, RedisLayersBuilder};
pub use limiter::{RedisLimiter, RedisLimiterBuilder};
