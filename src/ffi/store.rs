//! `fg_redis_store`, `fg_redis_limiter` and `fg_redis_layers`: fleet-wide
//! limits kept in Redis (the Rust `store` module), behind opaque handles.
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
use crate::store::{OnFailure, RedisLayers, RedisLimiter, RedisStore, StoreCounters};
#[cfg(not(feature = "redis"))]
use absent::{counters_of, layers_counters_of, OnFailure, RedisLayers, RedisLimiter, RedisStore};

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

/// `fg_redis_config.on_failure`: when Redis gives no answer within the
/// deadline (or the breaker is open), admit the request.
pub const FG_ON_FAILURE_OPEN: u32 = 0;
/// `fg_redis_config.on_failure`: when Redis gives no answer, deny the
/// request, with the breaker's cool-down as its retry-after.
pub const FG_ON_FAILURE_CLOSED: u32 = 1;

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
    /// `FG_ON_FAILURE_OPEN` (0, the default) or `FG_ON_FAILURE_CLOSED`.
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
/// before the call; later versions may add fields.
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
}

// SAFETY: repr(C), starts with `struct_size: usize`, plain integers only.
unsafe impl args::Versioned for FgStoreCounters {
    const MIN_SIZE: usize = std::mem::size_of::<FgStoreCounters>();
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

/// Releases a store. NULL is a no-op. Limiters made on it keep the
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

impl Settings {
    fn read(config: &FgRedisConfig) -> Result<Self, Failure> {
        let on_failure = match config.on_failure {
            FG_ON_FAILURE_OPEN => OnFailure::Open,
            FG_ON_FAILURE_CLOSED => OnFailure::Closed,
            other => return Err(args::unknown_constant("config->on_failure", other)),
        };
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

/// Reads `config` into a limiter of `quota` on `store`.
///
/// # Safety
/// `config->prefix` NULL or readable for `prefix_len` bytes.
unsafe fn build(
    store: &RedisStore,
    quota: &FgQuota,
    config: &FgRedisConfig,
) -> Result<RedisLimiter, Failure> {
    let settings = Settings::read(config)?;
    let mut builder =
        RedisLimiter::builder(store, quota.to_quota()?).on_failure(settings.on_failure);
    if !config.prefix.is_null() {
        // SAFETY: readable for prefix_len bytes, by the contract.
        let prefix =
            unsafe { args::bytes(config.prefix.cast(), config.prefix_len, "config->prefix") }?;
        builder = builder.prefix(prefix);
    }
    if let Some(deadline) = settings.deadline {
        builder = builder.deadline(deadline);
    }
    if let Some((failures, cool_down)) = settings.breaker {
        builder = builder.breaker(failures, cool_down);
    }
    Ok(builder.build()?)
}

/// Creates a limiter of `quota` per key on `store` and stores its handle in
/// `*out` (NULL on failure). Every process using the same server, prefix
/// and quota shares its buckets. The limiter keeps its own reference to the
/// store.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_LENGTH`, the quota errors
/// (`FG_STATUS_ZERO_COUNT` ... `FG_STATUS_INEXACT_RATE`; a quota whose burst
/// and lockout span more than 2^51 of its Redis units is
/// `FG_STATUS_BURST_TOO_LARGE`), `FG_STATUS_INVALID_ARGUMENT` (an unknown
/// `on_failure`, or only one of the breaker's two fields set),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `store` must be NULL or a live handle; `quota` and `config` NULL or
/// readable for their `struct_size`, `config->prefix` readable for its
/// length; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_new(
    store: *const FgRedisStore,
    quota: *const FgQuota,
    config: *const FgRedisConfig,
    out: *mut *mut FgRedisLimiter,
) -> FgStatus {
    let make = || {
        // SAFETY: a live handle is a boxed RedisStore (fg_redis_store_open).
        let store = unsafe { args::handle(store.cast::<RedisStore>(), "store") }?;
        // SAFETY: readable for their struct_size, by the contract.
        let quota = unsafe { args::read_config(quota, "quota") }?;
        // SAFETY: as above.
        let config = unsafe { args::read_config(config, "config") }?;
        // SAFETY: `config->prefix` readable for its length, by the contract.
        let limiter = unsafe { build(store, &quota, &config) }?;
        Ok(handle::boxed(limiter).cast::<FgRedisLimiter>())
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_redis_limiter_new", out, make) }
}

/// Releases a limiter. NULL is a no-op.
///
/// # Safety
/// `limiter` must be NULL or a handle from `fg_redis_limiter_new` not yet
/// freed, with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_free(limiter: *mut FgRedisLimiter) {
    // SAFETY: a live handle is a boxed RedisLimiter (fg_redis_limiter_new);
    // the rest is this function's contract.
    unsafe {
        handle::free(
            "fg_redis_limiter_free",
            limiter.cast::<RedisLimiter>(),
            handle::unbox,
        )
    }
}

/// The body of every call that answers one key's decision: checks the
/// handle, `out` and the key before `operation` sends anything.
///
/// # Safety
/// `limiter` NULL or live; `key` NULL or readable for `key_len` bytes;
/// `out` NULL or writable for an `fg_decision`.
unsafe fn decide(
    function: &'static str,
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    out: *mut FgDecision,
    operation: impl FnOnce(&RedisLimiter, &[u8]) -> crate::Result<crate::Decision>,
) -> FgStatus {
    // SAFETY: a live handle is a boxed RedisLimiter; the rest is `answer`'s contract.
    unsafe {
        answer(
            function,
            limiter.cast::<RedisLimiter>(),
            "limiter",
            out,
            |limiter| {
                // Inside the unsafe block above: `key` is readable for
                // `key_len` bytes, by the contract.
                let key = args::bytes(key, key_len, "key")?;
                Ok(operation(limiter, key)?)
            },
        )
    }
}

/// Decides a request of `cost` units for `key` (1 to `FG_MAX_KEY_LEN`
/// bytes) in Redis and fills `*out`. Blocks the calling thread until Redis
/// answers or the deadline passes, then `on_failure` answers (and
/// `fg_redis_limiter_counters` counts it): never longer than the deadline.
/// A key recently denied is denied locally, without a round trip, until it
/// fits again. A denied request is not an error.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_EMPTY_KEY`, `FG_STATUS_KEY_TOO_LONG`
/// (nothing is sent then), `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `key` NULL or readable for
/// `key_len` bytes; `out` NULL or writable for an `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_check(
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    cost: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide(
            "fg_redis_limiter_check",
            limiter,
            key,
            key_len,
            out,
            |limiter, key| limiter.check(key, cost),
        )
    }
}

