//! `fg_inflight`: a cap on requests in flight at once, released explicitly.

use super::args::{self, Out};
use super::handle;
use super::shared_memory::{self, FgSharedMemory};
use super::status::{guard, FgStatus};
use crate::inflight::{Acquisition, InFlight, PermitToken};

/// The largest in-flight cap (the cap keeps 8 bytes per unit).
pub const FG_MAX_IN_FLIGHT: u64 = 1 << 20;
const _: () = assert!(FG_MAX_IN_FLIGHT == crate::inflight::MAX_IN_FLIGHT);

/// An opaque handle to an in-flight cap (GenieOS: 4 batch calls in flight
/// per workspace). Create with `fg_inflight_new`, release with
/// `fg_inflight_free`.
pub struct FgInFlight {
    cap: InFlight,
}

/// A held unit of an in-flight cap: give it back with `fg_inflight_release`
/// exactly once. Two plain integers, safe to copy; a copy released a second
/// time is refused with `FG_STATUS_PERMIT_ALREADY_RELEASED`, and a permit
/// given to another cap with `FG_STATUS_FOREIGN_PERMIT`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgPermit {
    /// The process-unique id of the cap it came from (0 in a permit that was
    /// not acquired); a shared cap's id is alike in every process, so any
    /// of them may release the permit.
    pub owner: u64,
    /// Which unit of the cap, and which claim of it.
    pub ticket: u64,
}

/// What `fg_inflight_acquire` answers. Output only; the layout is fixed for
/// ABI major version 1.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgAcquisition {
    /// Whether a permit was taken (false: the cap was full; not an error).
    pub acquired: bool,
    /// The permit to release; `{0, 0}` when none was taken.
    pub permit: FgPermit,
    /// Permits out just after this acquire (this one included when taken).
    pub in_flight: u64,
    /// The cap.
    pub limit: u64,
}

/// What a try-acquire answers, as C sees it; a taken permit becomes its token.
pub(crate) fn acquisition(attempt: Acquisition<'_>) -> FgAcquisition {
    match attempt {
        Acquisition::Granted(permit) => {
            let (in_flight, limit) = (permit.in_flight(), permit.limit());
            let token = permit.into_token();
            FgAcquisition {
                acquired: true,
                permit: FgPermit {
                    owner: token.owner(),
                    ticket: token.ticket(),
                },
                in_flight,
                limit,
            }
        }
        Acquisition::Refused(full) => FgAcquisition {
            acquired: false,
            permit: FgPermit {
                owner: 0,
                ticket: 0,
            },
            in_flight: full.in_flight(),
            limit: full.limit(),
        },
    }
}

/// Creates a cap of `max` permits in flight at once, none out, and stores its
/// handle in `*out` (NULL on failure).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_ZERO_LIMIT`, `FG_STATUS_LIMIT_TOO_LARGE` (above
/// `FG_MAX_IN_FLIGHT`), `FG_STATUS_PANIC`.
///
/// # Safety
/// `out` must be NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_inflight_new(max: u64, out: *mut *mut FgInFlight) -> FgStatus {
    // SAFETY: this function's contract is `new_cap`'s.
    unsafe { new_cap("fg_inflight_new", max, None, out) }
}

/// `fg_inflight_new` in shared mode: the permits live in the segment
/// `shared` names, so every process that creates this cap with the same
/// segment and `max` shares one `max`, and a permit taken in one process
/// may be released in another (see `fg_shared_memory`). Permits held by a
/// process that dies come back: an acquire that finds the cap full checks
/// one holder's process (each in turn) and frees its permit if it is gone.
///
/// Errors: those of `fg_inflight_new`; for `shared`, those of
/// `fg_shared_memory_remove`; `FG_STATUS_SEGMENT_MISMATCH` (the segment
/// holds another kind or `max`: the message names the field, "capacity"
/// for `max`), `FG_STATUS_SEGMENT_NOT_READY`, `FG_STATUS_SHARED_UNSUPPORTED`.
///
/// # Safety
/// As `fg_inflight_new`; `shared` NULL or readable for its `struct_size`,
/// its `name` or `path` readable for its length.
#[no_mangle]
pub unsafe extern "C" fn fg_inflight_new_shared(
    max: u64,
    shared: *const FgSharedMemory,
    out: *mut *mut FgInFlight,
) -> FgStatus {
    // SAFETY: this function's contract is `new_cap`'s.
    unsafe { new_cap("fg_inflight_new_shared", max, Some(shared), out) }
}

