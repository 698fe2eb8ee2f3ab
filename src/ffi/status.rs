//! Status codes, the per-thread last-error message, and the guard every
//! export runs its body in (argument failures and panics become statuses).

use crate::error::Error;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{self, AssertUnwindSafe};

/// What a call did: `FG_STATUS_OK` (0) or why it refused (negative). A call
/// that returns an error has changed no state, and `fg_last_error_message`
/// then describes the error on the calling thread.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FgStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL (or a byte key was NULL with a
    /// non-zero length).
    NullPointer = -1,
    /// A pointer argument was not aligned for its type, so it cannot point to
    /// the object it claims to.
    MisalignedPointer = -2,
    /// A config struct's `struct_size` was smaller than this version's struct,
    /// larger than 4096, or larger with non-zero bytes past the fields this
    /// version knows (a newer caller asked for something this library lacks).
    StructSize = -3,
    /// A length argument is impossible (more than `PTRDIFF_MAX` bytes).
    InvalidLength = -4,
    /// An argument is invalid in a way no more specific status names.
    InvalidArgument = -5,
    /// A quota's `count` was 0.
    ZeroCount = -10,
    /// A quota's `period_ns` was 0.
    ZeroPeriod = -11,
    /// A quota's `burst` was 0.
    ZeroBurst = -12,
    /// A quota's period does not fit in 64 bits of nanoseconds.
    PeriodTooLong = -13,
    /// A quota's rate is above one per nanosecond (`count > period_ns`).
    RateTooHigh = -14,
    /// A quota's `burst` times its emission interval exceeds the 2^59 ticks a
    /// bucket can hold (about 18 years of refill at one tick per ns).
    BurstTooLarge = -15,
    /// floodgate panicked: a bug, reported rather than unwound into C. Objects
    /// change state only by whole atomic updates, so the handle stays
    /// consistent and may still be used and freed; the message says what failed.
    Panic = -100,
}

impl From<Error> for FgStatus {
    fn from(error: Error) -> Self {
        #[allow(unreachable_patterns)] // `Error` may gain variants before this map does.
        match error {
            Error::ZeroCount => FgStatus::ZeroCount,
            Error::ZeroPeriod => FgStatus::ZeroPeriod,
            Error::ZeroBurst => FgStatus::ZeroBurst,
            Error::PeriodTooLong => FgStatus::PeriodTooLong,
            Error::RateTooHigh => FgStatus::RateTooHigh,
            Error::BurstTooLarge => FgStatus::BurstTooLarge,
            _ => FgStatus::InvalidArgument,
        }
    }
}

/// Why a call failed, before it is recorded for `fg_last_error_message`.
/// Built only on the error path, so its allocation costs the fast path nothing.
#[derive(Debug)]
pub(crate) struct Failure {
    status: FgStatus,
    message: String,
}

impl Failure {
    #[cold]
    pub(crate) fn new(status: FgStatus, message: String) -> Self {
        Self { status, message }
    }
}

impl From<Error> for Failure {
    #[cold]
    fn from(error: Error) -> Self {
        Failure::new(error.into(), error.to_string())
    }
}

thread_local! {
    /// The calling thread's last error message, NUL-terminated for C.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Runs an export's body: returns `FG_STATUS_OK`, or records the failure (or
/// the panic) for this thread and returns its status. Nothing unwinds past it.
#[inline(always)]
pub(crate) fn guard(
    function: &'static str,
    body: impl FnOnce() -> Result<(), Failure>,
) -> FgStatus {
    // AssertUnwindSafe: every object behind a handle keeps its state in atomic
    // words changed by single compare-and-swaps, so a panic cannot leave one
    // half-updated for the caller's next call to observe.
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => FgStatus::Ok,
        Ok(Err(failure)) => record(function, failure),
        Err(payload) => record(function, panicked(payload)),
    }
}

#[cold]
#[inline(never)]
fn record(function: &'static str, failure: Failure) -> FgStatus {
    let text = format!("{function}: {}", failure.message).replace('\0', "\\0");
    let message = CString::new(text).unwrap_or_default();
    // A thread already tearing down its locals (a C destructor calling in)
    // keeps only the status: there is nowhere left to store the message.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = Some(message));
    failure.status
}

#[cold]
#[inline(never)]
fn panicked(payload: Box<dyn Any + Send>) -> Failure {
    let what = payload
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_string());
    // Dropping a payload runs arbitrary code that may itself panic; that second
    // payload is leaked rather than dropped so nothing can escape.
    if let Err(nested) = panic::catch_unwind(AssertUnwindSafe(|| drop(payload))) {
        std::mem::forget(nested);
    }
    Failure::new(
        FgStatus::Panic,
        format!("internal panic (a floodgate bug): {what}"),
    )
}

/// The message of the last failed call on the calling thread, e.g.
/// `"fg_limiter_new: quota burst must be at least 1"`; an empty string if no
/// call on this thread has failed. Successful calls leave it unchanged. The
/// string is owned by the library and stays valid until the next failing call
/// on the same thread, or the thread's exit. Never NULL.
#[no_mangle]
pub extern "C" fn fg_last_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ref().map(|message| message.as_ptr()))
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_message() -> String {
        // SAFETY: fg_last_error_message never returns NULL and the string
        // lives until the next failure on this thread.
        unsafe { CStr::from_ptr(fg_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard("fg_test", || panic!("boom"));
        assert_eq!(status, FgStatus::Panic);
        assert_eq!(
            last_message(),
            "fg_test: internal panic (a floodgate bug): boom"
        );
    }

    #[test]
    fn success_leaves_the_last_message_alone() {
        assert_eq!(last_message(), "");
        let status = guard("fg_test", || Err(Error::ZeroBurst.into()));
        assert_eq!(status, FgStatus::ZeroBurst);
        assert_eq!(guard("fg_test", || Ok(())), FgStatus::Ok);
        assert_eq!(last_message(), "fg_test: quota burst must be at least 1");
    }

    #[test]
    fn interior_nuls_do_not_truncate_the_message() {
        let failure = Failure::new(FgStatus::InvalidArgument, "a\0b".to_string());
        assert_eq!(guard("fg_test", || Err(failure)), FgStatus::InvalidArgument);
        assert_eq!(last_message(), "fg_test: a\\0b");
    }
}
