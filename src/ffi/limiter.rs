//! `fg_limiter`: one GCRA bucket behind an opaque handle.

use super::args::{self, Out, VersionedOut};
use super::decision::{answer, reserve_into, FgDecision};
use super::handle;
use super::quota::{self, FgQuota};
use super::shared::{self, SharedHandle};
use super::shared_memory::{self, FgSharedMemory};
use super::status::{guard, FgStatus};
use crate::core::decision::Decision;
use crate::limiter::Limiter;
use std::time::Duration;

/// An opaque handle to one rate-limited bucket, timed by the library's
/// monotonic clock or by timestamps the caller supplies (`*_at` functions).
/// Create with `fg_limiter_new`, release with `fg_limiter_free`. A policy
/// built from it keeps the bucket alive after `fg_limiter_free`.
pub struct FgLimiter {
    _opaque: [u8; 0],
}

impl SharedHandle for FgLimiter {
    type Inner = Limiter;
}

/// Creates a limiter whose bucket starts full, and stores its handle in `*out`.
/// On failure `*out` is set to NULL (when `out` itself is usable).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, the quota errors (`FG_STATUS_ZERO_COUNT` ...
/// `FG_STATUS_BURST_TOO_LARGE`), `FG_STATUS_PANIC`.
///
/// # Safety
/// `quota` must be NULL or point to `quota->struct_size` readable bytes; `out`
/// must be NULL or point to writable storage for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_new(
    quota: *const FgQuota,
    out: *mut *mut FgLimiter,
) -> FgStatus {
    let make = || {
        // SAFETY: `quota` readable for its struct_size by the caller's contract.
        let quota = unsafe { args::read_config(quota, "quota") }?.to_quota()?;
        Ok(shared::into_handle(Limiter::builder(quota).build()))
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_limiter_new", out, make) }
}

/// `fg_limiter_new` in shared mode: the bucket lives in the segment
/// `shared` names, so every process that creates this limiter with the same
/// segment and quota charges one bucket (see `fg_shared_memory`). The first
/// process creates the segment with a full bucket; the others open it. The
/// handle's clock is the machine's timeline (`fg_machine_now_ns`).
///
/// Errors: those of `fg_limiter_new`; for `shared`, those of
/// `fg_shared_memory_remove`; `FG_STATUS_SEGMENT_MISMATCH` (the segment
/// holds another kind of limiter or another quota: the message says which
/// field, its value in the segment and the one asked for),
/// `FG_STATUS_SEGMENT_NOT_READY`, `FG_STATUS_SHARED_UNSUPPORTED`.
///
/// # Safety
/// As `fg_limiter_new`; `shared` NULL or readable for its `struct_size`,
/// its `name` or `path` readable for its length.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_new_shared(
    quota: *const FgQuota,
    shared: *const FgSharedMemory,
    out: *mut *mut FgLimiter,
) -> FgStatus {
    let make = || {
        // SAFETY: `quota` readable for its struct_size by the caller's contract.
        let quota = unsafe { args::read_config(quota, "quota") }?.to_quota()?;
        // SAFETY: as above, for `shared`.
        let shared = unsafe { shared_memory::read(shared) }?;
        let limiter = Limiter::builder(quota).shared(shared).build()?;
        Ok(shared::into_handle(limiter))
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_limiter_new_shared", out, make) }
}

/// Stores in `*out_shared` whether the bucket lives in a shared segment
/// (made by `fg_limiter_new_shared`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `out_shared` NULL or writable
/// for a `bool`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_is_shared(
    limiter: *const FgLimiter,
    out_shared: *mut bool,
) -> FgStatus {
    let limiter = limiter.cast::<Limiter>();
    // SAFETY: a live handle points to a Limiter (shared::into_handle); the
    // rest is this function's contract.
    unsafe {
        shared_memory::answer_is_shared(
            "fg_limiter_is_shared",
            limiter,
            "limiter",
            out_shared,
            Limiter::is_shared,
        )
    }
}

