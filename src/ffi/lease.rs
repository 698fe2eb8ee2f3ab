//! `fg_leased_limiter` and `fg_leased_layers`: fleet-wide limits kept in
//! Redis and checked locally, from tokens each process leases from the Redis
//! bucket ahead of time (the Rust `store::LeasedLimiter` and
//! `store::LeasedLayers`).
//!
//! Like the `fg_redis_*` functions (see `store`), these exist in every build:
//! a library built without the `redis` feature gives no store handle, so no
//! leased handle can be made either.

use super::args::{self, VersionedOut};
use super::decision::FgDecision;
use super::handle;
use super::policy::{FgLayerKey, FgVerdict};
use super::quota::FgQuota;
use super::status::{guard, Failure, FgStatus};
use super::store::{
    build_on_store, check_layers, decide, FgRedisLayer, FgRedisStore, FgStoreCounters,
};
use std::ffi::c_char;

#[cfg(feature = "redis")]
use super::store::{config_prefix, on_failure, read_layers};
#[cfg(feature = "redis")]
use crate::store::{LeaseCounters, LeasedLayers, LeasedLimiter, OnFailure, RedisStore};
#[cfg(not(feature = "redis"))]
use absent::{layers_counters, limiter_counters, LeasedLayers, LeasedLimiter, RedisStore};
#[cfg(feature = "redis")]
use std::time::Duration;

/// A GCRA bucket per byte key kept in Redis, as an `fg_redis_limiter`'s
/// (same script, same keys: the two may share a prefix and quota), checked
/// locally: the process leases tokens from the Redis bucket ahead of time and
/// a check spends them with one atomic operation, asking for the next lease in
/// the background before the last runs out. No process admits a request the
/// Redis bucket was not charged for. Create with `fg_leased_limiter_new`,
/// release with `fg_leased_limiter_free` (which gives unspent tokens back).
pub struct FgLeasedLimiter {
    _opaque: [u8; 0],
}

/// Several limits kept in Redis, as an `fg_redis_layers`' (a refusal by one
/// layer charges none), each checked locally from a lease per layer and key.
/// Each layer leases from its own key, so the keys need no common hash tag.
/// Create with `fg_leased_layers_new`, release with `fg_leased_layers_free`.
pub struct FgLeasedLayers {
    _opaque: [u8; 0],
}

/// How a leased limiter leases; every field left 0 (or NULL) keeps its
/// default:
///
/// ```c
/// fg_lease_config config = { .struct_size = sizeof(fg_lease_config),
///                            .prefix = "api:", .prefix_len = 4,
///                            .lease_time_ns = 200000000, .fleet_size = 4 };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgLeaseConfig {
    /// `sizeof(fg_lease_config)` as the caller compiled it.
    pub struct_size: usize,
    /// What every bucket's Redis key starts with (bytes, no NUL needed);
    /// NULL for `"floodgate:"`. Must be NULL for layers (each
    /// `fg_redis_layer` has its own).
    pub prefix: *const c_char,
    /// The length of `prefix` in bytes.
    pub prefix_len: usize,
    /// How long a lease call may wait for Redis, connecting included; 0 for 5 ms.
    pub deadline_ns: u64,
    /// `FG_ON_FAILURE_OPEN` (0, the default), `FG_ON_FAILURE_CLOSED` or
    /// `FG_ON_FAILURE_LOCAL` (this process's share of the quota: the rate and
    /// burst divided by the hosts counted by heartbeats in Redis): the
    /// answer once a key's lease is spent and Redis gives none.
    pub on_failure: u32,
    /// Lease more when fewer than this percent (1 to 100) of the last lease
    /// is left; 0 for 25.
    pub low_water_percent: u32,
    /// How long a lease is meant to last (it asks for about the tokens this
    /// process spends in that time); 0 for 500 ms.
    pub lease_time_ns: u64,
    /// How many processes share these keys: one holds at most
    /// `burst / (2 x fleet_size)` tokens of a key; 0 for 1.
    pub fleet_size: u64,
    /// How many keys the local table holds (a key beyond them is decided in
    /// Redis each time); 0 for 16384.
    pub capacity: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, integers and raw pointers only.
