//! `fg_redis_store`, `fg_redis_limiter`, `fg_redis_layers`,
//! `fg_redis_window` and `fg_redis_inflight` (with `fg_redis_permit`):
//! fleet-wide limits kept in Redis (the Rust `store` module), behind
//! opaque handles.
//!
//! The functions exist in every build of the library, so the header and the
//! symbol list do not depend on the `redis` feature: a binding loads the
//! same functions from any build, and a library built without the feature
//! answers `fg_redis_store_open` with `FG_STATUS_STORE_UNAVAILABLE` (no
//! other function can then get a handle to act on). Guarding the
//! declarations with a macro instead would make one header describe two
//! ABIs, and a program linked against the wrong one fail to load rather
//! than report why.

use super::args::{self, Out, VersionedOut};
use super::decision::{answer, builtin_scope, scope_c_name, scope_code, FgDecision};
use super::handle;
use super::policy::{FgLayerKey, FgVerdict, FG_LAYER_KEY_BYTES};
use super::quota::FgQuota;
use super::status::{guard, Failure, FgStatus};
use crate::core::error::Error;
use crate::policy::{Verdict, MAX_LAYERS};
use std::ffi::c_char;
use std::time::Duration;

#[cfg(feature = "redis")]
use crate::store::{
    OnFailure, RedisAcquisition, RedisInFlight, RedisInFlightBuilder, RedisLayers,
    RedisLayersBuilder, RedisLimiter, RedisLimiterBuilder, RedisPermit, RedisStore, RedisWindow,
    RedisWindowBuilder, StoreCounters,
};
#[cfg(not(feature = "redis"))]
use absent::{
    acquire, counters_of, inflight_counters_of, layers_counters_of, window_counters_of, OnFailure,
    RedisInFlight, RedisInFlightBuilder, RedisLayers, RedisLayersBuilder, RedisLimiter,
    RedisLimiterBuilder, RedisPermit, RedisStore, RedisWindow, RedisWindowBuilder,
};

/// A Redis server that limiters keep their buckets in: one multiplexed
/// connection and one runtime thread, shared by every limiter made on it.
/// Opening never waits on the server (it connects on first use). Create with
/// `fg_redis_store_open`, release with `fg_redis_store_free`; the limiters
/// made on it keep it alive after that. A store and its limiters belong to
/// the process that opened it: its runtime thread does not exist in a
/// child forked later, which opens its own (and makes its own limiters).
pub struct FgRedisStore {
    _opaque: [u8; 0],
}

/// A GCRA bucket per byte key, decided in Redis by one script per call with
/// the server's clock, so every process and host using the same server and
/// prefix enforces one limit. Its decisions are an `fg_keyed_limiter`'s for
/// the same quota. Create with `fg_redis_limiter_new`, release with
/// `fg_redis_limiter_free`.
pub struct FgRedisLimiter {
    _opaque: [u8; 0],
}

/// Several limits kept in Redis and checked for one request by one script:
/// every layer admits and is charged, or none is. Create with
/// `fg_redis_layers_new`, release with `fg_redis_layers_free`.
pub struct FgRedisLayers {
    _opaque: [u8; 0],
}

/// A sliding window per byte key kept in Redis, decided by one script per
/// call with the server's clock: every process and host using the same
/// server and prefix counts each key in one window. Its decisions are an
/// `fg_keyed_window`'s for the same limit and window. Create with
/// `fg_redis_window_new`, release with `fg_redis_window_free`.
pub struct FgRedisWindow {
    _opaque: [u8; 0],
}

/// A cap on the requests per byte key in flight at once, kept in Redis: no
/// more than its limit of unexpired leases are out per key across every
/// process and host using the same server and prefix. Create with
/// `fg_redis_inflight_new`, release with `fg_redis_inflight_free`.
pub struct FgRedisInFlight {
    _opaque: [u8; 0],
}

