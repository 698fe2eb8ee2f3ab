//! `fg_keyed_inflight`: an in-flight cap per key (`u64`, bytes or IP
//! address), with `fg_inflight`'s permits and status codes.

use super::args::{self, Out};
use super::handle;
use super::inflight::{acquisition, FgAcquisition, FgPermit};
use super::key_kind::RawKey::{self, Bytes, Id};
use super::key_kind::{
    each_kind, ip_from_bytes, kind_mismatch, new_by_key_kind, with_key, Answered, ByKeyKind, CKey,
};
use super::shared_memory::{self, FgSharedMemory};
use super::status::{guard, FgStatus};
use crate::inflight::keyed::KeyedInFlight;
use crate::inflight::PermitToken;
use std::net::IpAddr;

/// An opaque handle to per-key in-flight caps (GenieOS: 4 batch calls in
/// flight per workspace). Create with `fg_keyed_inflight_new`, release with
/// `fg_keyed_inflight_free`.
pub struct FgKeyedInFlight {
    caps: Caps,
}

/// The caps behind a handle, by key kind.
type Caps = ByKeyKind<KeyedInFlight<u64>, KeyedInFlight<[u8]>, KeyedInFlight<IpAddr>>;

/// Creates caps of `max` permits in flight at once for each of up to
/// `capacity` keys of `key_kind` (`FG_KEY_U64`, `FG_KEY_BYTES` or
/// `FG_KEY_IP`), and stores the handle in `*out` (NULL on failure). A key's
/// cap is made by its first acquire and keeps its slot.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_ARGUMENT` (unknown `key_kind`), `FG_STATUS_ZERO_LIMIT`,
/// `FG_STATUS_LIMIT_TOO_LARGE` (above `FG_MAX_IN_FLIGHT`),
/// `FG_STATUS_ZERO_CAPACITY`, `FG_STATUS_CAPACITY_TOO_LARGE`,
/// `FG_STATUS_ALLOCATION_FAILED`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `out` must be NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_inflight_new(
    key_kind: u32,
    max: u64,
    capacity: u64,
    out: *mut *mut FgKeyedInFlight,
) -> FgStatus {
    // SAFETY: this function's contract is `new_caps`'.
    unsafe { new_caps("fg_keyed_inflight_new", key_kind, max, capacity, None, out) }
}

/// `fg_keyed_inflight_new` in shared mode: every key's cap lives in the
/// segment `shared` names, allocated up front, so every process that
/// creates these caps with the same segment and settings shares each key's
/// `max`; permits of a process that dies come back as
/// `fg_inflight_new_shared`'s do (see `fg_shared_memory`).
///
/// Errors: those of `fg_keyed_inflight_new`; for `shared`, those of
/// `fg_shared_memory_remove`; `FG_STATUS_SEGMENT_MISMATCH` (the segment
/// holds another kind or key kind (`FG_KEY_U64`,
/// `FG_KEY_BYTES` and `FG_KEY_IP` caps are each their own), capacity, or `max` (the field "options"): the message
/// names the field), `FG_STATUS_SEGMENT_NOT_READY`,
/// `FG_STATUS_SHARED_UNSUPPORTED`.
///
/// # Safety
/// As `fg_keyed_inflight_new`; `shared` NULL or readable for its
/// `struct_size`, its `name` or `path` readable for its length.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_inflight_new_shared(
    key_kind: u32,
    max: u64,
    capacity: u64,
    shared: *const FgSharedMemory,
    out: *mut *mut FgKeyedInFlight,
) -> FgStatus {
    let function = "fg_keyed_inflight_new_shared";
    let shared = Some(shared);
    // SAFETY: this function's contract is `new_caps`'.
    unsafe { new_caps(function, key_kind, max, capacity, shared, out) }
}

