//! Status codes, the per-thread last-error message, and the guard every
//! export runs its body in (argument failures and panics become statuses).

use crate::core::error::Error;
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
    /// A config struct's `struct_size` was smaller than the struct's first
    /// version, not a multiple of its alignment, larger than 4096, or larger
    /// with non-zero bytes past the fields this version knows (a newer caller
    /// asked for something this library lacks). A caller built against an
    /// older header declares an older, smaller size: that is accepted, and
    /// the fields added since read as zero.
    StructSize = -3,
    /// A length argument is impossible: more than `PTRDIFF_MAX` bytes, or an
    /// IP address key that is not 4 or 16 bytes.
    InvalidLength = -4,
    /// An argument is invalid in a way no more specific status names.
    InvalidArgument = -5,
    /// A caller's buffer is too small for the text; the call stored the
    /// length needed (without the terminating NUL) in its `out_len`.
    BufferTooSmall = -6,
    /// A name or template argument is not UTF-8.
    InvalidUtf8 = -7,
    /// A keyed call's key is of another kind than the limiter's (a `u64` key
    /// for a byte-keyed limiter, say), or a layer key of the wrong kind for
    /// its layer.
    KeyKindMismatch = -8,
    /// The memory a capacity argument asks for could not be allocated (the
    /// allocator refused it: say, 2^32 keyed slots on a machine without
    /// 64 GiB). Nothing was created; `fg_last_error_message` gives the size.
    /// The process is never aborted for a capacity.
    AllocationFailed = -9,
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
    /// A quota's `lockout_ns` plus its burst exceeds what a bucket can hold
    /// (2^59 ticks).
    LockoutTooLong = -16,
    /// A quota's rate needs a tick finer than 1/32 ns, and rounding its
    /// interval up to a whole tick would enforce it more than 100 ppm below
    /// `count / period_ns` (999,999,937 per second would lose 3 %).
    InexactRate = -17,
    /// A policy was given no layers.
    NoLayers = -20,
    /// A policy was given more than 32 layers.
    TooManyLayers = -21,
    /// A layered check got a different number of keys than the policy has layers.
    LayerKeyCount = -22,
    /// No layer has that index.
    NoSuchLayer = -23,
    /// A sliding window's or in-flight cap's limit was 0.
    ZeroLimit = -30,
    /// A limit above what its counter holds (`FG_MAX_WINDOW_LIMIT` for a
    /// window, `FG_MAX_IN_FLIGHT` for an in-flight cap).
    LimitTooLarge = -31,
    /// A sliding window's length was 0.
    ZeroWindow = -32,
    /// A sliding window longer than 2^62 ns.
    WindowTooLong = -33,
    /// The in-flight permit was already released (nothing changed).
    PermitAlreadyReleased = -40,
    /// The in-flight permit belongs to another cap, or was never issued.
    ForeignPermit = -41,
    /// A `Retry-After` value that is neither seconds nor an HTTP date.
    InvalidRetryAfter = -50,
    /// A message template with an unknown `{placeholder}` or a stray brace.
    InvalidTemplate = -51,
    /// A retry policy with a zero factor or an initial delay above its cap.
    InvalidRetryPolicy = -52,
    /// A `RateLimit-Policy` name with a character outside printable ASCII.
    InvalidPolicyName = -53,
    /// A keyed limiter's capacity was 0.
    ZeroCapacity = -60,
    /// A keyed limiter's capacity is above 2^32 keys.
    CapacityTooLarge = -61,
    /// A byte key was empty.
    EmptyKey = -62,
    /// A byte key was longer than `FG_MAX_KEY_LEN` bytes.
    KeyTooLong = -63,
    /// The key has no slot and its probe window holds only active keys, so
    /// a per-key quota could not be pinned for it.
    TableFull = -64,
    /// The keyed limiter already holds its `max_overrides` per-key quotas.
    TooManyOverrides = -65,
    /// A shared segment's file could not be opened, sized or mapped (the
    /// message gives the system's reason).
    SegmentIo = -70,
    /// A shared segment exists with another kind, quota, capacity or
    /// options (the message says which field differs).
    SegmentMismatch = -71,
    /// A shared segment's creator was still setting it up when the wait ran out.
    SegmentNotReady = -72,
    /// Shared mode is not available on this system or CPU.
    SharedUnsupported = -73,
    /// A segment name with a character other than ASCII letters, digits,
    /// '.', '_' and '-', or empty, or over 200 bytes.
    InvalidSegmentName = -74,
    /// A Redis store's URL did not parse: `redis://host:port/db` and
    /// `redis+unix:///path` are the forms.
    InvalidStoreUrl = -80,
    /// A Redis store's runtime thread, an `_async` call's notifier thread or
    /// an answer queue's socket pair could not be made (the process is out
    /// of threads or descriptors).
    StoreThread = -81,
    /// This library was built without Redis support (the cargo feature
    /// `redis`): `fg_redis_store_open` refuses, so no Redis handle exists.
    StoreUnavailable = -82,
    /// floodgate panicked: a bug, reported rather than unwound into C. Objects
    /// change state only by whole atomic updates, so the handle stays
    /// consistent and may still be used and freed; the message says what failed.
    Panic = -100,
}