unsafe impl args::Versioned for FgLeaseConfig {
    const MIN_SIZE: usize = std::mem::size_of::<FgLeaseConfig>();
}

/// How a leased limiter's checks were decided and what its leases took and
/// gave back. Set `struct_size` before the call; later versions may add
/// fields.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct FgLeaseCounters {
    /// `sizeof(fg_lease_counters)` as the caller compiled it.
    pub struct_size: usize,
    /// Checks decided locally: admitted from a lease, or denied by Redis's
    /// last denial of a lease.
    pub local: u64,
    /// Lease calls, in the background or waited on.
    pub leases: u64,
    /// Lease calls a check waited on, its key's lease being empty.
    pub waited: u64,
    /// Tokens the leases granted.
    pub granted: u64,
    /// Calls giving unspent tokens back (idle keys, freeing).
    pub give_backs: u64,
    /// Tokens given back.
    pub returned: u64,
    /// Checks decided by an exact call instead (a key the table had no room
    /// for, a cost above a lease).
    pub exact: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, plain integers only.
unsafe impl args::Versioned for FgLeaseCounters {
    const MIN_SIZE: usize = std::mem::size_of::<FgLeaseCounters>();
}

#[cfg(feature = "redis")]
impl From<LeaseCounters> for FgLeaseCounters {
    fn from(counters: LeaseCounters) -> Self {
        Self {
            struct_size: std::mem::size_of::<Self>(),
            local: counters.local,
            leases: counters.leases,
            waited: counters.waited,
            granted: counters.granted,
            give_backs: counters.give_backs,
            returned: counters.returned,
            exact: counters.exact,
        }
    }
}

/// A limiter's counters as C reads them.
#[cfg(feature = "redis")]
fn limiter_counters(limiter: &LeasedLimiter) -> (FgStoreCounters, FgLeaseCounters) {
    (limiter.counters().into(), limiter.lease_counters().into())
}

/// Layers' counters as C reads them.
#[cfg(feature = "redis")]
fn layers_counters(layers: &LeasedLayers) -> (FgStoreCounters, FgLeaseCounters) {
    (layers.counters().into(), layers.lease_counters().into())
}

/// `fg_lease_config` read: `None` keeps the builder's default.
#[cfg(feature = "redis")]
struct Lease {
    on_failure: OnFailure,
    deadline: Option<Duration>,
    lease_time: Option<Duration>,
    low_water: Option<u64>,
    fleet: Option<u64>,
    capacity: Option<usize>,
}

#[cfg(feature = "redis")]
impl Lease {
    fn read(config: &FgLeaseConfig) -> Result<Self, Failure> {
        let on_failure = on_failure(config.on_failure)?;
        if config.low_water_percent > 100 {
            return Err(Failure::new(
                FgStatus::InvalidArgument,
                format!(
                    "`config->low_water_percent` is a percent (0 to 100), got {}",
                    config.low_water_percent
                ),
            ));
        }
        let set = |value: u64| (value != 0).then_some(value);
        Ok(Self {
            on_failure,
            deadline: set(config.deadline_ns).map(Duration::from_nanos),
            lease_time: set(config.lease_time_ns).map(Duration::from_nanos),
            low_water: set(u64::from(config.low_water_percent)),
            fleet: set(config.fleet_size),
            capacity: set(config.capacity).map(args::saturating_usize),
        })
    }
}

