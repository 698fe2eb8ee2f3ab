//! The error type every fallible floodgate call returns.

use std::fmt;

/// Why a floodgate call refused its input. A call that returns an error has
/// changed no state.
///
/// ```
/// use floodgate::{Error, Quota};
/// assert_eq!(Quota::per_second(0), Err(Error::ZeroCount));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// A quota's count of requests per period was zero.
    ZeroCount,
    /// A quota's period was zero.
    ZeroPeriod,
    /// A quota's burst capacity was zero.
    ZeroBurst,
    /// The period does not fit in 64 bits of nanoseconds (about 584 years).
    PeriodTooLong,
    /// The rate is above one request per nanosecond (10^9 per second).
    RateTooHigh,
    /// Burst times the emission interval exceeds the span the state word can
    /// hold (2^59 ticks: about 18 years of refill time at one tick per ns).
    BurstTooLarge,
    /// A quota's lockout plus its burst exceeds the span the state word can
    /// hold (2^59 ticks).
    LockoutTooLong,
    /// A policy was built without layers.
    NoLayers,
    /// A policy was given more than [`MAX_LAYERS`](crate::MAX_LAYERS) layers.
    TooManyLayers,
    /// A layered check got a different number of keys than the policy has layers.
    LayerKeyCount,
    /// A key of the wrong kind for its layer (say, a key for an unkeyed layer).
    LayerKeyMismatch,
    /// No layer has that index.
    NoSuchLayer,
    /// A sliding window's or in-flight cap's limit was zero.
    ZeroLimit,
    /// A limit above what its counter can hold: [`MAX_WINDOW_LIMIT`](crate::MAX_WINDOW_LIMIT)
    /// for a sliding window, [`MAX_IN_FLIGHT`](crate::MAX_IN_FLIGHT) for an in-flight cap.
    LimitTooLarge,
    /// A sliding window's length was zero.
    ZeroWindow,
    /// A sliding window longer than [`MAX_WINDOW`](crate::MAX_WINDOW).
    WindowTooLong,
    /// The in-flight permit was already released.
    PermitAlreadyReleased,
    /// The in-flight permit belongs to another in-flight cap.
    ForeignPermit,
    /// A `Retry-After` value that is neither (fractional) seconds nor an HTTP date.
    InvalidRetryAfter,
    /// A message template with an unknown `{placeholder}` or an unmatched brace.
    InvalidTemplate,
    /// A retry policy with a zero growth factor or an initial delay above its cap.
    InvalidRetryPolicy,
    /// A `RateLimit-Policy` name with a character outside printable ASCII.
    InvalidPolicyName,
    /// A keyed limiter built with a capacity of zero keys.
    ZeroCapacity,
    /// A keyed limiter capacity above [`MAX_KEYED_CAPACITY`](crate::MAX_KEYED_CAPACITY).
    CapacityTooLarge,
    /// An empty byte-string key.
    EmptyKey,
    /// A byte-string key longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) bytes.
    KeyTooLong,
    /// Both candidate buckets of the key in a keyed limiter hold only active
    /// keys, so a per-key quota could not be pinned for it.
    TableFull,
    /// A keyed limiter already holds its maximum number of per-key quotas.
    TooManyOverrides,
    /// A quota whose emission interval is not a whole number of ticks of
    /// 1/[`MAX_TICKS_PER_NS`](crate::MAX_TICKS_PER_NS) ns, and rounding it up
    /// to one would enforce a rate more than
    /// [`MAX_RATE_ERROR_PPM`](crate::MAX_RATE_ERROR_PPM) below `count / period`
    /// (999,999,937 per second would lose 3 %).
    InexactRate,
    /// A table sized by the requested capacity (a keyed limiter's slots,
    /// its per-key quota table, a keyed window or suspension map) could not
    /// be allocated: the allocator refused `bytes` bytes. Nothing was built
    /// or changed; ask for a smaller capacity.
    AllocationFailed {
        /// The size of the allocation that was refused.
        bytes: usize,
    },
    /// A shared segment's file could not be opened, sized or mapped: the
    /// system's error number says why (`EACCES`: another user's segment;
    /// `ENOSPC`: /dev/shm is full). Nothing was built.
    SegmentIo {
        /// Which step failed.
        step: SegmentStep,
        /// The system's `errno`.
        errno: i32,
    },
    /// A shared segment already exists with another layout, kind, quota,
    /// capacity or options than this build asked for: every process must
    /// build a shared limiter alike. Nothing was built; remove the segment
    /// ([`SharedMemory::remove`](crate::SharedMemory::remove)) to start
    /// afresh with the new settings.
    SegmentMismatch(SegmentMismatch),
    /// A shared segment was still being set up by a live process when the
    /// opener's wait ([`SharedMemory::wait`](crate::SharedMemory::wait)) ran
    /// out.
    SegmentNotReady,
    /// Shared mode needs a 16-byte compare-and-swap that is lock-free on
    /// this CPU (a lock in one process would not protect a segment other
    /// processes map) and a Unix system; this one has not both.
    SharedUnsupported,
    /// A segment name that is empty, longer than 200 bytes, or has a
    /// character other than ASCII letters, digits, `.`, `_` and `-`.
    InvalidSegmentName,
}