/// Fills `*out` with `key`'s bucket in Redis, charging nothing.
///
/// Errors: as `fg_redis_limiter_check`.
///
/// # Safety
/// As `fg_redis_limiter_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_peek(
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide(
            "fg_redis_limiter_peek",
            limiter,
            key,
            key_len,
            out,
            |limiter, key| limiter.peek(key),
        )
    }
}

/// Gives `amount` units back to `key`'s bucket in Redis (never above full)
/// and fills `*out` with the bucket afterwards.
///
/// Errors: as `fg_redis_limiter_check`.
///
/// # Safety
/// As `fg_redis_limiter_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_refund(
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    amount: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide(
            "fg_redis_limiter_refund",
            limiter,
            key,
            key_len,
            out,
            |limiter, key| limiter.refund(key, amount),
        )
    }
}

/// Fills `*out` with the limiter's counts so far: how many decisions Redis
/// made, the deny cache gave, and `on_failure` gave, and why.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `out` NULL or writable for its
/// `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_counters(
    limiter: *const FgRedisLimiter,
    out: *mut FgStoreCounters,
) -> FgStatus {
    guard("fg_redis_limiter_counters", || {
        // SAFETY: a live handle is a boxed RedisLimiter (fg_redis_limiter_new).
        let limiter = unsafe { args::handle(limiter.cast::<RedisLimiter>(), "limiter") }?;
        // SAFETY: NULL or readable for its struct_size, by the contract.
        let out = unsafe { VersionedOut::new(out, "out") }?;
        let counters = counters_of(limiter);
        // SAFETY: writable for its struct_size, by the contract.
        unsafe { out.write(counters) };
        Ok(())
    })
}