impl From<Error> for FgStatus {
    fn from(error: Error) -> Self {
        // Exhaustive on purpose: a new `Error` variant must get its own status.
        match error {
            Error::ZeroCount => FgStatus::ZeroCount,
            Error::ZeroPeriod => FgStatus::ZeroPeriod,
            Error::ZeroBurst => FgStatus::ZeroBurst,
            Error::PeriodTooLong => FgStatus::PeriodTooLong,
            Error::RateTooHigh => FgStatus::RateTooHigh,
            Error::BurstTooLarge => FgStatus::BurstTooLarge,
            Error::LockoutTooLong => FgStatus::LockoutTooLong,
            Error::NoLayers => FgStatus::NoLayers,
            Error::TooManyLayers => FgStatus::TooManyLayers,
            Error::LayerKeyCount => FgStatus::LayerKeyCount,
            Error::LayerKeyMismatch => FgStatus::KeyKindMismatch,
            Error::NoSuchLayer => FgStatus::NoSuchLayer,
            Error::ZeroLimit => FgStatus::ZeroLimit,
            Error::LimitTooLarge => FgStatus::LimitTooLarge,
            Error::ZeroWindow => FgStatus::ZeroWindow,
            Error::WindowTooLong => FgStatus::WindowTooLong,
            Error::PermitAlreadyReleased => FgStatus::PermitAlreadyReleased,
            Error::ForeignPermit => FgStatus::ForeignPermit,
            Error::InvalidRetryAfter => FgStatus::InvalidRetryAfter,
            Error::InvalidTemplate => FgStatus::InvalidTemplate,
            Error::InvalidRetryPolicy => FgStatus::InvalidRetryPolicy,
            Error::InvalidPolicyName => FgStatus::InvalidPolicyName,
            Error::ZeroCapacity => FgStatus::ZeroCapacity,
            Error::CapacityTooLarge => FgStatus::CapacityTooLarge,
            Error::EmptyKey => FgStatus::EmptyKey,
            Error::KeyTooLong => FgStatus::KeyTooLong,
            Error::TableFull => FgStatus::TableFull,
            Error::TooManyOverrides => FgStatus::TooManyOverrides,
            Error::InexactRate => FgStatus::InexactRate,
            Error::AllocationFailed { .. } => FgStatus::AllocationFailed,
            Error::SegmentIo { .. } => FgStatus::SegmentIo,
            Error::SegmentMismatch(_) => FgStatus::SegmentMismatch,
            Error::SegmentNotReady => FgStatus::SegmentNotReady,
            Error::SharedUnsupported => FgStatus::SharedUnsupported,
            Error::InvalidSegmentName => FgStatus::InvalidSegmentName,
        }
    }
}

#[cfg(feature = "redis")]
impl From<crate::store::StoreError> for Failure {
    #[cold]
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        let status = match error {
            StoreError::InvalidUrl => FgStatus::InvalidStoreUrl,
            StoreError::Thread => FgStatus::StoreThread,
        };
        Failure::new(status, error.to_string())
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
