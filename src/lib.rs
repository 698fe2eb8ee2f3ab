//! # floodgate
//!
//! A lock-free rate-limiting engine. Each token bucket is GCRA state (its
//! theoretical arrival time) packed into one atomic word and updated by
//! compare-and-swap: no mutex on the check path, no allocation, exact integer
//! arithmetic, from any number of threads.
//!
//! ```
//! use floodgate::{Limiter, Outcome, Quota};
//!
//! let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?).build();
//! let decision = limiter.check(1);
//! match decision.outcome() {
//!     Outcome::Admitted => { /* serve; decision.remaining() goes in X-RateLimit-Remaining */ }
//!     Outcome::Denied => { /* 429 with Retry-After: decision.retry_after() */ }
//!     _ => { /* the cost exceeds the burst: it can never fit */ }
//! }
//! # Ok::<(), floodgate::Error>(())
//! ```
//!
//! # Where to start reading
//!
//! Start with [`Quota`] and [`Limiter`]: one bucket, its compare-and-swap
//! loop in `src/limiter.rs`, the arithmetic it applies in `src/core/gcra.rs`
//! and the word it applies it to in `src/core/state.rs`. Every other kind
//! reuses that word and that arithmetic; [`KeyedLimiter`] is the one with a
//! protocol of its own (`src/keyed/table.rs`).
//!
//! # Module map
//!
//! | folder | what a reader finds there | public types |
//! |---|---|---|
//! | `core/` | the quota and its exact ticks, the packed state word, GCRA on that word, the ring of quotas that makes reconfiguration race-free, the decision, clocks, errors | [`Quota`], [`Decision`], [`Outcome`], [`Clock`], [`MonotonicClock`], [`ManualClock`], [`Error`] |
//! | `limiter.rs` | one bucket and its CAS loop | [`Limiter`] |
//! | `keyed/` | a bucket per key: the fixed lock-free table, key fingerprints, per-key quotas | [`KeyedLimiter`], [`Key`] |
//! | `map/` | the insert-only lock-free map that keyed windows, keyed in-flight caps and suspensions keep their cells in | |
//! | `window/` | the sliding-window counter in one word, alone or per key | [`SlidingWindow`], [`KeyedWindows`] |
//! | `inflight/` | caps on requests running at once, alone or per key | [`InFlight`], [`KeyedInFlight`], [`Permit`] |
//! | `policy/` | layered checks (a denial charges no layer), plan tiers, suspensions | [`Policy`], [`Plans`], [`Suspensions`] |
//! | `http/` | header fields and 429 bodies rendered from a decision; the client's retry helper | [`Headers`], [`ErrorBody`], [`RetryPolicy`] |
//! | `presets/` | the seed providers' policies, built from the public API above | [`presets`] |
//! | `shm/` | shared mode: a segment's header, creating and opening it, process liveness, the machine's clock calibration | [`SharedMemory`] |
//! | `store/` | fleet-wide limits in Redis behind the `redis` feature: the script, its exact units, the deny cache, the failure policy; leases that check them locally | `store::RedisLimiter`, `store::RedisLayers`, `store::LeasedLimiter`, `store::LeasedLayers` |
//! | `ffi/` | the C ABI behind the `capi` feature (`include/floodgate.h`) | |
//! | `sync.rs` | the atomics shim: `std` normally, loom under `cfg(loom)` | |
//!
//! # Building
//!
//! Every kind is built one way, and only this way:
//! `Kind::builder(required settings)`, then optional settings as chained
//! methods, `.clock(c)` for a clock other than the default
//! [`MonotonicClock`] (kinds that read no clock, [`InFlight`] and
//! [`KeyedInFlight`], have none), then `.build()`, which returns a
//! [`Result`] whenever a setting can be refused ([`Limiter`]'s cannot).
//! Keyed kinds name their key type: `KeyedLimiter::<u64>::builder(quota)`;
//! they may name a clock type too, `KeyedLimiter::<str, ManualClock>::builder(quota)`,
//! and then start with that type's default clock. Every kind's builder also
//! takes `.shared(`[`SharedMemory`]`)`: its state then lives in a segment
//! that every worker process of the host maps, so one limit holds across
//! them (README, "Several worker processes").
//!
//! ```
//! use floodgate::{KeyedLimiter, Limiter, ManualClock, Quota};
//!
//! let one = Limiter::builder(Quota::per_second(30)?).build();
//! let per_key = KeyedLimiter::<u64>::builder(Quota::per_second(30)?).capacity(10_000).build()?;
//! let testing = KeyedLimiter::<str>::builder(Quota::per_second(30)?)
//!     .clock(ManualClock::new())
//!     .build()?;
//! # Ok::<(), floodgate::Error>(())
//! ```
//!
//! Keyed calls share one answer shape, described at [`Key`]: a refusal is
//! data in the answer, and `Err(`[`Error`]`)` means the call changed nothing.