/// Reads `config` and `layers` into layers on `store`.
///
/// # Safety
/// `layers` NULL or readable for `count` structs of its first element's
/// `struct_size`, each `prefix` and `quota` readable.
unsafe fn build_layers(
    store: &RedisStore,
    layers: *const FgRedisLayer,
    count: usize,
    config: &FgRedisConfig,
) -> Result<RedisLayers, Failure> {
    if !config.prefix.is_null() {
        return Err(Failure::new(
            FgStatus::InvalidArgument,
            "`config->prefix` must be NULL: each fg_redis_layer has its own".to_string(),
        ));
    }
    if count > MAX_LAYERS {
        return Err(Error::TooManyLayers.into());
    }
    let settings = Settings::read(config)?;
    // SAFETY: readable for `count` elements, by the contract.
    let layers = unsafe { args::read_config_array(layers, count, "layers") }?;
    let mut builder = RedisLayers::builder(store).on_failure(settings.on_failure);
    for layer in &layers {
        let scope = builtin_scope(layer.scope)
            .ok_or_else(|| args::unknown_constant("layers[].scope", layer.scope))?;
        if layer.prefix.is_null() {
            return Err(Failure::new(
                FgStatus::NullPointer,
                "`layers[].prefix` is NULL".to_string(),
            ));
        }
        // SAFETY: readable for prefix_len bytes, by the contract.
        let prefix =
            unsafe { args::bytes(layer.prefix.cast(), layer.prefix_len, "layers[].prefix") }?;
        // SAFETY: readable for its struct_size, by the contract.
        let quota = unsafe { args::read_config(layer.quota, "layers[].quota") }?;
        builder = builder.layer(scope, prefix, quota.to_quota()?);
    }
    if let Some(deadline) = settings.deadline {
        builder = builder.deadline(deadline);
    }
    if let Some((failures, cool_down)) = settings.breaker {
        builder = builder.breaker(failures, cool_down);
    }
    Ok(builder.build()?)
}

/// Creates layers on `store`, `layers[i]` being layer `i` (at most
/// `FG_MAX_LAYERS`), and stores the handle in `*out` (NULL on failure).
/// `config->prefix` must be NULL (each layer has its own); its other
/// fields apply to every call. On Redis Cluster one call's keys must share
/// a hash tag (`{ws42}:key7`, `{ws42}`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_NO_LAYERS`,
/// `FG_STATUS_TOO_MANY_LAYERS`, the quota errors, `FG_STATUS_INVALID_ARGUMENT`
/// (a scope other than `FG_SCOPE_KEY` ... `FG_SCOPE_TOKEN`, a config prefix,
/// an unknown `on_failure`, one breaker field alone), `FG_STATUS_PANIC`.
///
/// # Safety
/// `store` must be NULL or a live handle; `layers` NULL or readable for
/// `count` structs of `layers[0].struct_size` bytes, each `prefix` readable
/// for its length and `quota` for its `struct_size`; `config` NULL or
/// readable for its `struct_size`; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_layers_new(
    store: *const FgRedisStore,
    layers: *const FgRedisLayer,
    count: usize,
    config: *const FgRedisConfig,
    out: *mut *mut FgRedisLayers,
) -> FgStatus {
    let make = || {
        // SAFETY: a live handle is a boxed RedisStore (fg_redis_store_open).
        let store = unsafe { args::handle(store.cast::<RedisStore>(), "store") }?;
        // SAFETY: readable for its struct_size, by the contract.
        let config = unsafe { args::read_config(config, "config") }?;
        // SAFETY: this function's contract is `build_layers`'.
        let built = unsafe { build_layers(store, layers, count, &config) }?;
        Ok(handle::boxed(built).cast::<FgRedisLayers>())
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_redis_layers_new", out, make) }
}

/// Releases layers. NULL is a no-op.
///
/// # Safety
/// `layers` must be NULL or a handle from `fg_redis_layers_new` not yet
/// freed, with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_layers_free(layers: *mut FgRedisLayers) {
    // SAFETY: a live handle is a boxed RedisLayers (fg_redis_layers_new);
    // the rest is this function's contract.
    unsafe {
        handle::free(
            "fg_redis_layers_free",
            layers.cast::<RedisLayers>(),
            handle::unbox,
        )
    }
}

