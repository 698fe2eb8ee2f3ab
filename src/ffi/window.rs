//! `fg_window`: a sliding-window counter (at most `limit` units in any window).

use super::decision::{answer, FgDecision};
use super::handle;
use super::shared::{self, SharedHandle};
use super::shared_memory::{self, FgSharedMemory};
use super::status::{guard, Failure, FgStatus};
use crate::core::decision::Decision;
use crate::window::SlidingWindow;
use std::time::Duration;

/// The largest limit a sliding window takes (its counts have 21 bits).
pub const FG_MAX_WINDOW_LIMIT: u64 = (1 << 21) - 1;
const _: () = assert!(FG_MAX_WINDOW_LIMIT == crate::window::MAX_WINDOW_LIMIT);

/// An opaque handle to a sliding-window counter: at most `limit` cost units
/// in any window of `window_ns`, estimated from the current and previous
/// window's counts (GenieOS: 600 requests per minute per workspace). Create
/// with `fg_window_new`, release with `fg_window_free`; a policy built from it
/// keeps it alive after that.
pub struct FgWindow {
    _opaque: [u8; 0],
}

impl SharedHandle for FgWindow {
    type Inner = SlidingWindow;
}

/// [`answer`] for the window behind a handle.
///
/// # Safety
/// As [`answer`].
#[inline(always)]
unsafe fn answer_window(
    function: &'static str,
    window: *const FgWindow,
    name: &'static str,
    out: *mut FgDecision,
    operation: impl FnOnce(&SlidingWindow) -> Result<Decision, Failure>,
) -> FgStatus {
    // SAFETY: a live handle points to a SlidingWindow (shared::into_handle).
    unsafe {
        answer(
            function,
            window.cast::<SlidingWindow>(),
            name,
            out,
            operation,
        )
    }
}

/// Creates an empty sliding window of `limit` units per `window_ns` and
/// stores its handle in `*out` (NULL on failure). Windows are aligned to the
/// timeline's origin (to minutes of Unix time when fed Unix nanoseconds).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_ZERO_LIMIT`, `FG_STATUS_LIMIT_TOO_LARGE` (above
/// `FG_MAX_WINDOW_LIMIT`), `FG_STATUS_ZERO_WINDOW`,
/// `FG_STATUS_WINDOW_TOO_LONG` (above 2^62 ns), `FG_STATUS_PANIC`.
///
/// # Safety
/// `out` must be NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_window_new(
    limit: u64,
    window_ns: u64,
    out: *mut *mut FgWindow,
) -> FgStatus {
    // SAFETY: this function's contract is `new_window`'s.
    unsafe { new_window("fg_window_new", limit, window_ns, None, out) }
}

/// `fg_window_new` in shared mode: the window's counts and limit live in
/// the segment `shared` names, so every process that creates this window
/// with the same segment, limit and length counts in one window, and a
/// `fg_window_reconfigure` by one is every process's limit (see
/// `fg_shared_memory`). The handle's clock is `CLOCK_MONOTONIC`.
///
/// Errors: those of `fg_window_new`; for `shared`, those of
/// `fg_shared_memory_remove`; `FG_STATUS_SEGMENT_MISMATCH` (the segment
/// holds another kind or another limit or window: the message names the
/// field), `FG_STATUS_SEGMENT_NOT_READY`, `FG_STATUS_SHARED_UNSUPPORTED`.
///
/// # Safety
/// As `fg_window_new`; `shared` NULL or readable for its `struct_size`, its
/// `name` or `path` readable for its length.
#[no_mangle]
pub unsafe extern "C" fn fg_window_new_shared(
    limit: u64,
    window_ns: u64,
    shared: *const FgSharedMemory,
    out: *mut *mut FgWindow,
) -> FgStatus {
    // SAFETY: this function's contract is `new_window`'s.
    unsafe { new_window("fg_window_new_shared", limit, window_ns, Some(shared), out) }
}

/// The body of both constructors: `shared` is `None` for the heap.
///
/// # Safety
/// A `Some(shared)` NULL or readable for its `struct_size` (the segment's
/// name or path for its length); `out` NULL or writable for a pointer.
unsafe fn new_window(
    function: &'static str,
    limit: u64,
    window_ns: u64,
    shared: Option<*const FgSharedMemory>,
    out: *mut *mut FgWindow,
) -> FgStatus {
    let make = || {
        // SAFETY: by the contract.
        let shared = unsafe { shared_memory::read_if(shared) }?;
        let builder = SlidingWindow::builder(limit, Duration::from_nanos(window_ns));
        let window = match shared {
            Some(shared) => builder.shared(shared).build()?,
            None => builder.build()?,
        };
        Ok(shared::into_handle(window))
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create(function, out, make) }
}