/// Applies a [`Lease`] to either builder, which share their setters' names.
#[cfg(feature = "redis")]
macro_rules! configure {
    ($builder:expr, $lease:expr) => {{
        let lease = $lease;
        let mut builder = $builder.on_failure(lease.on_failure);
        if let Some(deadline) = lease.deadline {
            builder = builder.deadline(deadline);
        }
        if let Some(lease_time) = lease.lease_time {
            builder = builder.lease_time(lease_time);
        }
        if let Some(percent) = lease.low_water {
            builder = builder.low_water(percent);
        }
        if let Some(fleet) = lease.fleet {
            builder = builder.fleet_size(fleet);
        }
        if let Some(keys) = lease.capacity {
            builder = builder.capacity(keys);
        }
        builder.build()?
    }};
}

/// Reads `config` into a leased limiter of `quota` on `store`.
///
/// # Safety
/// `config->prefix` NULL or readable for `prefix_len` bytes.
#[cfg(feature = "redis")]
unsafe fn build(
    store: &RedisStore,
    quota: &FgQuota,
    config: &FgLeaseConfig,
) -> Result<LeasedLimiter, Failure> {
    let lease = Lease::read(config)?;
    let mut builder = LeasedLimiter::builder(store, quota.to_quota()?);
    // SAFETY: readable for prefix_len bytes, by the contract.
    if let Some(prefix) = unsafe { config_prefix(config.prefix, config.prefix_len) }? {
        builder = builder.prefix(prefix);
    }
    Ok(configure!(builder, lease))
}

/// Without Redis support no store handle exists to build on.
///
/// # Safety
/// None needed: `store` has no values.
#[cfg(not(feature = "redis"))]
unsafe fn build(
    store: &RedisStore,
    _quota: &FgQuota,
    _config: &FgLeaseConfig,
) -> Result<LeasedLimiter, Failure> {
    match *store {}
}

/// Creates a leased limiter of `quota` per key on `store` and stores its
/// handle in `*out` (NULL on failure). Nothing is sent yet: a key's first
/// check leases. The limiter keeps its own reference to the store.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_LENGTH`, the quota errors (as
/// `fg_redis_limiter_new`), `FG_STATUS_CAPACITY_TOO_LARGE`,
/// `FG_STATUS_INVALID_ARGUMENT` (an unknown `on_failure`, a
/// `low_water_percent` above 100), `FG_STATUS_PANIC`.
///
/// # Safety
/// `store` must be NULL or a live handle; `quota` and `config` NULL or
/// readable for their `struct_size`, `config->prefix` readable for its
/// length; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_leased_limiter_new(
    store: *const FgRedisStore,
    quota: *const FgQuota,
    config: *const FgLeaseConfig,
    out: *mut *mut FgLeasedLimiter,
) -> FgStatus {
    let make = |store: &RedisStore, config: &FgLeaseConfig| {
        // SAFETY: readable for its struct_size, by the contract.
        let quota = unsafe { args::read_config(quota, "quota") }?;
        // SAFETY: `config->prefix` readable for its length, by the contract.
        unsafe { build(store, &quota, config) }
    };
    // SAFETY: this function's contract is `build_on_store`'s.
    unsafe { build_on_store("fg_leased_limiter_new", store, config, out, make) }
}

/// Releases a leased limiter, giving its unspent tokens back to Redis in
/// the background. NULL is a no-op.
///
/// # Safety
/// `limiter` must be NULL or a handle from `fg_leased_limiter_new` not yet
/// freed, with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_leased_limiter_free(limiter: *mut FgLeasedLimiter) {
    // SAFETY: a live handle is a boxed LeasedLimiter (fg_leased_limiter_new);
    // the rest is this function's contract.
    unsafe {
        handle::free(
            "fg_leased_limiter_free",
            limiter.cast::<LeasedLimiter>(),
            handle::unbox,
        )
    }
}