/// The verdict of layers in C's terms: the scope name is a static string.
fn layers_verdict(verdict: &Verdict) -> FgVerdict {
    let name = scope_c_name(verdict.scope()).expect("Redis layers have built-in scopes");
    FgVerdict {
        decision: FgDecision::new(&verdict.decision(), scope_code(verdict.scope())),
        // At most MAX_LAYERS (32).
        layer: verdict.layer() as u32,
        scope_name: name.as_ptr(),
    }
}

/// Checks `cost` against every layer in Redis, `keys[i]` (an
/// `FG_LAYER_KEY_BYTES` key) being layer `i`'s, and fills `*out`: when
/// admitted, the layer with the least left; when refused, the longest wait.
/// A refusal charges no layer (a layer with a lockout is charged its
/// lockout). Blocks until Redis answers or the deadline passes, then
/// `on_failure` answers in the first layer's name.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_LAYER_KEY_COUNT`,
/// `FG_STATUS_KEY_KIND_MISMATCH` (a key of another kind than bytes),
/// `FG_STATUS_EMPTY_KEY`, `FG_STATUS_KEY_TOO_LONG` (nothing is sent then),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `layers` must be NULL or a live handle; `keys` NULL or readable for
/// `count` keys whose `bytes` are readable for `len`; `out` NULL or
/// writable for an `fg_verdict`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_layers_check(
    layers: *const FgRedisLayers,
    keys: *const FgLayerKey,
    count: usize,
    cost: u64,
    out: *mut FgVerdict,
) -> FgStatus {
    guard("fg_redis_layers_check", || {
        // SAFETY: a live handle is a boxed RedisLayers (fg_redis_layers_new).
        let layers = unsafe { args::handle(layers.cast::<RedisLayers>(), "layers") }?;
        let out = Out::new(out, "out")?;
        // SAFETY: NULL or readable, by the contract; this checks NULL and alignment.
        let first = unsafe { args::handle(keys, "keys") }?;
        if count > MAX_LAYERS {
            return Err(Error::LayerKeyCount.into());
        }
        // SAFETY: readable for `count` (<= MAX_LAYERS) keys, starting at `first`.
        let given = unsafe { std::slice::from_raw_parts(first as *const FgLayerKey, count) };
        let keys = given
            .iter()
            .map(|key| match key.kind {
                // SAFETY: readable for `len`, by the contract.
                FG_LAYER_KEY_BYTES => unsafe { args::bytes(key.bytes, key.len, "keys[].bytes") },
                other => Err(Failure::new(
                    FgStatus::KeyKindMismatch,
                    format!("`keys[].kind` is {other}; Redis layers take FG_LAYER_KEY_BYTES keys"),
                )),
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        let verdict = layers.check(&keys, cost)?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(layers_verdict(&verdict)) };
        Ok(())
    })
}

/// Fills `*out` with the layers' counts so far (as `fg_redis_limiter_counters`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `layers` must be NULL or a live handle; `out` NULL or writable for its
/// `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_layers_counters(
    layers: *const FgRedisLayers,
    out: *mut FgStoreCounters,
) -> FgStatus {
    guard("fg_redis_layers_counters", || {
        // SAFETY: a live handle is a boxed RedisLayers (fg_redis_layers_new).
        let layers = unsafe { args::handle(layers.cast::<RedisLayers>(), "layers") }?;
        // SAFETY: NULL or readable for its struct_size, by the contract.
        let out = unsafe { VersionedOut::new(out, "out") }?;
        let counters = layers_counters_of(layers);
        // SAFETY: writable for its struct_size, by the contract.
        unsafe { out.write(counters) };
        Ok(())
    })
}

