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
//! let limiter = Limiter::new(Quota::per_second(30)?.with_burst(60)?);
//! let decision = limiter.check(1);
//! match decision.outcome() {
//!     Outcome::Admitted => { /* serve; decision.remaining() goes in X-RateLimit-Remaining */ }
//!     Outcome::Denied => { /* 429 with Retry-After: decision.retry_after() */ }
//!     _ => { /* the cost exceeds the burst: it can never fit */ }
//! }
//! # Ok::<(), floodgate::Error>(())
//! ```

/// The README's examples run as doctests too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod core;
#[cfg(feature = "capi")]
#[doc(hidden)] // The C ABI, documented in include/floodgate.h; see src/ffi/mod.rs.
pub mod ffi;
mod http;
mod inflight;
mod keyed;
mod limiter;
mod map;
mod policy;
mod sync;
mod window;

pub use crate::core::clock::{Clock, ManualClock, MonotonicClock};
pub use crate::core::decision::{Decision, Outcome, WARNING_ZONE_PERCENT};
pub use crate::core::error::{Error, Result};
pub use crate::core::quota::{Quota, MAX_RATE_ERROR_PPM, MAX_TICKS_PER_NS};
pub use http::{
    parse_retry_after, ErrorBody, Headers, Jitter, RateLimitPolicy, RenderedHeaders, Retry,
    RetryAfterFormat, RetryPolicy, Scope,
};
pub use inflight::keyed::KeyedInFlight;
pub use inflight::{AtCapacity, InFlight, Permit, PermitToken, MAX_IN_FLIGHT};
pub use keyed::{
    FullTable, Key, KeyedLimiter, KeyedLimiterBuilder, MAX_KEYED_CAPACITY, MAX_KEY_LEN,
};
pub use limiter::Limiter;
pub use map::MAX_KEYED_CELLS;
pub use policy::plans::{Plans, PlansBuilder, TierId, TierLimits};
pub use policy::suspensions::Suspensions;
pub use policy::{
    Layer, LayerCounters, LayerKey, LayerKeyKind, Policy, PolicyBuilder, PolicyCounters, Verdict,
    MAX_LAYERS,
};
pub use window::keyed::KeyedWindows;
pub use window::{SlidingWindow, MAX_WINDOW, MAX_WINDOW_LIMIT};