/// Decides a request of `cost` units for `key` (1 to `FG_MAX_KEY_LEN`
/// bytes) and fills `*out`. Decided locally, without I/O, while the key's
/// lease holds `cost` tokens (or Redis denied its last lease and it has not
/// fit since); otherwise (a key's first check, a lease spent before its
/// refill landed, a cost above a lease) it blocks for one call to Redis, at
/// most the deadline, then `on_failure` answers. A denied request is not an
/// error. Thread-safe.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_EMPTY_KEY`, `FG_STATUS_KEY_TOO_LONG`
/// (nothing is spent or sent then), `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `key` NULL or readable for
/// `key_len` bytes; `out` NULL or writable for an `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_leased_limiter_check(
    limiter: *const FgLeasedLimiter,
    key: *const u8,
    key_len: usize,
    cost: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: a live handle is a boxed LeasedLimiter; the rest is `decide`'s contract.
    unsafe {
        decide(
            "fg_leased_limiter_check",
            limiter,
            "limiter",
            key,
            key_len,
            out,
            |limiter: &LeasedLimiter, key| limiter.check(key, cost),
        )
    }
}

/// Fills `*store` with the limiter's Redis calls' outcomes (as
/// `fg_redis_limiter_counters`) and `*leases` with how its checks were
/// decided and what its leases took and gave back.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `store` and `leases` NULL or
/// writable for their `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn fg_leased_limiter_counters(
    limiter: *const FgLeasedLimiter,
    store: *mut FgStoreCounters,
    leases: *mut FgLeaseCounters,
) -> FgStatus {
    guard("fg_leased_limiter_counters", || {
        // SAFETY: a live handle is a boxed LeasedLimiter (fg_leased_limiter_new).
        let limiter = unsafe { args::handle(limiter.cast::<LeasedLimiter>(), "limiter") }?;
        // SAFETY: NULL or readable for their struct_size, by the contract.
        let (store, leases) = unsafe {
            (
                VersionedOut::new(store, "store")?,
                VersionedOut::new(leases, "leases")?,
            )
        };
        let (store_counters, lease_counters) = limiter_counters(limiter);
        // SAFETY: writable for their struct_size, by the contract.
        unsafe {
            store.write(store_counters);
            leases.write(lease_counters);
        }
        Ok(())
    })
}

/// Reads `config` and `layers` into leased layers on `store`.
///
/// # Safety
/// `layers` NULL or readable for `count` structs of its first element's
/// `struct_size`, each `prefix` and `quota` readable.
#[cfg(feature = "redis")]
unsafe fn build_layers(
    store: &RedisStore,
    layers: *const FgRedisLayer,
    count: usize,
    config: &FgLeaseConfig,
) -> Result<LeasedLayers, Failure> {
    // SAFETY: this function's contract is `read_layers`'.
    let layers = unsafe { read_layers(layers, count, config.prefix) }?;
    let lease = Lease::read(config)?;
    let mut builder = LeasedLayers::builder(store);
    for (scope, prefix, quota) in layers {
        builder = builder.layer(scope, prefix, quota);
    }
    Ok(configure!(builder, lease))
}

/// Without Redis support no store handle exists to build on.
///
/// # Safety
/// None needed: `store` has no values.
#[cfg(not(feature = "redis"))]
unsafe fn build_layers(
    store: &RedisStore,
    _layers: *const FgRedisLayer,
    _count: usize,
    _config: &FgLeaseConfig,
) -> Result<LeasedLayers, Failure> {
    match *store {}
}

