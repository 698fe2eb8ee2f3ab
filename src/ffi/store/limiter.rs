//! `fg_redis_limiter`: a GCRA bucket per key kept in Redis.

use super::*;

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
    let mut builder = settings.apply(RedisLimiter::builder(store, quota.to_quota()?));
    // SAFETY: as this function's contract.
    if let Some(prefix) = unsafe { prefix(config) }? {
        builder = builder.prefix(prefix);
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
    let make = |store: &RedisStore, config: &FgRedisConfig| {
        // SAFETY: readable for its struct_size, by the contract.
        let quota = unsafe { args::read_config(quota, "quota") }?;
        // SAFETY: `config->prefix` readable for its length, by the contract.
        unsafe { build(store, &quota, config) }
    };
    // SAFETY: this function's contract is `build_on_store`'s.
    unsafe { build_on_store("fg_redis_limiter_new", store, config, out, make) }
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
            "limiter",
            key,
            key_len,
            out,
            |limiter: &RedisLimiter, key| limiter.check(key, cost),
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
            "limiter",
            key,
            key_len,
            out,
            |limiter: &RedisLimiter, key| limiter.peek(key),
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
            "limiter",
            key,
            key_len,
            out,
            |limiter: &RedisLimiter, key| limiter.refund(key, amount),
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