/// The step of setting up a shared segment that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentStep {
    /// Creating or opening its file.
    Open,
    /// Giving its file the size of its tables.
    Size,
    /// Mapping it into memory.
    Map,
    /// Removing its file.
    Remove,
}

/// What differs between a shared segment and the build that opened it.
///
/// ```
/// use floodgate::{Error, Quota, SharedMemory, Limiter};
/// let name = format!("doc-mismatch-{}", std::process::id());
/// let shared = SharedMemory::named(&name)?;
/// let first = Limiter::builder(Quota::per_second(30)?).shared(shared.clone()).build()?;
/// let other = Limiter::builder(Quota::per_second(60)?).shared(shared.clone()).build();
/// let Err(Error::SegmentMismatch(mismatch)) = other else { panic!() };
/// assert_eq!(mismatch.field(), "quota count");
/// assert_eq!((mismatch.in_segment(), mismatch.requested()), (30, 60));
/// drop(first);
/// shared.remove()?;
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentMismatch {
    pub(crate) field: &'static str,
    pub(crate) in_segment: u64,
    pub(crate) requested: u64,
}

impl SegmentMismatch {
    /// Which header field differs: "magic", "layout version", "kind",
    /// "quota count", "quota period (ns)", "quota burst", "quota lockout
    /// (ns)", "window limit", "window (ns)", "capacity", "options",
    /// "timeline" (the machine clock calibration in
    /// `/dev/shm/floodgate.timeline` was replaced since the segment was
    /// made: restart every worker) or "size".
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The field's value in the segment (a kind as its code).
    pub fn in_segment(&self) -> u64 {
        self.in_segment
    }

    /// The field's value this build asked for, in the same units.
    pub fn requested(&self) -> u64 {
        self.requested
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::ZeroCount => "quota count must be at least 1",
            Error::ZeroPeriod => "quota period must be at least 1 ns",
            Error::ZeroBurst => "quota burst must be at least 1",
            Error::PeriodTooLong => "quota period must fit in 2^64 ns",
            Error::RateTooHigh => "quota rate must not exceed 1 per ns (1e9 per second)",
            Error::BurstTooLarge => "quota burst x emission interval exceeds 2^59 ticks",
            Error::LockoutTooLong => "quota lockout plus burst exceeds 2^59 ticks",
            Error::NoLayers => "a policy needs at least one layer",
            Error::TooManyLayers => "a policy has at most 32 layers",
            Error::LayerKeyCount => "a layered check needs exactly one key per layer",
            Error::LayerKeyMismatch => "key of the wrong kind for its layer",
            Error::NoSuchLayer => "no layer has that index",
            Error::ZeroLimit => "limit must be at least 1",
            Error::LimitTooLarge => "limit exceeds what the counter can hold",
            Error::ZeroWindow => "window must be at least 1 ns",
            Error::WindowTooLong => "window must not exceed 2^62 ns",
            Error::PermitAlreadyReleased => "in-flight permit already released",
            Error::ForeignPermit => "in-flight permit belongs to another cap",
            Error::InvalidRetryAfter => "Retry-After is neither seconds nor an HTTP date",
            Error::InvalidTemplate => "message template has an unknown placeholder or stray brace",
            Error::InvalidRetryPolicy => {
                "retry policy needs factor >= 1 and initial delay <= max delay"
            }
            Error::InvalidPolicyName => "policy name must be printable ASCII",
            Error::ZeroCapacity => "keyed limiter capacity must be at least 1",
            Error::CapacityTooLarge => "keyed limiter capacity exceeds MAX_KEYED_CAPACITY",
            Error::EmptyKey => "key must not be empty",
            Error::KeyTooLong => "key exceeds MAX_KEY_LEN bytes",
            Error::TableFull => "no free slot for the key in the keyed limiter",
            Error::TooManyOverrides => "keyed limiter holds its maximum number of per-key quotas",
            Error::InexactRate => {
                "quota rate cannot be kept within 100 ppm of count/period at 1/32 ns ticks"
            }
            Error::AllocationFailed { bytes } => {
                return write!(
                    f,
                    "could not allocate {bytes} bytes for a table of the requested capacity"
                )
            }
            Error::SegmentIo { step, errno } => {
                let step = match step {
                    SegmentStep::Open => "open",
                    SegmentStep::Size => "size",
                    SegmentStep::Map => "map",
                    SegmentStep::Remove => "remove",
                };
                return write!(
                    f,
                    "could not {step} the shared segment: {}",
                    std::io::Error::from_raw_os_error(*errno)
                );
            }
            Error::SegmentMismatch(SegmentMismatch {
                field,
                in_segment,
                requested,
            }) => {
                return write!(
                    f,
                    "the shared segment's {field} is {in_segment}, this build asked for \
                     {requested}: every process must build it alike (remove the segment to \
                     change it)"
                )
            }
            Error::SegmentNotReady => {
                "the shared segment's creator is still setting it up; the wait ran out"
            }
            Error::SharedUnsupported => {
                "shared mode needs Unix and a lock-free 16-byte compare-and-swap"
            }
            Error::InvalidSegmentName => {
                "segment name must be 1-200 ASCII letters, digits, '.', '_' or '-'"
            }
        })
    }
}

impl std::error::Error for Error {}

/// Shorthand for results whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