/// Creates leased layers on `store`, `layers[i]` being layer `i` (at most
/// `FG_MAX_LAYERS`), and stores the handle in `*out` (NULL on failure).
/// `config->prefix` must be NULL (each layer has its own); its other fields
/// apply to every layer.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_NO_LAYERS`,
/// `FG_STATUS_TOO_MANY_LAYERS`, the quota errors,
/// `FG_STATUS_CAPACITY_TOO_LARGE`, `FG_STATUS_INVALID_ARGUMENT` (a scope
/// other than `FG_SCOPE_KEY` ... `FG_SCOPE_TOKEN`, a config prefix, an
/// unknown `on_failure`, a `low_water_percent` above 100), `FG_STATUS_PANIC`.
///
/// # Safety
/// `store` must be NULL or a live handle; `layers` NULL or readable for
/// `count` structs of `layers[0].struct_size` bytes, each `prefix` readable
/// for its length and `quota` for its `struct_size`; `config` NULL or
/// readable for its `struct_size`; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_leased_layers_new(
    store: *const FgRedisStore,
    layers: *const FgRedisLayer,
    count: usize,
    config: *const FgLeaseConfig,
    out: *mut *mut FgLeasedLayers,
) -> FgStatus {
    let make = |store: &RedisStore, config: &FgLeaseConfig| {
        // SAFETY: this function's contract is `build_layers`'.
        unsafe { build_layers(store, layers, count, config) }
    };
    // SAFETY: this function's contract is `build_on_store`'s.
    unsafe { build_on_store("fg_leased_layers_new", store, config, out, make) }
}

/// Releases leased layers, giving their unspent tokens back to Redis in the
/// background. NULL is a no-op.
///
/// # Safety
/// `layers` must be NULL or a handle from `fg_leased_layers_new` not yet
/// freed, with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_leased_layers_free(layers: *mut FgLeasedLayers) {
    // SAFETY: a live handle is a boxed LeasedLayers (fg_leased_layers_new);
    // the rest is this function's contract.
    unsafe {
        handle::free(
            "fg_leased_layers_free",
            layers.cast::<LeasedLayers>(),
            handle::unbox,
        )
    }
}

/// Checks `cost` against every layer, `keys[i]` (an `FG_LAYER_KEY_BYTES`
/// key) being layer `i`'s, and fills `*out`: when admitted, the layer with
/// the least left; when refused, the refusing layer. A refusal spends no
/// layer's tokens. Local as `fg_leased_limiter_check` is, and blocking as
/// it does when a layer's lease is empty.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_LAYER_KEY_COUNT`,
/// `FG_STATUS_KEY_KIND_MISMATCH` (a key of another kind than bytes),
/// `FG_STATUS_EMPTY_KEY`, `FG_STATUS_KEY_TOO_LONG` (nothing is spent or
/// sent then), `FG_STATUS_PANIC`.
///
/// # Safety
/// `layers` must be NULL or a live handle; `keys` NULL or readable for
/// `count` keys whose `bytes` are readable for `len`; `out` NULL or
/// writable for an `fg_verdict`.
#[no_mangle]
pub unsafe extern "C" fn fg_leased_layers_check(
    layers: *const FgLeasedLayers,
    keys: *const FgLayerKey,
    count: usize,
    cost: u64,
    out: *mut FgVerdict,
) -> FgStatus {
    // SAFETY: a live handle is a boxed LeasedLayers (fg_leased_layers_new);
    // the rest is `check_layers`' contract.
    unsafe {
        check_layers(
            "fg_leased_layers_check",
            layers,
            keys,
            count,
            out,
            |layers: &LeasedLayers, keys| layers.check(keys, cost),
        )
    }
}

/// Fills `*store` and `*leases` with the layers' counts so far (as
/// `fg_leased_limiter_counters`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `layers` must be NULL or a live handle; `store` and `leases` NULL or
/// writable for their `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn fg_leased_layers_counters(
    layers: *const FgLeasedLayers,
    store: *mut FgStoreCounters,
    leases: *mut FgLeaseCounters,
) -> FgStatus {
    guard("fg_leased_layers_counters", || {
        // SAFETY: a live handle is a boxed LeasedLayers (fg_leased_layers_new).
        let layers = unsafe { args::handle(layers.cast::<LeasedLayers>(), "layers") }?;
        // SAFETY: NULL or readable for their struct_size, by the contract.
        let (store, leases) = unsafe {
            (
                VersionedOut::new(store, "store")?,
                VersionedOut::new(leases, "leases")?,
            )
        };
        let (store_counters, lease_counters) = layers_counters(layers);
        // SAFETY: writable for their struct_size, by the contract.
        unsafe {
            store.write(store_counters);
            leases.write(lease_counters);
        }
        Ok(())
    })
}