/// What the exports act on in a library built without the `redis` feature:
/// types that have no values, since `fg_redis_store_open`, the only source
/// of a handle, refuses. The compiler then proves every other export can
/// only fail on its arguments.
#[cfg(not(feature = "redis"))]
mod absent {
    use super::super::status::{Failure, FgStatus};
    use crate::core::decision::Decision;
    use crate::core::error::Result;
    use crate::core::quota::Quota;
    use crate::http::Scope;
    use crate::policy::Verdict;
    use std::time::Duration;

    pub(super) enum RedisStore {}

    pub(super) enum RedisLimiter {}

    pub(super) struct RedisLimiterBuilder<'a>(&'a RedisStore);

    pub(super) enum OnFailure {
        Open,
        Closed,
    }

    impl RedisStore {
        pub(super) fn open(_url: &str) -> std::result::Result<Self, Failure> {
            Err(Failure::new(
                FgStatus::StoreUnavailable,
                "this library was built without Redis support (cargo feature `redis`)".to_string(),
            ))
        }
    }

    impl RedisLimiter {
        pub(super) fn builder(store: &RedisStore, _quota: Quota) -> RedisLimiterBuilder<'_> {
            RedisLimiterBuilder(store)
        }

        pub(super) fn check(&self, _key: &[u8], _cost: u64) -> Result<Decision> {
            match *self {}
        }

        pub(super) fn peek(&self, _key: &[u8]) -> Result<Decision> {
            match *self {}
        }

        pub(super) fn refund(&self, _key: &[u8], _amount: u64) -> Result<Decision> {
            match *self {}
        }
    }

    pub(super) fn counters_of(limiter: &RedisLimiter) -> super::FgStoreCounters {
        match *limiter {}
    }

    pub(super) enum RedisLayers {}

    pub(super) struct RedisLayersBuilder<'a>(&'a RedisStore);

    impl RedisLayers {
        pub(super) fn builder(store: &RedisStore) -> RedisLayersBuilder<'_> {
            RedisLayersBuilder(store)
        }

        pub(super) fn check(&self, _keys: &[&[u8]], _cost: u64) -> Result<Verdict> {
            match *self {}
        }
    }

    impl RedisLayersBuilder<'_> {
        pub(super) fn layer(self, _scope: Scope, _prefix: &[u8], _quota: Quota) -> Self {
            self
        }

        pub(super) fn on_failure(self, _on_failure: OnFailure) -> Self {
            self
        }

        pub(super) fn deadline(self, _deadline: Duration) -> Self {
            self
        }

        pub(super) fn breaker(self, _failures: u32, _cool_down: Duration) -> Self {
            self
        }

        pub(super) fn build(self) -> Result<RedisLayers> {
            match *self.0 {}
        }
    }

    pub(super) fn layers_counters_of(layers: &RedisLayers) -> super::FgStoreCounters {
        match *layers {}
    }

    impl RedisLimiterBuilder<'_> {
        pub(super) fn on_failure(self, _on_failure: OnFailure) -> Self {
            self
        }

        pub(super) fn prefix(self, _prefix: &[u8]) -> Self {
            self
        }

        pub(super) fn deadline(self, _deadline: Duration) -> Self {
            self
        }

        pub(super) fn breaker(self, _failures: u32, _cool_down: Duration) -> Self {
            self
        }

        pub(super) fn build(self) -> Result<RedisLimiter> {
            match *self.0 {}
        }
    }
}

