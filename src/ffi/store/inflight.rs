//! `fg_redis_inflight` and `fg_redis_permit`: an in-flight cap per key
//! kept in Redis, its permits leases.

use super::*;

/// Creates a cap of `limit` requests per key in flight at once (at most
/// `FG_MAX_IN_FLIGHT`) on `store`, each permit leased for `lease_ns` (0 for
/// 30 s; at least a microsecond), and stores the handle in `*out` (NULL on
/// failure). `config->prefix` NULL keeps `"floodgate:inflight:"`. A host
/// that dies holding permits has them back in the fleet one lease after it
/// last took or renewed them.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_LENGTH`,
/// `FG_STATUS_ZERO_LIMIT`, `FG_STATUS_LIMIT_TOO_LARGE`,
/// `FG_STATUS_ZERO_WINDOW` (a lease under a microsecond),
/// `FG_STATUS_WINDOW_TOO_LONG` (a lease beyond 2^51 microseconds),
/// `FG_STATUS_INVALID_ARGUMENT` (an unknown `on_failure`, one breaker field
/// alone), `FG_STATUS_ALLOCATION_FAILED`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `store` must be NULL or a live handle; `config` NULL or readable for its
/// `struct_size`, `config->prefix` readable for its length; `out` NULL or
/// writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_inflight_new(
    store: *const FgRedisStore,
    limit: u64,
    lease_ns: u64,
    config: *const FgRedisConfig,
    out: *mut *mut FgRedisInFlight,
) -> FgStatus {
    let make = |store: &RedisStore, config: &FgRedisConfig| {
        let settings = Settings::read(config)?;
        let mut builder = settings.apply(RedisInFlight::builder(store, limit));
        if lease_ns != 0 {
            builder = builder.lease(Duration::from_nanos(lease_ns));
        }
        // SAFETY: `config->prefix` readable for its length, by the contract.
        if let Some(prefix) = unsafe { prefix(config) }? {
            builder = builder.prefix(prefix);
        }
        Ok(builder.build()?)
    };
    // SAFETY: this function's contract is `build_on_store`'s.
    unsafe { build_on_store("fg_redis_inflight_new", store, config, out, make) }
}

/// Releases a cap. NULL is a no-op. Its permits still out keep it alive
/// until they are released or freed.
///
/// # Safety
/// `caps` must be NULL or a handle from `fg_redis_inflight_new` not yet
/// freed, with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_inflight_free(caps: *mut FgRedisInFlight) {
    // SAFETY: a live handle is a boxed RedisInFlight (fg_redis_inflight_new);
    // the rest is this function's contract.
    unsafe {
        handle::free(
            "fg_redis_inflight_free",
            caps.cast::<RedisInFlight>(),
            handle::unbox,
        )
    }
}

/// A try-acquire's answer as C reads it, and the permit when one was taken.
#[cfg(feature = "redis")]
fn acquire(
    caps: &RedisInFlight,
    key: &[u8],
) -> crate::Result<(FgRedisAcquisition, Option<RedisPermit>)> {
    Ok(match caps.try_acquire(key)? {
        RedisAcquisition::Granted(permit) => (
            FgRedisAcquisition {
                acquired: true,
                in_flight: permit.in_flight(),
                limit: permit.limit(),
                lease_end_us: permit.lease_end_us().unwrap_or(0),
            },
            Some(permit),
        ),
        RedisAcquisition::Refused(full) => (
            FgRedisAcquisition {
                acquired: false,
                in_flight: full.in_flight(),
                limit: full.limit(),
                lease_end_us: 0,
            },
            None,
        ),
    })
}

/// Tries to take a permit of `key` (1 to `FG_MAX_KEY_LEN` bytes) in Redis:
/// fills `*out`, and stores the permit's handle in `*out_permit` when one
/// was taken (NULL when the cap was full, which is not an error). Blocks
/// until Redis answers or the deadline passes, then `on_failure` answers
/// (`FG_ON_FAILURE_LOCAL` takes a unit of this process's share, given back
/// locally).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_EMPTY_KEY`, `FG_STATUS_KEY_TOO_LONG`
/// (nothing is sent then), `FG_STATUS_PANIC`.
///
/// # Safety
/// `caps` must be NULL or a live handle; `key` NULL or readable for
/// `key_len` bytes; `out` NULL or writable for an `fg_redis_acquisition`;
/// `out_permit` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_inflight_acquire(
    caps: *const FgRedisInFlight,
    key: *const u8,
    key_len: usize,
    out: *mut FgRedisAcquisition,
    out_permit: *mut *mut FgRedisPermit,
) -> FgStatus {
    guard("fg_redis_inflight_acquire", || {
        // SAFETY: a live handle is a boxed RedisInFlight (fg_redis_inflight_new).
        let caps = unsafe { args::handle(caps.cast::<RedisInFlight>(), "caps") }?;
        let out = Out::new(out, "out")?;
        let out_permit = Out::new(out_permit, "out_permit")?;
        // SAFETY: readable for `key_len` bytes, by the contract.
        let key = unsafe { args::bytes(key, key_len, "key") }?;
        let (answer, permit) = acquire(caps, key)?;
        let permit = permit.map_or(std::ptr::null_mut(), |permit| {
            handle::boxed(permit).cast::<FgRedisPermit>()
        });
        // SAFETY: both checked non-NULL and aligned; writable by the contract.
        unsafe {
            out.write(answer);
            out_permit.write(permit);
        }
        Ok(())
    })
}