/// Releases a limiter. NULL is a no-op. The handle must not be in use by any
/// other thread, and must not be used (or freed) again afterwards. Policies
/// built from it keep using the bucket until they are freed.
///
/// # Safety
/// `limiter` must be NULL or a handle from `fg_limiter_new` not yet freed,
/// with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_free(limiter: *mut FgLimiter) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_limiter_free", limiter, shared::release) }
}

/// The shared body of every call that answers with a decision: checks both
/// pointers before `operation` runs, so a refused call charges nothing.
///
/// # Safety
/// The contract of the export calling it: `limiter` NULL or live, `out` NULL
/// or writable for an `fg_decision`.
#[inline(always)]
unsafe fn decide(
    function: &'static str,
    limiter: *const FgLimiter,
    out: *mut FgDecision,
    operation: impl FnOnce(&Limiter) -> Decision,
) -> FgStatus {
    // SAFETY: this function's contract is `answer`'s.
    unsafe {
        answer(
            function,
            limiter.cast::<Limiter>(),
            "limiter",
            out,
            |limiter| Ok(operation(limiter)),
        )
    }
}

/// Decides a request of `cost` units now, by the library's monotonic clock,
/// and fills `*out`. A cost of 0 only peeks; a cost above the burst answers
/// `FG_OUTCOME_CANNOT_FIT` and charges nothing. A denied request is not an
/// error: the status is `FG_STATUS_OK` and `out->admitted` is false.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `out` NULL or writable for an `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_check(
    limiter: *const FgLimiter,
    cost: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide("fg_limiter_check", limiter, out, |limiter| {
            limiter.check(cost)
        })
    }
}

/// `fg_limiter_check` at `now_ns`, a caller-supplied timestamp in nanoseconds
/// on any monotonic timeline of the caller's choosing (its origin does not
/// matter). Feed one limiter from one timeline: mixing these with the clock
/// functions compares unrelated times. A timestamp slightly behind an earlier
/// one only makes the limiter stricter.
///
/// Errors: as `fg_limiter_check`.
///
/// # Safety
/// As `fg_limiter_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_check_at(
    limiter: *const FgLimiter,
    cost: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide("fg_limiter_check_at", limiter, out, |limiter| {
            limiter.check_at(cost, now_ns)
        })
    }
}

/// Fills `*out` with the bucket as it stands now, charging nothing (the same
/// as a check of cost 0).
///
/// Errors: as `fg_limiter_check`.
///
/// # Safety
/// As `fg_limiter_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_peek(
    limiter: *const FgLimiter,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe { decide("fg_limiter_peek", limiter, out, Limiter::peek) }
}

/// `fg_limiter_peek` at a caller-supplied `now_ns` (see `fg_limiter_check_at`).
///
/// Errors: as `fg_limiter_check`.
///
/// # Safety
/// As `fg_limiter_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_peek_at(
    limiter: *const FgLimiter,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide("fg_limiter_peek_at", limiter, out, |limiter| {
            limiter.peek_at(now_ns)
        })
    }
}

/// Gives back `amount` units (say, the work they paid for failed) and fills
/// `*out` with the bucket afterwards. The bucket never goes above its burst,
/// so any amount is accepted.
///
/// Errors: as `fg_limiter_check`.
///
/// # Safety
/// As `fg_limiter_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_refund(
    limiter: *const FgLimiter,
    amount: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide("fg_limiter_refund", limiter, out, |limiter| {
            limiter.refund(amount)
        })
    }
}

/// `fg_limiter_refund` at a caller-supplied `now_ns` (see `fg_limiter_check_at`).
///
/// Errors: as `fg_limiter_check`.
///
/// # Safety
/// As `fg_limiter_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_refund_at(
    limiter: *const FgLimiter,
    amount: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide("fg_limiter_refund_at", limiter, out, |limiter| {
            limiter.refund_at(amount, now_ns)
        })
    }
}