/// What the exports act on in a library built without the `redis` feature:
/// types that have no values, since no store handle exists to build on.
#[cfg(not(feature = "redis"))]
mod absent {
    use super::{FgLeaseCounters, FgStoreCounters};
    use crate::core::decision::Decision;
    use crate::core::error::Result;
    use crate::policy::Verdict;

    pub(super) enum RedisStore {}

    pub(super) enum LeasedLimiter {}

    impl LeasedLimiter {
        pub(super) fn check(&self, _key: &[u8], _cost: u64) -> Result<Decision> {
            match *self {}
        }
    }

    pub(super) fn limiter_counters(limiter: &LeasedLimiter) -> (FgStoreCounters, FgLeaseCounters) {
        match *limiter {}
    }

    pub(super) enum LeasedLayers {}

    impl LeasedLayers {
        pub(super) fn check(&self, _keys: &[&[u8]], _cost: u64) -> Result<Verdict> {
            match *self {}
        }
    }

    pub(super) fn layers_counters(layers: &LeasedLayers) -> (FgStoreCounters, FgLeaseCounters) {
        match *layers {}
    }
}

#[cfg(all(test, feature = "redis"))]
mod tests {
    use super::super::decision::{FG_SCOPE_KEY, FG_SCOPE_WORKSPACE};
    use super::super::store::{fg_redis_store_free, FG_ON_FAILURE_CLOSED, FG_ON_FAILURE_LOCAL};
    use super::*;
    use crate::policy::MAX_LAYERS;
    use std::ptr;

    use super::super::store::tests::{bytes_key, layer, read_verdict};

    fn open(url: &str) -> *mut FgRedisStore {
        let (status, store) = super::super::store::tests::open(url);
        assert_eq!(status, FgStatus::Ok);
        store
    }

    fn config(prefix: &[u8]) -> FgLeaseConfig {
        FgLeaseConfig {
            struct_size: std::mem::size_of::<FgLeaseConfig>(),
            prefix: if prefix.is_empty() {
                ptr::null()
            } else {
                prefix.as_ptr().cast()
            },
            prefix_len: prefix.len(),
            // Generous: a loaded machine must not turn a slow answer into a failure.
            deadline_ns: 2_000_000_000,
            on_failure: FG_ON_FAILURE_CLOSED,
            low_water_percent: 0,
            lease_time_ns: 0,
            fleet_size: 0,
            capacity: 0,
        }
    }

    /// Per hour: nothing refills while a test runs.
    fn quota(count: u64) -> FgQuota {
        FgQuota::from_quota(&crate::Quota::per_hour(count).unwrap())
    }

    fn counters(limiter: *const FgLeasedLimiter) -> (FgStoreCounters, FgLeaseCounters) {
        let mut store = FgStoreCounters {
            struct_size: std::mem::size_of::<FgStoreCounters>(),
            ..FgStoreCounters::default()
        };
        let mut leases = FgLeaseCounters {
            struct_size: std::mem::size_of::<FgLeaseCounters>(),
            ..FgLeaseCounters::default()
        };
        // SAFETY: live handle, writable structs.
        let status = unsafe { fg_leased_limiter_counters(limiter, &mut store, &mut leases) };
        assert_eq!(status, FgStatus::Ok);
        (store, leases)
    }