/// The tests' own redis-server (as the Redis store's integration tests start it).
#[cfg(all(test, feature = "redis"))]
#[path = "../../tests/redis_common/mod.rs"]
pub(super) mod redis_common;

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    fn open(url: &str) -> (FgStatus, *mut FgRedisStore) {
        let mut store = ptr::null_mut();
        // SAFETY: `url` is readable for its length, `store` writable.
        let status = unsafe { fg_redis_store_open(url.as_ptr().cast(), url.len(), &mut store) };
        (status, store)
    }

    #[cfg(not(feature = "redis"))]
    #[test]
    fn a_library_without_redis_says_so() {
        let (status, store) = open("redis://127.0.0.1:6379/");
        assert_eq!(status, FgStatus::StoreUnavailable);
        assert!(store.is_null());
    }

    #[cfg(feature = "redis")]
    #[test]
    fn bad_arguments_are_statuses_and_build_nothing() {
        assert_eq!(open("http://x").0, FgStatus::InvalidStoreUrl);
        let mut store = ptr::null_mut();
        // SAFETY: a NULL url with a length is what is tested; `store` is writable.
        let status = unsafe { fg_redis_store_open(ptr::null(), 3, &mut store) };
        assert_eq!(status, FgStatus::NullPointer);
        // SAFETY: as above, with a URL that is not UTF-8.
        let status = unsafe { fg_redis_store_open(b"\xff".as_ptr().cast(), 1, &mut store) };
        assert_eq!(status, FgStatus::InvalidUtf8);

        // Nothing listens on port 1, and nothing connects before a check.
        let (status, store) = open("redis://127.0.0.1:1/");
        assert_eq!(status, FgStatus::Ok);
        let quota = FgQuota::from_quota(&crate::Quota::per_second(30).unwrap());
        let config = |on_failure, breaker_failures| FgRedisConfig {
            struct_size: std::mem::size_of::<FgRedisConfig>(),
            prefix: ptr::null(),
            prefix_len: 0,
            deadline_ns: 0,
            on_failure,
            breaker_failures,
            breaker_cool_down_ns: 0,
        };
        let mut limiter = ptr::null_mut();
        for (config, expected) in [
            (config(2, 0), FgStatus::InvalidArgument),
            (config(FG_ON_FAILURE_OPEN, 3), FgStatus::InvalidArgument),
        ] {
            // SAFETY: live store, readable structs, writable out.
            let status = unsafe { fg_redis_limiter_new(store, &quota, &config, &mut limiter) };
            assert_eq!(status, expected);
            assert!(limiter.is_null());
        }
        let closed = config(FG_ON_FAILURE_CLOSED, 0);
        // SAFETY: as above.
        let status = unsafe { fg_redis_limiter_new(store, &quota, &closed, &mut limiter) };
        assert_eq!(status, FgStatus::Ok);
        // Layers: every refusal before anything is built.
        let prefix = b"k:";
        let layer = |scope| FgRedisLayer {
            struct_size: std::mem::size_of::<FgRedisLayer>(),
            scope,
            prefix: prefix.as_ptr().cast(),
            prefix_len: prefix.len(),
            quota: &quota,
        };
        let with_prefix = FgRedisConfig {
            prefix: prefix.as_ptr().cast(),
            prefix_len: prefix.len(),
            ..config(FG_ON_FAILURE_OPEN, 0)
        };
        let given = [layer(super::super::decision::FG_SCOPE_KEY); MAX_LAYERS + 1];
        let named = [layer(super::super::decision::FG_SCOPE_NAMED)];
        let open_config = config(FG_ON_FAILURE_OPEN, 0);
        for (layers, count, config, expected) in [
            (given.as_ptr(), 0, &open_config, FgStatus::NoLayers),
            (
                given.as_ptr(),
                MAX_LAYERS + 1,
                &open_config,
                FgStatus::TooManyLayers,
            ),
            (given.as_ptr(), 1, &with_prefix, FgStatus::InvalidArgument),
            (named.as_ptr(), 1, &open_config, FgStatus::InvalidArgument),
        ] {
            let mut built = ptr::null_mut();
            // SAFETY: live store, readable arrays and config, writable out.
            let status = unsafe { fg_redis_layers_new(store, layers, count, config, &mut built) };
            assert_eq!(status, expected);
            assert!(built.is_null());
        }
        // SAFETY: live handle from fg_redis_store_open, not used again.
        unsafe { fg_redis_store_free(store) };

        let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
        for (key, key_len, expected) in [
            (ptr::null(), 1, FgStatus::NullPointer),
            (b"k".as_ptr(), 0, FgStatus::EmptyKey),
        ] {
            let out = decision.as_mut_ptr();
            // SAFETY: the limiter outlives its store's handle; `key` is
            // NULL or readable, `out` writable.
            let status = unsafe { fg_redis_limiter_check(limiter, key, key_len, 1, out) };
            assert_eq!(status, expected);
        }
        let mut counters = FgStoreCounters {
            struct_size: std::mem::size_of::<FgStoreCounters>(),
            ..FgStoreCounters::default()
        };
        // SAFETY: live handle, writable struct.
        let status = unsafe { fg_redis_limiter_counters(limiter, &mut counters) };
        assert_eq!(status, FgStatus::Ok);
        // Refused calls sent nothing, so nothing failed either.
        assert_eq!(
            (counters.exact, counters.errors, counters.timeouts),
            (0, 0, 0)
        );

        // A server that is away: the failure policy answers, within the deadline.
        let key = b"k";
        // SAFETY: as above.
        let status =
            unsafe { fg_redis_limiter_check(limiter, key.as_ptr(), 1, 1, decision.as_mut_ptr()) };
        assert_eq!(status, FgStatus::Ok);
        // SAFETY: written by the successful call.
        assert!(!unsafe { decision.assume_init() }.admitted);
        // SAFETY: as above.
        unsafe { fg_redis_limiter_counters(limiter, &mut counters) };
        assert_eq!(counters.failed_closed, 1);
        // SAFETY: live handle, not used again.
        unsafe { fg_redis_limiter_free(limiter) };
    }

    #[cfg(feature = "redis")]
    fn config(prefix: &[u8]) -> FgRedisConfig {
        FgRedisConfig {
            struct_size: std::mem::size_of::<FgRedisConfig>(),
            prefix: if prefix.is_empty() {
                ptr::null()
            } else {
                prefix.as_ptr().cast()
            },
            prefix_len: prefix.len(),
            // Generous: a loaded machine must not turn a slow answer into a failure.
            deadline_ns: 2_000_000_000,
            on_failure: FG_ON_FAILURE_CLOSED,
            breaker_failures: 0,
            breaker_cool_down_ns: 0,
        }
    }

    #[cfg(feature = "redis")]
    fn quota(count: u64) -> FgQuota {
        FgQuota::from_quota(&crate::Quota::per_minute(count).unwrap())
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_limiter_and_layers_decide_in_a_real_redis() {
        let server = super::redis_common::RedisServer::shared();
        let (status, store) = open(&server.url());
        assert_eq!(status, FgStatus::Ok);
        let prefix = format!("ffi:{}:", std::process::id());

        let mut limiter = ptr::null_mut();
        // SAFETY: live store, readable structs, writable out.
        let status = unsafe {
            fg_redis_limiter_new(store, &quota(3), &config(prefix.as_bytes()), &mut limiter)
        };
        assert_eq!(status, FgStatus::Ok);
        let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
        let mut check = |cost| {
            let out = decision.as_mut_ptr();
            // SAFETY: live handle, readable key, writable out.
            let status = unsafe { fg_redis_limiter_check(limiter, b"k".as_ptr(), 1, cost, out) };
            assert_eq!(status, FgStatus::Ok);
            // SAFETY: written by the successful call.
            unsafe { decision.assume_init() }
        };
        let admitted: Vec<_> = (0..4)
            .map(|_| check(1))
            .map(|d| (d.admitted, d.remaining))
            .collect();
        assert_eq!(admitted, [(true, 2), (true, 1), (true, 0), (false, 0)]);
        assert_eq!(
            check(4).outcome,
            super::super::decision::FgOutcome::CannotFit
        );
        let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
        let out = decision.as_mut_ptr();
        // SAFETY: as above.
        let status = unsafe { fg_redis_limiter_refund(limiter, b"k".as_ptr(), 1, 2, out) };
        assert_eq!(status, FgStatus::Ok);
        // SAFETY: written by the successful call.
        assert_eq!(unsafe { decision.assume_init() }.remaining, 2);

        // Two layers: a refusal by one charges neither.
        let (key_prefix, workspace_prefix) = (format!("{prefix}k:"), format!("{prefix}w:"));
        let (key_quota, workspace_quota) = (quota(3), quota(1));
        let layer = |scope, prefix: &String, quota: &FgQuota| FgRedisLayer {
            struct_size: std::mem::size_of::<FgRedisLayer>(),
            scope,
            prefix: prefix.as_ptr().cast(),
            prefix_len: prefix.len(),
            quota,
        };
        let layers_given = [
            layer(
                super::super::decision::FG_SCOPE_KEY,
                &key_prefix,
                &key_quota,
            ),
            layer(
                super::super::decision::FG_SCOPE_WORKSPACE,
                &workspace_prefix,
                &workspace_quota,
            ),
        ];
        let mut layers = ptr::null_mut();
        // SAFETY: live store, readable array and config, writable out.
        let status = unsafe {
            fg_redis_layers_new(store, layers_given.as_ptr(), 2, &config(b""), &mut layers)
        };
        assert_eq!(status, FgStatus::Ok);
        let key = |bytes: &'static [u8]| FgLayerKey {
            kind: FG_LAYER_KEY_BYTES,
            id: 0,
            bytes: bytes.as_ptr(),
            len: bytes.len(),
        };
        let mut verdict = std::mem::MaybeUninit::<FgVerdict>::zeroed();
        let mut check_layers = |keys: [FgLayerKey; 2]| {
            let out = verdict.as_mut_ptr();
            // SAFETY: live handle, readable keys, writable out.
            let status = unsafe { fg_redis_layers_check(layers, keys.as_ptr(), 2, 1, out) };
            assert_eq!(status, FgStatus::Ok);
            // SAFETY: written by the successful call.
            let verdict = unsafe { verdict.assume_init() };
            // SAFETY: a static NUL-terminated scope name.
            let scope = unsafe { std::ffi::CStr::from_ptr(verdict.scope_name) };
            (
                verdict.decision.admitted,
                verdict.layer,
                scope.to_str().unwrap().to_string(),
            )
        };
        assert_eq!(
            check_layers([key(b"a"), key(b"ws")]),
            (true, 1, "workspace".into())
        );
        assert_eq!(
            check_layers([key(b"b"), key(b"ws")]),
            (false, 1, "workspace".into())
        );
        // Key "b" was not charged by the refusal: its three are whole.
        assert!(check_layers([key(b"b"), key(b"ws2")]).0);
        let status = {
            let out = verdict.as_mut_ptr();
            let wrong = [
                FgLayerKey {
                    kind: 1,
                    id: 7,
                    bytes: ptr::null(),
                    len: 0,
                },
                key(b"ws"),
            ];
            // SAFETY: as above.
            unsafe { fg_redis_layers_check(layers, wrong.as_ptr(), 2, 1, out) }
        };
        assert_eq!(status, FgStatus::KeyKindMismatch);

        let mut counters = FgStoreCounters {
            struct_size: std::mem::size_of::<FgStoreCounters>(),
            ..FgStoreCounters::default()
        };
        // SAFETY: live handle, writable struct.
        let status = unsafe { fg_redis_layers_counters(layers, &mut counters) };
        assert_eq!(status, FgStatus::Ok);
        assert_eq!((counters.exact, counters.failed_closed), (3, 0));
        // SAFETY: live handles, not used again.
        unsafe {
            fg_redis_layers_free(layers);
            fg_redis_limiter_free(limiter);
            fg_redis_store_free(store);
        }
    }
}