/// A unit of an `fg_redis_inflight` cap, leased: give it back with
/// `fg_redis_permit_release` when the request ends (or
/// `fg_redis_permit_free`, which gives it back best effort), renew it with
/// `fg_redis_permit_renew` while a request outlasts the lease. A permit
/// keeps its cap alive; use it from one thread at a time.
pub struct FgRedisPermit {
    _opaque: [u8; 0],
}

/// What `fg_redis_inflight_acquire` answers. Output only; the layout is
/// fixed for ABI major version 1.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FgRedisAcquisition {
    /// Whether a permit was taken (false: the cap was full; not an error).
    pub acquired: bool,
    /// Permits of the key out just after this call (this one included when
    /// taken), fleet-wide when Redis answered.
    pub in_flight: u64,
    /// The cap.
    pub limit: u64,
    /// The server microsecond the permit's lease ends at; 0 when no lease
    /// was taken (refused, or granted by `on_failure` while Redis gave no
    /// answer).
    pub lease_end_us: u64,
}

/// `fg_redis_config.on_failure`: when Redis gives no answer within the
/// deadline (or the breaker is open), admit the request.
pub const FG_ON_FAILURE_OPEN: u32 = 0;
/// `fg_redis_config.on_failure`: when Redis gives no answer, deny the
/// request, with the breaker's cool-down as its retry-after.
pub const FG_ON_FAILURE_CLOSED: u32 = 1;
/// `fg_redis_config.on_failure`: when Redis gives no answer, decide in this
/// process by its share of the limit: with `N` hosts in the store's fleet
/// (counted by heartbeats in Redis, 1 until one answers), each key gets the
/// rate divided by `N` and the burst divided by `N` (at least 1), so the
/// fleet together stays near the limit while Redis is away
/// (`fg_store_counters.local_admitted` and `local_denied` count them).
pub const FG_ON_FAILURE_LOCAL: u32 = 2;

/// How a Redis limiter reaches Redis; every field left 0 (or NULL) keeps its
/// default:
///
/// ```c
/// fg_redis_config config = { .struct_size = sizeof(fg_redis_config),
///                            .prefix = "api:", .prefix_len = 4,
///                            .deadline_ns = 3000000,
///                            .on_failure = FG_ON_FAILURE_CLOSED };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgRedisConfig {
    /// `sizeof(fg_redis_config)` as the caller compiled it.
    pub struct_size: usize,
    /// What every bucket's Redis key starts with (bytes, no NUL needed);
    /// NULL for `"floodgate:"`. Limits with different quotas need different
    /// prefixes: a bucket is read under the quota of whoever reads it.
    pub prefix: *const c_char,
    /// The length of `prefix` in bytes.
    pub prefix_len: usize,
    /// How long a call may wait for Redis, connecting included; 0 for 5 ms.
    pub deadline_ns: u64,
    /// `FG_ON_FAILURE_OPEN` (0, the default), `FG_ON_FAILURE_CLOSED` or
    /// `FG_ON_FAILURE_LOCAL`.
    pub on_failure: u32,
    /// The circuit breaker opens after this many failures in a row; 0 for 5.
    pub breaker_failures: u32,
    /// An open breaker lets one call probe Redis after this long; 0 for 250 ms.
    pub breaker_cool_down_ns: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, integers and raw pointers only.
unsafe impl args::Versioned for FgRedisConfig {
    const MIN_SIZE: usize = std::mem::size_of::<FgRedisConfig>();
}