/// The README's examples run as doctests too (with the `redis` feature its
/// Redis example needs; the test command enables every feature).
#[cfg(all(doctest, feature = "redis"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod core;
#[cfg(feature = "capi")]
#[doc(hidden)] // The C ABI, documented in include/floodgate.h; see src/ffi/mod.rs.
pub mod ffi;

// The Redis tests' shared helpers (tests/redis_common), which the C ABI's
// own tests include, name the crate as an integration test does.
#[cfg(all(test, feature = "capi", feature = "redis"))]
extern crate self as floodgate;
mod http;
mod inflight;
mod keyed;
mod limiter;
mod map;
mod policy;
pub mod presets;
mod shm;
#[cfg(feature = "redis")]
pub mod store;
mod sync;
mod window;

/// The local lease bucket and the refill queue alone, for
/// `tests/loom_lease.rs`: the `redis` feature's runtime does not build
/// under loom, and neither needs it.
#[cfg(all(loom, not(feature = "redis")))]
#[doc(hidden)]
#[path = "store/lease/bucket.rs"]
pub mod lease_bucket;
#[cfg(all(loom, not(feature = "redis")))]
#[doc(hidden)]
#[path = "store/lease/queue.rs"]
pub mod lease_queue;

// The engine: quotas, decisions, clocks, errors.
pub use crate::core::clock::{Clock, ManualClock, MonotonicClock};
pub use crate::core::decision::{Decision, Outcome};
pub use crate::core::error::{Error, Result, SegmentMismatch, SegmentStep};
pub use crate::core::quota::{Quota, MAX_RATE_ERROR_PPM, MAX_TICKS_PER_NS};

// Token buckets: one, or one per key.
pub use keyed::{
    FullTable, Key, KeyedLimiter, KeyedLimiterBuilder, MAX_KEYED_CAPACITY, MAX_KEY_LEN,
};
pub use limiter::{Limiter, LimiterBuilder, SharedLimiterBuilder};
pub use map::MAX_KEYED_CELLS;

// Shared mode: limits kept in a segment every worker process maps.
pub use shm::SharedMemory;

// Sliding windows: one, or one per key.
pub use window::keyed::{KeyedWindows, KeyedWindowsBuilder};
pub use window::{SlidingWindow, SlidingWindowBuilder, MAX_WINDOW, MAX_WINDOW_LIMIT};

// Concurrency caps: permits for requests in flight, one cap or one per key.
pub use inflight::keyed::{KeyedInFlight, KeyedInFlightBuilder};
pub use inflight::{
    Acquisition, AtCapacity, InFlight, InFlightBuilder, Permit, PermitToken, SharedInFlightBuilder,
    MAX_IN_FLIGHT,
};

// Policies: layered checks, plan tiers, suspensions.
pub use policy::plans::{Plans, PlansBuilder, TierId, TierLimits};
pub use policy::suspensions::{Suspensions, SuspensionsBuilder};
pub use policy::{
    Layer, LayerCounters, LayerKey, LayerKeyKind, Policy, PolicyBuilder, PolicyCounters, Verdict,
    MAX_LAYERS,
};

// The HTTP edge: response fields, 429 bodies, and the client's retries.
pub use http::{
    parse_retry_after, ErrorBody, Headers, Jitter, LimitFigure, RateLimitPolicy, RenderedHeaders,
    Retry, RetryAfterFormat, RetryPolicy, Scope,
};