/// The body of both constructors: `shared` is `None` for the heap.
///
/// # Safety
/// A `Some(shared)` NULL or readable for its `struct_size` (the segment's
/// name or path for its length); `out` NULL or writable for a pointer.
unsafe fn new_caps(
    function: &'static str,
    key_kind: u32,
    max: u64,
    capacity: u64,
    shared: Option<*const FgSharedMemory>,
    out: *mut *mut FgKeyedInFlight,
) -> FgStatus {
    let make = || {
        // SAFETY: by the contract.
        let shared = unsafe { shared_memory::read_if(shared) }?;
        let capacity = args::saturating_usize(capacity);
        let caps: Caps = new_by_key_kind!(key_kind, "key_kind", |K| {
            let builder = KeyedInFlight::<K>::builder(max).capacity(capacity);
            match shared.clone() {
                Some(shared) => builder.shared(shared).build()?,
                None => builder.build()?,
            }
        });
        Ok(handle::boxed(FgKeyedInFlight { caps }))
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create(function, out, make) }
}

/// Stores in `*out_shared` whether the caps live in a shared segment (made
/// by `fg_keyed_inflight_new_shared`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `caps` must be NULL or a live handle; `out_shared` NULL or writable for
/// a `bool`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_inflight_is_shared(
    caps: *const FgKeyedInFlight,
    out_shared: *mut bool,
) -> FgStatus {
    // SAFETY: this function's contract is `answer_is_shared`'s.
    unsafe {
        shared_memory::answer_is_shared(
            "fg_keyed_inflight_is_shared",
            caps,
            "caps",
            out_shared,
            |h| each_kind!(&h.caps, |caps| caps.is_shared()),
        )
    }
}

/// Releases the caps. NULL is a no-op. Permits still out die with them. The
/// handle must not be in use by any other thread, and must not be used again.
///
/// # Safety
/// `caps` must be NULL or a live handle from `fg_keyed_inflight_new`, with
/// no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_inflight_free(caps: *mut FgKeyedInFlight) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_keyed_inflight_free", caps, handle::unbox) }
}

/// # Safety
/// `caps` NULL or live; `out` NULL or writable for an `fg_acquisition`.
unsafe fn acquire(
    function: &'static str,
    caps: *const FgKeyedInFlight,
    key: impl FnOnce() -> RawKey,
    out: *mut FgAcquisition,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let caps = &unsafe { args::handle(caps, "caps") }?.caps;
        let out = Out::new(out, "out")?;
        // SAFETY: the byte key readable for its length, by the contract.
        let key = unsafe { key().read() }?;
        let answer = with_key!(caps, key, |inner, key| inner
            .try_acquire(key)
            .map(acquisition));
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(answer?) };
        Ok(())
    })
}

/// Takes a permit for the `u64` key `key` if fewer than the cap are out for
/// it, and fills `*out`. A full cap is not an error: `out->acquired` is false.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_KEY_KIND_MISMATCH`, `FG_STATUS_TABLE_FULL` (no room for a new
/// key's cap), `FG_STATUS_PANIC`.
///
/// # Safety
/// `caps` must be NULL or a live handle; `out` NULL or writable for an `fg_acquisition`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_inflight_acquire_u64(
    caps: *const FgKeyedInFlight,
    key: u64,
    out: *mut FgAcquisition,
) -> FgStatus {
    // SAFETY: the contract is `acquire`'s.
    unsafe { acquire("fg_keyed_inflight_acquire_u64", caps, || Id(key), out) }
}

/// `fg_keyed_inflight_acquire_u64` for a byte or IP key (`key`, `len`).
///
/// Errors: as `fg_keyed_inflight_acquire_u64`, and `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_INVALID_LENGTH` (an IP key not 4 or
/// 16 bytes).
///
/// # Safety
/// As `fg_keyed_inflight_acquire_u64`; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_inflight_acquire_bytes(
    caps: *const FgKeyedInFlight,
    key: *const u8,
    len: usize,
    out: *mut FgAcquisition,
) -> FgStatus {
    // SAFETY: the contract is `acquire`'s.
    unsafe {
        acquire(
            "fg_keyed_inflight_acquire_bytes",
            caps,
            || Bytes(key, len),
            out,
        )
    }
}

/// # Safety
/// `caps` NULL or live; `out_in_flight` NULL or writable for a `uint64_t`.
unsafe fn release(
    function: &'static str,
    caps: *const FgKeyedInFlight,
    key: impl FnOnce() -> RawKey,
    permit: FgPermit,
    out_in_flight: *mut u64,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let caps = &unsafe { args::handle(caps, "caps") }?.caps;
        let out_in_flight = Out::new(out_in_flight, "out_in_flight")?;
        // SAFETY: the byte key readable for its length, by the contract.
        let key = unsafe { key().read() }?;
        let token = PermitToken::from_parts(permit.owner, permit.ticket);
        let in_flight: u64 = with_key!(caps, key, |inner, key| inner.release(key, token))?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_in_flight.write(in_flight) };
        Ok(())
    })
}