/// The body of both constructors: `shared` is `None` for the heap.
///
/// # Safety
/// A `Some(shared)` NULL or readable for its `struct_size` (the segment's
/// name or path for its length); `out` NULL or writable for a pointer.
unsafe fn new_cap(
    function: &'static str,
    max: u64,
    shared: Option<*const FgSharedMemory>,
    out: *mut *mut FgInFlight,
) -> FgStatus {
    let make = || {
        // SAFETY: by the contract.
        let shared = unsafe { shared_memory::read_if(shared) }?;
        let cap = match shared {
            Some(shared) => InFlight::builder(max).shared(shared).build()?,
            None => InFlight::builder(max).build()?,
        };
        Ok(handle::boxed(FgInFlight { cap }))
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create(function, out, make) }
}

/// Stores in `*out_shared` whether the cap's permits live in a shared
/// segment (made by `fg_inflight_new_shared`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `cap` must be NULL or a live handle; `out_shared` NULL or writable for a
/// `bool`.
#[no_mangle]
pub unsafe extern "C" fn fg_inflight_is_shared(
    cap: *const FgInFlight,
    out_shared: *mut bool,
) -> FgStatus {
    // SAFETY: this function's contract is `answer_is_shared`'s.
    unsafe {
        shared_memory::answer_is_shared("fg_inflight_is_shared", cap, "cap", out_shared, |h| {
            h.cap.is_shared()
        })
    }
}

/// Releases a cap. NULL is a no-op. Permits still out die with it. The handle
/// must not be in use by any other thread, and must not be used again.
///
/// # Safety
/// `cap` must be NULL or a live handle from `fg_inflight_new`, with no call
/// on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_inflight_free(cap: *mut FgInFlight) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_inflight_free", cap, handle::unbox) }
}

/// Takes a permit if fewer than the cap are out, and fills `*out`. A full cap
/// is not an error: `out->acquired` is false. Work done under a released
/// permit happens before work under a permit acquired after it.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `cap` must be NULL or a live handle; `out` NULL or writable for an `fg_acquisition`.
#[no_mangle]
pub unsafe extern "C" fn fg_inflight_acquire(
    cap: *const FgInFlight,
    out: *mut FgAcquisition,
) -> FgStatus {
    guard("fg_inflight_acquire", || {
        // SAFETY: NULL or live, by the contract.
        let cap = &unsafe { args::handle(cap, "cap") }?.cap;
        let out = Out::new(out, "out")?;
        let acquisition = acquisition(cap.try_acquire());
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(acquisition) };
        Ok(())
    })
}

/// Gives back the unit `permit` holds and stores the permits out afterwards
/// in `*out_in_flight`. A permit already released, or from another cap (or
/// never acquired), is refused and changes nothing.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_PERMIT_ALREADY_RELEASED`, `FG_STATUS_FOREIGN_PERMIT`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `cap` must be NULL or a live handle; `out_in_flight` NULL or writable for
/// a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_inflight_release(
    cap: *const FgInFlight,
    permit: FgPermit,
    out_in_flight: *mut u64,
) -> FgStatus {
    guard("fg_inflight_release", || {
        // SAFETY: NULL or live, by the contract.
        let cap = &unsafe { args::handle(cap, "cap") }?.cap;
        let out_in_flight = Out::new(out_in_flight, "out_in_flight")?;
        let in_flight = cap.release(PermitToken::from_parts(permit.owner, permit.ticket))?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_in_flight.write(in_flight) };
        Ok(())
    })
}

/// Stores the permits out right now in `*out_in_flight` (a snapshot) and the
/// cap in `*out_limit`.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `cap` must be NULL or a live handle; both outs NULL or writable for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_inflight_status(
    cap: *const FgInFlight,
    out_in_flight: *mut u64,
    out_limit: *mut u64,
) -> FgStatus {
    guard("fg_inflight_status", || {
        // SAFETY: NULL or live, by the contract.
        let cap = &unsafe { args::handle(cap, "cap") }?.cap;
        let out_in_flight = Out::new(out_in_flight, "out_in_flight")?;
        let out_limit = Out::new(out_limit, "out_limit")?;
        // SAFETY: both checked non-NULL and aligned; writable by the contract.
        unsafe {
            out_in_flight.write(cap.in_flight());
            out_limit.write(cap.limit());
        }
        Ok(())
    })
}