/// One layer of an `fg_redis_layers`:
///
/// ```c
/// fg_quota per_key = { .struct_size = sizeof(fg_quota), .count = 30,
///                      .period_ns = 1000000000, .burst = 60 };
/// fg_redis_layer layer = { .struct_size = sizeof(fg_redis_layer),
///                          .scope = FG_SCOPE_KEY, .prefix = "k:", .prefix_len = 2,
///                          .quota = &per_key };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgRedisLayer {
    /// `sizeof(fg_redis_layer)` as the caller compiled it.
    pub struct_size: usize,
    /// The layer's scope, `FG_SCOPE_KEY` ... `FG_SCOPE_TOKEN`: what a
    /// verdict names.
    pub scope: u32,
    /// What the layer's buckets' Redis keys start with (bytes, no NUL
    /// needed); each layer needs its own.
    pub prefix: *const c_char,
    /// The length of `prefix` in bytes.
    pub prefix_len: usize,
    /// The layer's quota.
    pub quota: *const FgQuota,
}

// SAFETY: repr(C), starts with `struct_size: usize`, integers and raw pointers only.
unsafe impl args::Versioned for FgRedisLayer {
    const MIN_SIZE: usize = std::mem::size_of::<FgRedisLayer>();
}

/// A Redis limiter's counts so far, for monitoring. Set `struct_size`
/// before the call; later versions may add fields (a caller built against
/// ABI 1.9, without the `local_*` fields, still gets the others).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct FgStoreCounters {
    /// `sizeof(fg_store_counters)` as the caller compiled it.
    pub struct_size: usize,
    /// Decisions Redis made.
    pub exact: u64,
    /// Denials the local deny cache answered without a round trip.
    pub cached: u64,
    /// Requests admitted by `FG_ON_FAILURE_OPEN` without Redis deciding.
    pub failed_open: u64,
    /// Requests denied by `FG_ON_FAILURE_CLOSED` without Redis deciding.
    pub failed_closed: u64,
    /// Calls that reached their deadline.
    pub timeouts: u64,
    /// Calls that failed with an error (connection refused or dropped, a
    /// server error).
    pub errors: u64,
    /// Degraded decisions given without trying Redis, the breaker being open.
    pub skipped: u64,
    /// Times the breaker opened.
    pub breaker_opened: u64,
    /// Requests `FG_ON_FAILURE_LOCAL` admitted by this process's share (ABI 1.10).
    pub local_admitted: u64,
    /// Requests `FG_ON_FAILURE_LOCAL` refused by this process's share (ABI 1.10).
    pub local_denied: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, plain integers only.
unsafe impl args::Versioned for FgStoreCounters {
    // ABI 1.9's struct ended before the `local_*` counts.
    const MIN_SIZE: usize = std::mem::offset_of!(FgStoreCounters, local_admitted);
}

/// A limiter's counters as C reads them.
#[cfg(feature = "redis")]
fn counters_of(limiter: &RedisLimiter) -> FgStoreCounters {
    FgStoreCounters::from(limiter.counters())
}

/// Layers' counters as C reads them.
#[cfg(feature = "redis")]
fn layers_counters_of(layers: &RedisLayers) -> FgStoreCounters {
    FgStoreCounters::from(layers.counters())
}

/// A cap's counters as C reads them.
#[cfg(feature = "redis")]
fn inflight_counters_of(caps: &RedisInFlight) -> FgStoreCounters {
    FgStoreCounters::from(caps.counters())
}

/// Windows' counters as C reads them.
#[cfg(feature = "redis")]
fn window_counters_of(windows: &RedisWindow) -> FgStoreCounters {
    FgStoreCounters::from(windows.counters())
}

#[cfg(feature = "redis")]
impl From<StoreCounters> for FgStoreCounters {
    fn from(counters: StoreCounters) -> Self {
        Self {
            struct_size: std::mem::size_of::<Self>(),
            exact: counters.exact,
            cached: counters.cached,
            failed_open: counters.failed_open,
            failed_closed: counters.failed_closed,
            timeouts: counters.timeouts,
            errors: counters.errors,
            skipped: counters.skipped,
            breaker_opened: counters.breaker_opened,
            local_admitted: counters.local_admitted,
            local_denied: counters.local_denied,
        }
    }
}