    #[test]
    fn bad_arguments_are_statuses_and_build_nothing() {
        // Nothing listens on port 1, and nothing connects before a check.
        let store = open("redis://127.0.0.1:1/");
        let quota = quota(30);
        let mut limiter = ptr::null_mut();
        for (given, expected) in [
            (
                FgLeaseConfig {
                    on_failure: 7,
                    ..config(b"")
                },
                FgStatus::InvalidArgument,
            ),
            (
                FgLeaseConfig {
                    low_water_percent: 101,
                    ..config(b"")
                },
                FgStatus::InvalidArgument,
            ),
            (
                FgLeaseConfig {
                    struct_size: 8,
                    ..config(b"")
                },
                FgStatus::StructSize,
            ),
        ] {
            // SAFETY: live store, readable structs, writable out.
            let status = unsafe { fg_leased_limiter_new(store, &quota, &given, &mut limiter) };
            assert_eq!(status, expected);
            assert!(limiter.is_null());
        }
        // SAFETY: a NULL store is what is tested.
        let status =
            unsafe { fg_leased_limiter_new(ptr::null(), &quota, &config(b""), &mut limiter) };
        assert_eq!(status, FgStatus::NullPointer);

        let prefix = b"k:";
        let layer = |scope| FgRedisLayer {
            struct_size: std::mem::size_of::<FgRedisLayer>(),
            scope,
            prefix: prefix.as_ptr().cast(),
            prefix_len: prefix.len(),
            quota: &quota,
        };
        let given = [layer(FG_SCOPE_KEY); MAX_LAYERS + 1];
        for (count, config, expected) in [
            (0, config(b""), FgStatus::NoLayers),
            (MAX_LAYERS + 1, config(b""), FgStatus::TooManyLayers),
            (1, config(prefix), FgStatus::InvalidArgument),
        ] {
            let mut built = ptr::null_mut();
            // SAFETY: live store, readable arrays and config, writable out.
            let status =
                unsafe { fg_leased_layers_new(store, given.as_ptr(), count, &config, &mut built) };
            assert_eq!(status, expected);
            assert!(built.is_null());
        }

        // SAFETY: live store, readable structs, writable out.
        let status = unsafe { fg_leased_limiter_new(store, &quota, &config(b""), &mut limiter) };
        assert_eq!(status, FgStatus::Ok);
        // SAFETY: live handle from fg_redis_store_open, not used again.
        unsafe { fg_redis_store_free(store) };
        let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
        for (key, key_len, expected) in [
            (ptr::null(), 1, FgStatus::NullPointer),
            (b"k".as_ptr(), 0, FgStatus::EmptyKey),
        ] {
            // SAFETY: the limiter outlives its store's handle; `key` is
            // NULL or readable, `out` writable.
            let status =
                unsafe { fg_leased_limiter_check(limiter, key, key_len, 1, decision.as_mut_ptr()) };
            assert_eq!(status, expected);
        }
        assert_eq!(
            counters(limiter).1.leases,
            0,
            "a refused check leases nothing"
        );
        // A server that is away: the failure policy answers, within the deadline.
        // SAFETY: as above.
        let status =
            unsafe { fg_leased_limiter_check(limiter, b"k".as_ptr(), 1, 1, decision.as_mut_ptr()) };
        assert_eq!(status, FgStatus::Ok);
        // SAFETY: written by the successful call.
        assert!(!unsafe { decision.assume_init() }.admitted);
        assert_eq!(counters(limiter).0.failed_closed, 1);
        // SAFETY: live handle, not used again.
        unsafe { fg_leased_limiter_free(limiter) };
    }

    #[test]
    fn failing_local_admits_this_processs_share() {
        // Nothing listens on port 1: every lease call fails at once.
        let store = open("redis://127.0.0.1:1/");
        let given = FgLeaseConfig {
            on_failure: FG_ON_FAILURE_LOCAL,
            ..config(b"")
        };
        let mut limiter = ptr::null_mut();
        // SAFETY: live store, readable structs, writable out.
        let status = unsafe { fg_leased_limiter_new(store, &quota(30), &given, &mut limiter) };
        assert_eq!(status, FgStatus::Ok);
        let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
        // SAFETY: live handle, readable key, writable out.
        let status =
            unsafe { fg_leased_limiter_check(limiter, b"k".as_ptr(), 1, 1, decision.as_mut_ptr()) };
        assert_eq!(status, FgStatus::Ok);
        // SAFETY: written by the successful call.
        assert!(unsafe { decision.assume_init() }.admitted);
        let (store_counters, _) = counters(limiter);
        assert_eq!(
            (store_counters.local_admitted, store_counters.failed_open),
            (1, 0)
        );
        // SAFETY: live handles, not used again.
        unsafe {
            fg_leased_limiter_free(limiter);
            fg_redis_store_free(store);
        }
    }