/// Replaces the quota while other threads keep checking. What was used carries
/// over, counted in requests and capped at the new burst: a bucket that used
/// 40 of 60 has 60 left under a burst of 100, and 0 under a burst of 20.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, the quota errors, `FG_STATUS_PANIC`; on error the
/// old quota stays in force.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `quota` NULL or readable for
/// `quota->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_reconfigure(
    limiter: *const FgLimiter,
    quota: *const FgQuota,
) -> FgStatus {
    // SAFETY: this function's contract is `reconfigure`'s.
    unsafe { reconfigure("fg_limiter_reconfigure", limiter, quota, None) }
}

/// `fg_limiter_reconfigure` at a caller-supplied `now_ns` (see `fg_limiter_check_at`).
///
/// Errors: as `fg_limiter_reconfigure`.
///
/// # Safety
/// As `fg_limiter_reconfigure`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_reconfigure_at(
    limiter: *const FgLimiter,
    quota: *const FgQuota,
    now_ns: u64,
) -> FgStatus {
    // SAFETY: this function's contract is `reconfigure`'s.
    unsafe { reconfigure("fg_limiter_reconfigure_at", limiter, quota, Some(now_ns)) }
}

/// # Safety
/// `limiter` NULL or live; `quota` NULL or readable for its `struct_size`.
unsafe fn reconfigure(
    function: &'static str,
    limiter: *const FgLimiter,
    quota: *const FgQuota,
    now_ns: Option<u64>,
) -> FgStatus {
    let apply = |limiter: &Limiter, quota| match now_ns {
        Some(now_ns) => limiter.reconfigure_at(quota, now_ns),
        None => limiter.reconfigure(quota),
    };
    // SAFETY: this function's contract is `quota::reconfigure`'s.
    unsafe { quota::reconfigure(function, limiter, quota, apply) }
}

/// Fills `*out` with the quota in force. Set `out->struct_size =
/// sizeof(fg_quota)` first; the library keeps it and zeroes any bytes past
/// the fields it knows.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `out` NULL or readable and
/// writable for `out->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_quota(
    limiter: *const FgLimiter,
    out: *mut FgQuota,
) -> FgStatus {
    guard("fg_limiter_quota", || {
        // SAFETY: NULL or live, by the contract.
        let limiter = unsafe { shared::borrow(limiter, "limiter") }?;
        // SAFETY: readable for a usize, by the contract.
        let out = unsafe { VersionedOut::new(out, "out") }?;
        // SAFETY: writable for its struct_size, by the contract.
        unsafe { out.write(FgQuota::from_quota(&limiter.quota())) };
        Ok(())
    })
}

/// Delay instead of reject (Genera: "throttled or delayed"): reserves `cost`
/// units now if they are available within `max_wait_ns`, and stores in
/// `*out_delay_ns` how long to wait before proceeding (0 when they are
/// available at once). Past `max_wait_ns` the reservation is denied like a
/// check, with `retry_after_ns` the wait after which it would be accepted,
/// and `*out_delay_ns` is 0. Cancel an admitted reservation with
/// `fg_limiter_refund` of its cost.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `out` NULL or writable for an
/// `fg_decision`; `out_delay_ns` NULL or writable for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_reserve(
    limiter: *const FgLimiter,
    cost: u64,
    max_wait_ns: u64,
    out: *mut FgDecision,
    out_delay_ns: *mut u64,
) -> FgStatus {
    // SAFETY: this function's contract is `reserve_into`'s.
    unsafe {
        reserve_into(
            "fg_limiter_reserve",
            limiter.cast::<Limiter>(),
            "limiter",
            out,
            out_delay_ns,
            |limiter| Ok(limiter.reserve(cost, Duration::from_nanos(max_wait_ns))),
        )
    }
}

/// `fg_limiter_reserve` at a caller-supplied `now_ns` (see `fg_limiter_check_at`).
///
/// Errors: as `fg_limiter_reserve`.
///
/// # Safety
/// As `fg_limiter_reserve`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_reserve_at(
    limiter: *const FgLimiter,
    cost: u64,
    max_wait_ns: u64,
    now_ns: u64,
    out: *mut FgDecision,
    out_delay_ns: *mut u64,
) -> FgStatus {
    // SAFETY: this function's contract is `reserve_into`'s.
    unsafe {
        reserve_into(
            "fg_limiter_reserve_at",
            limiter.cast::<Limiter>(),
            "limiter",
            out,
            out_delay_ns,
            |limiter| Ok(limiter.reserve_at(cost, Duration::from_nanos(max_wait_ns), now_ns)),
        )
    }
}