/// Opens a store on the server at `url` (`redis://host:port/db`,
/// `redis+unix:///path`; UTF-8, no NUL needed) and stores its handle in
/// `*out`. Nothing connects yet: a server that is away is each limiter's
/// `on_failure` to answer. On failure `*out` is set to NULL.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_INVALID_UTF8`,
/// `FG_STATUS_INVALID_STORE_URL`, `FG_STATUS_STORE_THREAD`,
/// `FG_STATUS_STORE_UNAVAILABLE` (a library built without Redis support),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `url` must be NULL or readable for `url_len` bytes; `out` NULL or
/// writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_store_open(
    url: *const c_char,
    url_len: usize,
    out: *mut *mut FgRedisStore,
) -> FgStatus {
    let make = || {
        if url.is_null() {
            return Err(Failure::new(
                FgStatus::NullPointer,
                "`url` is NULL".to_string(),
            ));
        }
        // SAFETY: readable for url_len bytes, by the contract.
        let url = unsafe { args::text(url.cast(), url_len, "url") }?;
        Ok(handle::boxed(RedisStore::open(url)?).cast::<FgRedisStore>())
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_redis_store_open", out, make) }
}

/// The most URLs `fg_redis_store_open_cluster` reads: a guard against a
/// count that is not one (a cluster needs only one node that answers).
pub const FG_MAX_CLUSTER_URLS: usize = 1024;

/// Opens a store on the Redis Cluster whose nodes include `urls[0]` ...
/// `urls[count - 1]` (NUL-terminated `redis://host:port/` strings, UTF-8;
/// any of its nodes, one that answers is enough) and stores its handle in
/// `*out`. Nothing connects yet: the cluster's slots are learned on first
/// use, and each call goes to the master of its key's slot. On failure
/// `*out` is set to NULL.
///
/// ```c
/// const char *nodes[] = { "redis://10.0.0.1:7000/", "redis://10.0.0.2:7000/" };
/// fg_redis_store *store;
/// if (fg_redis_store_open_cluster(nodes, 2, &store) != FG_STATUS_OK) abort();
/// ```
///
/// Errors: `FG_STATUS_NULL_POINTER` (`urls` or one of its strings NULL),
/// `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_INVALID_LENGTH` (`count` 0 or
/// above `FG_MAX_CLUSTER_URLS`), `FG_STATUS_INVALID_UTF8`,
/// `FG_STATUS_INVALID_STORE_URL`, `FG_STATUS_STORE_THREAD`,
/// `FG_STATUS_STORE_UNAVAILABLE` (a library built without Redis support),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `urls` must be NULL or readable for `count` pointers, each NULL or a
/// NUL-terminated string; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_store_open_cluster(
    urls: *const *const c_char,
    count: usize,
    out: *mut *mut FgRedisStore,
) -> FgStatus {
    let make = || {
        // SAFETY: NULL or readable, by the contract; this checks NULL and alignment.
        let first = unsafe { args::handle(urls, "urls") }?;
        if count == 0 || count > FG_MAX_CLUSTER_URLS {
            return Err(Failure::new(
                FgStatus::InvalidLength,
                format!("`count` is {count}; a cluster takes 1 to {FG_MAX_CLUSTER_URLS} URLs"),
            ));
        }
        // SAFETY: readable for `count` pointers starting at `first`, by the contract.
        let given = unsafe { std::slice::from_raw_parts(first as *const *const c_char, count) };
        let urls = given
            .iter()
            .map(|&url| {
                if url.is_null() {
                    return Err(Failure::new(
                        FgStatus::NullPointer,
                        "`urls[]` has a NULL".to_string(),
                    ));
                }
                // SAFETY: non-NULL and NUL-terminated, by the contract.
                let bytes = unsafe { std::ffi::CStr::from_ptr(url) }.to_bytes();
                std::str::from_utf8(bytes).map_err(|_| {
                    Failure::new(
                        FgStatus::InvalidUtf8,
                        "`urls[]` has a string that is not UTF-8".to_string(),
                    )
                })
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        Ok(handle::boxed(RedisStore::cluster(&urls)?).cast::<FgRedisStore>())
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_redis_store_open_cluster", out, make) }
}

/// Releases a store (from `fg_redis_store_open` or
/// `fg_redis_store_open_cluster`). NULL is a no-op. Limiters made on it keep the
/// connection until they are freed; the last one closes it.
///
/// # Safety
/// `store` must be NULL or a handle from `fg_redis_store_open` not yet
/// freed, with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_store_free(store: *mut FgRedisStore) {
    // SAFETY: a live handle is a boxed RedisStore (fg_redis_store_open);
    // the rest is this function's contract.
    unsafe {
        handle::free(
            "fg_redis_store_free",
            store.cast::<RedisStore>(),
            handle::unbox,
        )
    }
}

/// What `fg_redis_config` asks of any Redis handle besides the prefix:
/// `None` keeps the builder's default.
struct Settings {
    on_failure: OnFailure,
    deadline: Option<Duration>,
    breaker: Option<(u32, Duration)>,
}

/// `config->on_failure` of `fg_redis_config` and `fg_lease_config`: an
/// `FG_ON_FAILURE_*` constant.
pub(super) fn on_failure(code: u32) -> Result<OnFailure, Failure> {
    match code {
        FG_ON_FAILURE_OPEN => Ok(OnFailure::Open),
        FG_ON_FAILURE_CLOSED => Ok(OnFailure::Closed),
        FG_ON_FAILURE_LOCAL => Ok(OnFailure::Local),
        other => Err(args::unknown_constant("config->on_failure", other)),
    }
}

impl Settings {
    fn read(config: &FgRedisConfig) -> Result<Self, Failure> {
        let on_failure = on_failure(config.on_failure)?;
        let breaker = match (config.breaker_failures, config.breaker_cool_down_ns) {
            (0, 0) => None,
            (0, _) | (_, 0) => {
                return Err(Failure::new(
                    FgStatus::InvalidArgument,
                    "`config->breaker_failures` and `config->breaker_cool_down_ns` are set \
                     together (both 0 keeps the defaults)"
                        .to_string(),
                ))
            }
            (failures, cool_down_ns) => Some((failures, Duration::from_nanos(cool_down_ns))),
        };
        Ok(Self {
            on_failure,
            deadline: (config.deadline_ns != 0).then(|| Duration::from_nanos(config.deadline_ns)),
            breaker,
        })
    }
}

/// The failure settings of every Redis kind's builder: one reading of
/// `fg_redis_config` for all of them.
trait Configurable: Sized {
    fn on_failure(self, on_failure: OnFailure) -> Self;
    fn deadline(self, deadline: Duration) -> Self;
    fn breaker(self, failures: u32, cool_down: Duration) -> Self;
}

macro_rules! configurable {
    ($($builder:ty),*) => {$(
        impl Configurable for $builder {
            fn on_failure(self, on_failure: OnFailure) -> Self {
                <$builder>::on_failure(self, on_failure)
            }

            fn deadline(self, deadline: Duration) -> Self {
                <$builder>::deadline(self, deadline)
            }

            fn breaker(self, failures: u32, cool_down: Duration) -> Self {
                <$builder>::breaker(self, failures, cool_down)
            }
        }
    )*};
}

#[cfg(feature = "redis")]
configurable!(
    RedisLimiterBuilder,
    RedisLayersBuilder,
    RedisWindowBuilder,
    RedisInFlightBuilder
);
#[cfg(not(feature = "redis"))]
configurable!(
    RedisLimiterBuilder<'_>,
    RedisLayersBuilder<'_>,
    RedisWindowBuilder<'_>,
    RedisInFlightBuilder<'_>
);

impl Settings {
    /// `builder` with these settings (the defaults for those left 0).
    fn apply<B: Configurable>(self, builder: B) -> B {
        let mut builder = builder.on_failure(self.on_failure);
        if let Some(deadline) = self.deadline {
            builder = builder.deadline(deadline);
        }
        if let Some((failures, cool_down)) = self.breaker {
            builder = builder.breaker(failures, cool_down);
        }
        builder
    }
}

/// `config->prefix`, or None for the kind's default.
///
/// # Safety
/// `config->prefix` NULL or readable for `prefix_len` bytes.
unsafe fn prefix(config: &FgRedisConfig) -> Result<Option<&[u8]>, Failure> {
    // SAFETY: this function's contract.
    unsafe { config_prefix(config.prefix, config.prefix_len) }
}

/// The `prefix` and `prefix_len` of `fg_redis_config` or `fg_lease_config`,
/// or None (NULL) for the kind's default.
///
/// # Safety
/// `prefix` NULL or readable for `prefix_len` bytes.
pub(super) unsafe fn config_prefix<'a>(
    prefix: *const c_char,
    prefix_len: usize,
) -> Result<Option<&'a [u8]>, Failure> {
    if prefix.is_null() {
        return Ok(None);
    }
    // SAFETY: readable for prefix_len bytes, by the contract.
    unsafe { args::bytes(prefix.cast(), prefix_len, "config->prefix") }.map(Some)
}