    #[test]
    fn a_leased_limiter_and_layers_decide_from_a_real_redis() {
        let server = super::super::store::redis_common::RedisServer::shared();
        let store = open(&server.url());
        let prefix = format!("ffi-lease:{}:", std::process::id());

        let mut limiter = ptr::null_mut();
        // SAFETY: live store, readable structs, writable out.
        let status = unsafe {
            fg_leased_limiter_new(store, &quota(10), &config(prefix.as_bytes()), &mut limiter)
        };
        assert_eq!(status, FgStatus::Ok);
        let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
        let mut admitted = 0;
        for _ in 0..25 {
            let out = decision.as_mut_ptr();
            // SAFETY: live handle, readable key, writable out.
            let status = unsafe { fg_leased_limiter_check(limiter, b"k".as_ptr(), 1, 1, out) };
            assert_eq!(status, FgStatus::Ok);
            // SAFETY: written by the successful call.
            admitted += usize::from(unsafe { decision.assume_init() }.admitted);
        }
        // One process holds or spends every token of the burst: exactly 10.
        assert_eq!(admitted, 10);
        let (store_counters, leases) = counters(limiter);
        assert_eq!((store_counters.errors, store_counters.timeouts), (0, 0));
        assert!(leases.leases >= 1 && leases.granted >= 10, "{leases:?}");
        assert!(leases.local >= 1, "{leases:?}");

        // Two layers: a refusal by one spends neither.
        let (key_prefix, workspace_prefix) = (format!("{prefix}k:"), format!("{prefix}w:"));
        let (key_quota, workspace_quota) = (quota(10), quota(1));
        let given = [
            layer(FG_SCOPE_KEY, &key_prefix, &key_quota),
            layer(FG_SCOPE_WORKSPACE, &workspace_prefix, &workspace_quota),
        ];
        let mut layers = ptr::null_mut();
        // SAFETY: live store, readable array and config, writable out.
        let status =
            unsafe { fg_leased_layers_new(store, given.as_ptr(), 2, &config(b""), &mut layers) };
        assert_eq!(status, FgStatus::Ok);
        let key = bytes_key;
        let mut verdict = std::mem::MaybeUninit::<FgVerdict>::zeroed();
        let mut check = |keys: [FgLayerKey; 2]| {
            // SAFETY: live handle, readable keys, writable out.
            let status = unsafe {
                fg_leased_layers_check(layers, keys.as_ptr(), 2, 1, verdict.as_mut_ptr())
            };
            assert_eq!(status, FgStatus::Ok);
            // SAFETY: written by the successful call.
            read_verdict(unsafe { verdict.assume_init() })
        };
        assert!(check([key(b"a"), key(b"ws")]).0);
        assert_eq!(
            check([key(b"b"), key(b"ws")]),
            (false, 1, "workspace".into())
        );
        // Key "b" took its token back when the workspace refused.
        assert_eq!(
            check([key(b"b"), key(b"ws2")]),
            (true, 1, "workspace".into())
        );
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
        let status =
            unsafe { fg_leased_layers_check(layers, wrong.as_ptr(), 2, 1, verdict.as_mut_ptr()) };
        assert_eq!(status, FgStatus::KeyKindMismatch);
        // SAFETY: live handles, not used again.
        unsafe {
            fg_leased_layers_free(layers);
            fg_leased_limiter_free(limiter);
            fg_redis_store_free(store);
        }
    }
}