/// Suspends the bucket (Genera: "non-compliance can suspend access") until
/// `until_ns` on its timeline (the library's clock, or the caller's for `_at`
/// users). Checks meanwhile answer `FG_OUTCOME_SUSPENDED` and charge nothing;
/// the bucket keeps its state for when the suspension ends or is lifted.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_suspend_until(
    limiter: *const FgLimiter,
    until_ns: u64,
) -> FgStatus {
    // SAFETY: this function's contract is `administer`'s.
    unsafe {
        administer("fg_limiter_suspend_until", limiter, |limiter| {
            limiter.suspend_until(Some(until_ns))
        })
    }
}

/// Suspends the bucket indefinitely, until `fg_limiter_lift_suspension`;
/// suspended decisions then carry a `retry_after_ns` of 0.
///
/// Errors: as `fg_limiter_suspend_until`.
///
/// # Safety
/// As `fg_limiter_suspend_until`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_suspend(limiter: *const FgLimiter) -> FgStatus {
    // SAFETY: this function's contract is `administer`'s.
    unsafe {
        administer("fg_limiter_suspend", limiter, |limiter| {
            limiter.suspend_until(None)
        })
    }
}

/// Suspends the bucket for `duration_ns` from now on the library's clock.
///
/// Errors: as `fg_limiter_suspend_until`.
///
/// # Safety
/// As `fg_limiter_suspend_until`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_suspend_for(
    limiter: *const FgLimiter,
    duration_ns: u64,
) -> FgStatus {
    // SAFETY: this function's contract is `administer`'s.
    unsafe {
        administer("fg_limiter_suspend_for", limiter, |limiter| {
            limiter.suspend_for(Duration::from_nanos(duration_ns))
        })
    }
}

/// Ends a suspension; the next check is decided by the bucket again.
///
/// Errors: as `fg_limiter_suspend_until`.
///
/// # Safety
/// As `fg_limiter_suspend_until`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_lift_suspension(limiter: *const FgLimiter) -> FgStatus {
    // SAFETY: this function's contract is `administer`'s.
    unsafe {
        administer(
            "fg_limiter_lift_suspension",
            limiter,
            Limiter::lift_suspension,
        )
    }
}

/// Stores whether the bucket is suspended at `now_ns` in `*out_suspended`,
/// and the suspension's end in `*out_until_ns`: 0 when it has no end, or when
/// the bucket is not suspended.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `out_suspended` NULL or writable
/// for a `bool`; `out_until_ns` NULL or writable for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_limiter_suspension_at(
    limiter: *const FgLimiter,
    now_ns: u64,
    out_suspended: *mut bool,
    out_until_ns: *mut u64,
) -> FgStatus {
    guard("fg_limiter_suspension_at", || {
        // SAFETY: NULL or live, by the contract.
        let limiter = unsafe { shared::borrow(limiter, "limiter") }?;
        let out_suspended = Out::new(out_suspended, "out_suspended")?;
        let out_until_ns = Out::new(out_until_ns, "out_until_ns")?;
        let suspension = limiter.suspension_at(now_ns);
        // SAFETY: both checked non-NULL and aligned; writable by the contract.
        unsafe {
            out_suspended.write(suspension.is_some());
            out_until_ns.write(suspension.flatten().unwrap_or(0));
        }
        Ok(())
    })
}

/// Runs an administrative `operation` that cannot fail on a live limiter.
///
/// # Safety
/// `limiter` NULL or live.
unsafe fn administer(
    function: &'static str,
    limiter: *const FgLimiter,
    operation: impl FnOnce(&Limiter),
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        operation(unsafe { shared::borrow(limiter, "limiter") }?);
        Ok(())
    })
}