/// The body of every constructor on a store: checks `store` and reads
/// `config` before `build` makes what is kept, boxed as the handle `H` in
/// `*out`.
///
/// # Safety
/// `store` NULL or a live handle of a boxed `S` (`fg_redis_store_open`'s);
/// `config` NULL or readable for its `struct_size`; `out` NULL or writable
/// for a pointer.
pub(in crate::ffi) unsafe fn build_on_store<S, C: args::Versioned, T, H>(
    function: &'static str,
    store: *const FgRedisStore,
    config: *const C,
    out: *mut *mut H,
    build: impl FnOnce(&S, &C) -> Result<T, Failure>,
) -> FgStatus {
    let make = || {
        // SAFETY: a live handle is a boxed S, by the contract.
        let store = unsafe { args::handle(store.cast::<S>(), "store") }?;
        // SAFETY: readable for its struct_size, by the contract.
        let config = unsafe { args::read_config(config, "config") }?;
        Ok(handle::boxed(build(store, &config)?).cast::<H>())
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create(function, out, make) }
}

/// The body of every call that answers one key's decision: checks the
/// handle (`H`, the boxed `T` behind it), `out` and the key before
/// `operation` sends anything.
///
/// # Safety
/// `handle` NULL or a live handle of a boxed `T`; `key` NULL or readable
/// for `key_len` bytes; `out` NULL or writable for an `fg_decision`.
pub(super) unsafe fn decide<H, T>(
    function: &'static str,
    handle: *const H,
    name: &'static str,
    key: *const u8,
    key_len: usize,
    out: *mut FgDecision,
    operation: impl FnOnce(&T, &[u8]) -> crate::Result<crate::Decision>,
) -> FgStatus {
    // SAFETY: a live handle is a boxed T; the rest is `answer`'s contract.
    unsafe {
        answer(function, handle.cast::<T>(), name, out, |kept| {
            // Inside the unsafe block above: `key` is readable for
            // `key_len` bytes, by the contract.
            let key = args::bytes(key, key_len, "key")?;
            Ok(operation(kept, key)?)
        })
    }
}

#[cfg(not(feature = "redis"))]
mod absent;
mod inflight;
mod layers;
mod limiter;
mod window;
mod wire;

pub use inflight::*;
pub use layers::*;
pub use limiter::*;
pub use window::*;
pub use wire::*;

/// The tests' own redis-server (as the Redis store's integration tests start it).
#[cfg(all(test, feature = "redis"))]
#[path = "../../../tests/redis_common/mod.rs"]
pub(super) mod redis_common;

#[cfg(test)]
pub(super) mod tests;