/// Renews `permit`'s lease for another lease from now and stores in
/// `*out_renewed` whether Redis did (false when Redis gave no answer, the
/// lease running on as it was, or the permit holds no lease).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_PERMIT_ALREADY_RELEASED` (its lease had ended, so its unit
/// may be another request's now; free the permit), `FG_STATUS_PANIC`.
///
/// # Safety
/// `permit` must be NULL or a live handle with no other call on it running
/// or starting concurrently; `out_renewed` NULL or writable for a `bool`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_permit_renew(
    permit: *mut FgRedisPermit,
    out_renewed: *mut bool,
) -> FgStatus {
    guard("fg_redis_permit_renew", || {
        // SAFETY: NULL or live, by the contract; this checks NULL and alignment.
        unsafe { args::handle(permit.cast_const(), "permit") }?;
        let out = Out::new(out_renewed, "out_renewed")?;
        // SAFETY: a live handle is a boxed RedisPermit (fg_redis_inflight_acquire),
        // checked non-NULL and aligned above; no other call uses it now, by
        // the contract, so this borrow is the only one.
        let permit = unsafe { &mut *permit.cast::<RedisPermit>() };
        let renewed = permit.renew()?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(renewed) };
        Ok(())
    })
}

/// Gives `permit` back and frees its handle, whatever the answer (do not
/// use it again). Stores in `*out_in_flight` the permits of its key still
/// out fleet-wide, or `UINT64_MAX` when that is not known (Redis gave no
/// answer, and the lease ends on its own; or the permit was this
/// process's, given back here).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`
/// (nothing is released then), `FG_STATUS_PERMIT_ALREADY_RELEASED` (its
/// lease had ended first), `FG_STATUS_PANIC`.
///
/// # Safety
/// `permit` must be NULL or a live handle with no other call on it running
/// or starting concurrently, not used again after a call that got past the
/// pointer checks; `out_in_flight` NULL or writable for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_permit_release(
    permit: *mut FgRedisPermit,
    out_in_flight: *mut u64,
) -> FgStatus {
    guard("fg_redis_permit_release", || {
        // SAFETY: NULL or live, by the contract; this checks NULL and alignment.
        unsafe { args::handle(permit.cast_const(), "permit") }?;
        let out = Out::new(out_in_flight, "out_in_flight")?;
        // SAFETY: a live handle from Box::into_raw (fg_redis_inflight_acquire),
        // owned by this call from here on, by the contract.
        let permit = unsafe { Box::from_raw(permit.cast::<RedisPermit>()) };
        let left = permit.release()?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(left.unwrap_or(u64::MAX)) };
        Ok(())
    })
}

/// Frees a permit, giving it back first, best effort (within the deadline;
/// a lease not given back ends on its own). NULL is a no-op.
///
/// # Safety
/// `permit` must be NULL or a live handle, with no call on it running or
/// starting concurrently, not used again.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_permit_free(permit: *mut FgRedisPermit) {
    // SAFETY: a live handle is a boxed RedisPermit (fg_redis_inflight_acquire);
    // the rest is this function's contract.
    unsafe {
        handle::free(
            "fg_redis_permit_free",
            permit.cast::<RedisPermit>(),
            handle::unbox,
        )
    }
}

/// Fills `*out` with the cap's counts so far (as `fg_redis_limiter_counters`;
/// an acquire is one decision).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `caps` must be NULL or a live handle; `out` NULL or writable for its
/// `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_inflight_counters(
    caps: *const FgRedisInFlight,
    out: *mut FgStoreCounters,
) -> FgStatus {
    guard("fg_redis_inflight_counters", || {
        // SAFETY: a live handle is a boxed RedisInFlight (fg_redis_inflight_new).
        let caps = unsafe { args::handle(caps.cast::<RedisInFlight>(), "caps") }?;
        // SAFETY: NULL or readable for its struct_size, by the contract.
        let out = unsafe { VersionedOut::new(out, "out") }?;
        let counters = inflight_counters_of(caps);
        // SAFETY: writable for its struct_size, by the contract.
        unsafe { out.write(counters) };
        Ok(())
    })
}