/// Stores in `*out_shared` whether the window lives in a shared segment
/// (made by `fg_window_new_shared`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `window` must be NULL or a live handle; `out_shared` NULL or writable for
/// a `bool`.
#[no_mangle]
pub unsafe extern "C" fn fg_window_is_shared(
    window: *const FgWindow,
    out_shared: *mut bool,
) -> FgStatus {
    let window = window.cast::<SlidingWindow>();
    // SAFETY: a live handle points to a SlidingWindow (shared::into_handle);
    // the rest is this function's contract.
    unsafe {
        shared_memory::answer_is_shared(
            "fg_window_is_shared",
            window,
            "window",
            out_shared,
            SlidingWindow::is_shared,
        )
    }
}

/// Releases a window. NULL is a no-op. The handle must not be in use by any
/// other thread, and must not be used (or freed) again afterwards.
///
/// # Safety
/// `window` must be NULL or a live handle from `fg_window_new`, with no call
/// on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_window_free(window: *mut FgWindow) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_window_free", window, shared::release) }
}

/// Decides `cost` units now (the library's clock) and fills `*out`; as
/// `fg_limiter_check`. A denial's `retry_after_ns` is when enough of the
/// previous window has slid out for the cost to fit.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `window` must be NULL or a live handle; `out` NULL or writable for an `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_window_check(
    window: *const FgWindow,
    cost: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `answer`'s.
    unsafe {
        answer_window("fg_window_check", window, "window", out, |window| {
            Ok(window.check(cost))
        })
    }
}

/// `fg_window_check` at a caller-supplied `now_ns` (see `fg_limiter_check_at`).
///
/// Errors: as `fg_window_check`.
///
/// # Safety
/// As `fg_window_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_window_check_at(
    window: *const FgWindow,
    cost: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `answer`'s.
    unsafe {
        answer_window("fg_window_check_at", window, "window", out, |window| {
            Ok(window.check_at(cost, now_ns))
        })
    }
}

/// Fills `*out` with the window as it stands now, charging nothing.
///
/// Errors: as `fg_window_check`.
///
/// # Safety
/// As `fg_window_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_window_peek(window: *const FgWindow, out: *mut FgDecision) -> FgStatus {
    // SAFETY: this function's contract is `answer`'s.
    unsafe {
        answer_window("fg_window_peek", window, "window", out, |window| {
            Ok(window.peek())
        })
    }
}

/// `fg_window_peek` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_window_check`.
///
/// # Safety
/// As `fg_window_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_window_peek_at(
    window: *const FgWindow,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `answer`'s.
    unsafe {
        answer_window("fg_window_peek_at", window, "window", out, |window| {
            Ok(window.peek_at(now_ns))
        })
    }
}

/// Gives back `amount` units charged in the current window (never below
/// empty) and fills `*out` with the window afterwards.
///
/// Errors: as `fg_window_check`.
///
/// # Safety
/// As `fg_window_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_window_refund(
    window: *const FgWindow,
    amount: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `answer`'s.
    unsafe {
        answer_window("fg_window_refund", window, "window", out, |window| {
            Ok(window.refund(amount))
        })
    }
}

/// `fg_window_refund` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_window_check`.
///
/// # Safety
/// As `fg_window_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_window_refund_at(
    window: *const FgWindow,
    amount: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `answer`'s.
    unsafe {
        answer_window("fg_window_refund_at", window, "window", out, |window| {
            Ok(window.refund_at(amount, now_ns))
        })
    }
}

/// Replaces the limit while checks go on (a plan change: Hobby 600 to Pro
/// 1,800 per minute); what the windows counted is kept.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_ZERO_LIMIT`, `FG_STATUS_LIMIT_TOO_LARGE`, `FG_STATUS_PANIC`;
/// on error the old limit stays.
///
/// # Safety
/// `window` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fg_window_reconfigure(window: *const FgWindow, limit: u64) -> FgStatus {
    guard("fg_window_reconfigure", || {
        // SAFETY: NULL or live, by the contract.
        let window = unsafe { shared::borrow(window, "window") }?;
        Ok(window.reconfigure(limit)?)
    })
}
