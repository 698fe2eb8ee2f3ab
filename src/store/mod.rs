//! Fleet-wide limits kept in Redis (the `redis` feature): the same GCRA
//! decisions as the local engine, decided by one server-side script per
//! call, so every host behind a load balancer enforces one limit.
//!
//! * [`RedisStore`]: the server, one multiplexed connection and the runtime
//!   thread driving it, shared by the limiters built on it.
//! * [`RedisLimiter`]: a token bucket per key; [`RedisLayers`]: several
//!   buckets checked for one request in one script, all charged or none.
//! * [`LeasedLimiter`] and [`LeasedLayers`]: the same buckets, checked
//!   locally from tokens leased ahead of time (see [`lease`]).
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
//! # Layered checks and hash tags
//!
//! [`RedisLayers`] sends all of one request's keys to one script: every
//! layer admits and is charged, or none is (a denying layer with a lockout
//! is charged its lockout, as locally). On Redis Cluster the keys of one
//! call must live in one slot: give them a common hash tag, such as
//! `{ws:42}:key:7` and `{ws:42}:workspace`.
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

mod breaker;
mod connection;
mod deny_cache;
mod error;
mod guard;
mod layers;
pub mod lease;
mod limiter;
mod script;
mod units;

pub use breaker::{OnFailure, StoreCounters};
pub use connection::RedisStore;
pub use error::StoreError;
pub use layers::{RedisLayers, RedisLayersBuilder};
pub use lease::{
    LeaseCounters, LeasedLayers, LeasedLayersBuilder, LeasedLimiter, LeasedLimiterBuilder,
};
pub use limiter::{RedisLimiter, RedisLimiterBuilder};