/// Gives back `permit`, acquired for the `u64` key `key`, and stores the
/// permits that key has out afterwards in `*out_in_flight`. A permit already
/// released, or acquired for another key or handle, is refused and changes
/// nothing.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_KEY_KIND_MISMATCH`, `FG_STATUS_PERMIT_ALREADY_RELEASED`,
/// `FG_STATUS_FOREIGN_PERMIT`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `caps` must be NULL or a live handle; `out_in_flight` NULL or writable for
/// a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_inflight_release_u64(
    caps: *const FgKeyedInFlight,
    key: u64,
    permit: FgPermit,
    out_in_flight: *mut u64,
) -> FgStatus {
    // SAFETY: the contract is `release`'s.
    unsafe {
        release(
            "fg_keyed_inflight_release_u64",
            caps,
            || Id(key),
            permit,
            out_in_flight,
        )
    }
}

/// `fg_keyed_inflight_release_u64` for a byte or IP key.
///
/// Errors: as `fg_keyed_inflight_release_u64`, and `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_INVALID_LENGTH`.
///
/// # Safety
/// As `fg_keyed_inflight_release_u64`; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_inflight_release_bytes(
    caps: *const FgKeyedInFlight,
    key: *const u8,
    len: usize,
    permit: FgPermit,
    out_in_flight: *mut u64,
) -> FgStatus {
    // SAFETY: the contract is `release`'s.
    unsafe {
        release(
            "fg_keyed_inflight_release_bytes",
            caps,
            || Bytes(key, len),
            permit,
            out_in_flight,
        )
    }
}

/// # Safety
/// `caps` NULL or live; both outs NULL or writable for a `uint64_t`.
unsafe fn in_flight(
    function: &'static str,
    caps: *const FgKeyedInFlight,
    key: impl FnOnce() -> RawKey,
    out_in_flight: *mut u64,
    out_limit: *mut u64,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let caps = &unsafe { args::handle(caps, "caps") }?.caps;
        let out_in_flight = Out::new(out_in_flight, "out_in_flight")?;
        let out_limit = Out::new(out_limit, "out_limit")?;
        // SAFETY: the byte key readable for its length, by the contract.
        let key = unsafe { key().read() }?;
        let in_flight: u64 = with_key!(caps, key, |inner, key| inner.in_flight(key))?;
        let limit = each_kind!(caps, |inner| inner.limit());
        // SAFETY: both checked non-NULL and aligned; writable by the contract.
        unsafe {
            out_in_flight.write(in_flight);
            out_limit.write(limit);
        }
        Ok(())
    })
}

/// Stores the permits the `u64` key has out right now in `*out_in_flight`
/// (a snapshot; 0 for a key never seen) and the cap per key in `*out_limit`.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_KEY_KIND_MISMATCH`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `caps` must be NULL or a live handle; both outs NULL or writable for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_inflight_in_flight_u64(
    caps: *const FgKeyedInFlight,
    key: u64,
    out_in_flight: *mut u64,
    out_limit: *mut u64,
) -> FgStatus {
    // SAFETY: the contract is `in_flight`'s.
    unsafe {
        in_flight(
            "fg_keyed_inflight_in_flight_u64",
            caps,
            || Id(key),
            out_in_flight,
            out_limit,
        )
    }
}

/// `fg_keyed_inflight_in_flight_u64` for a byte or IP key.
///
/// Errors: as `fg_keyed_inflight_in_flight_u64`, and `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_INVALID_LENGTH`.
///
/// # Safety
/// As `fg_keyed_inflight_in_flight_u64`; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_inflight_in_flight_bytes(
    caps: *const FgKeyedInFlight,
    key: *const u8,
    len: usize,
    out_in_flight: *mut u64,
    out_limit: *mut u64,
) -> FgStatus {
    // SAFETY: the contract is `in_flight`'s.
    unsafe {
        in_flight(
            "fg_keyed_inflight_in_flight_bytes",
            caps,
            || Bytes(key, len),
            out_in_flight,
            out_limit,
        )
    }
}
