//! `fg_redis_store` and `fg_redis_limiter`: fleet-wide limits kept in Redis
//! (the Rust `store` module), behind opaque handles.
//!
//! The functions exist in every build of the library, so the header and the
//! symbol list do not depend on the `redis` feature: a binding loads the
//! same functions from any build, and a library built without the feature
//! answers `fg_redis_store_open` with `FG_STATUS_STORE_UNAVAILABLE` (no
//! other function can then get a handle to act on). Guarding the
//! declarations with a macro instead would make one header describe two
//! ABIs, and a program linked against the wrong one fail to load rather
//! than report why.

use super::args::{self, VersionedOut};
use super::decision::{answer, FgDecision};
use super::handle;
use super::quota::FgQuota;
use super::status::{Failure, FgStatus};
use std::ffi::c_char;
use std::time::Duration;

#[cfg(feature = "redis")]
use crate::store::{OnFailure, RedisLimiter, RedisStore, StoreCounters};
#[cfg(not(feature = "redis"))]
use absent::{counters_of, OnFailure, RedisLimiter, RedisStore};

/// A Redis server that limiters keep their buckets in: one multiplexed
/// connection and one runtime thread, shared by every limiter made on it.
/// Opening never waits on the server (it connects on first use). Create with
/// `fg_redis_store_open`, release with `fg_redis_store_free`; the limiters
/// made on it keep it alive after that.
pub struct FgRedisStore {
    _opaque: [u8; 0],
}

/// A GCRA bucket per byte key, decided in Redis by one script per call with
/// the server's clock, so every process and host using the same server and
/// prefix enforces one limit. Its decisions are an `fg_keyed_limiter`'s for
/// the same quota. Create with `fg_redis_limiter_new`, release with
/// `fg_redis_limiter_free`.
pub struct FgRedisLimiter {
    _opaque: [u8; 0],
}

/// `fg_redis_config.on_failure`: when Redis gives no answer within the
/// deadline (or the breaker is open), admit the request.
pub const FG_ON_FAILURE_OPEN: u32 = 0;
/// `fg_redis_config.on_failure`: when Redis gives no answer, deny the
/// request, with the breaker's cool-down as its retry-after.
pub const FG_ON_FAILURE_CLOSED: u32 = 1;

/// How a Redis limiter reaches Redis; every field left 0 (or NULL) keeps its
/// default:
///
/// ```c
/// fg_redis_config config = { .struct_size = sizeof(fg_redis_config),
///                            .prefix = "api:", .prefix_len = 4,
///                            .deadline_ns = 3000000,
///                            .on_failure = FG_ON_FAILURE_CLOSED };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgRedisConfig {
    /// `sizeof(fg_redis_config)` as the caller compiled it.
    pub struct_size: usize,
    /// What every bucket's Redis key starts with (bytes, no NUL needed);
    /// NULL for `"floodgate:"`. Limits with different quotas need different
    /// prefixes: a bucket is read under the quota of whoever reads it.
    pub prefix: *const c_char,
    /// The length of `prefix` in bytes.
    pub prefix_len: usize,
    /// How long a call may wait for Redis, connecting included; 0 for 5 ms.
    pub deadline_ns: u64,
    /// `FG_ON_FAILURE_OPEN` (0, the default) or `FG_ON_FAILURE_CLOSED`.
    pub on_failure: u32,
    /// The circuit breaker opens after this many failures in a row; 0 for 5.
    pub breaker_failures: u32,
    /// An open breaker lets one call probe Redis after this long; 0 for 250 ms.
    pub breaker_cool_down_ns: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, integers and raw pointers only.
unsafe impl args::Versioned for FgRedisConfig {
    const MIN_SIZE: usize = std::mem::size_of::<FgRedisConfig>();
}

/// A Redis limiter's counts so far, for monitoring. Set `struct_size`
/// before the call; later versions may add fields.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct FgStoreCounters {
    /// `sizeof(fg_store_counters)` as the caller compiled it.
    pub struct_size: usize,
    /// Decisions Redis made.
    pub exact: u64,
    /// Denials the local deny cache answered without a round trip.
    pub cached: u64,
    /// Requests admitted by `FG_ON_FAILURE_OPEN` without Redis deciding.
    pub failed_open: u64,
    /// Requests denied by `FG_ON_FAILURE_CLOSED` without Redis deciding.
    pub failed_closed: u64,
    /// Calls that reached their deadline.
    pub timeouts: u64,
    /// Calls that failed with an error (connection refused or dropped, a
    /// server error).
    pub errors: u64,
    /// Degraded decisions given without trying Redis, the breaker being open.
    pub skipped: u64,
    /// Times the breaker opened.
    pub breaker_opened: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, plain integers only.
unsafe impl args::Versioned for FgStoreCounters {
    const MIN_SIZE: usize = std::mem::size_of::<FgStoreCounters>();
}

/// A limiter's counters as C reads them.
#[cfg(feature = "redis")]
fn counters_of(limiter: &RedisLimiter) -> FgStoreCounters {
    FgStoreCounters::from(limiter.counters())
}

#[cfg(feature = "redis")]
impl From<StoreCounters> for FgStoreCounters {
    fn from(counters: StoreCounters) -> Self {
        Self {
            struct_size: std::mem::size_of::<Self>(),
            exact: counters.exact,
            cached: counters.cached,
            failed_open: counters.failed_open,
            failed_closed: counters.failed_closed,
            timeouts: counters.timeouts,
            errors: counters.errors,
            skipped: counters.skipped,
            breaker_opened: counters.breaker_opened,
        }
    }
}

/// Opens a store on the server at `url` (`redis://host:port/db`,
/// `redis+unix:///path`; UTF-8, no NUL needed) and stores its handle in
/// `*out`. Nothing connects yet: a server that is away is each limiter's
/// `on_failure` to answer. On failure `*out` is set to NULL.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_INVALID_UTF8`,
/// `FG_STATUS_INVALID_STORE_URL`, `FG_STATUS_STORE_THREAD`,
/// `FG_STATUS_STORE_UNAVAILABLE` (a library built without Redis support),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `url` must be NULL or readable for `url_len` bytes; `out` NULL or
/// writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_store_open(
    url: *const c_char,
    url_len: usize,
    out: *mut *mut FgRedisStore,
) -> FgStatus {
    let make = || {
        if url.is_null() {
            return Err(Failure::new(
                FgStatus::NullPointer,
                "`url` is NULL".to_string(),
            ));
        }
        // SAFETY: readable for url_len bytes, by the contract.
        let url = unsafe { args::text(url.cast(), url_len, "url") }?;
        Ok(handle::boxed(RedisStore::open(url)?).cast::<FgRedisStore>())
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_redis_store_open", out, make) }
}

/// Releases a store. NULL is a no-op. Limiters made on it keep the
/// connection until they are freed; the last one closes it.
///
/// # Safety
/// `store` must be NULL or a handle from `fg_redis_store_open` not yet
/// freed, with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_store_free(store: *mut FgRedisStore) {
    // SAFETY: a live handle is a boxed RedisStore (fg_redis_store_open);
    // the rest is this function's contract.
    unsafe {
        handle::free(
            "fg_redis_store_free",
            store.cast::<RedisStore>(),
            handle::unbox,
        )
    }
}

/// Reads `config` into a limiter of `quota` on `store`.
fn build(
    store: &RedisStore,
    quota: &FgQuota,
    config: &FgRedisConfig,
) -> Result<RedisLimiter, Failure> {
    let on_failure = match config.on_failure {
        FG_ON_FAILURE_OPEN => OnFailure::Open,
        FG_ON_FAILURE_CLOSED => OnFailure::Closed,
        other => return Err(args::unknown_constant("config->on_failure", other)),
    };
    let mut builder = RedisLimiter::builder(store, quota.to_quota()?).on_failure(on_failure);
    if !config.prefix.is_null() {
        // SAFETY: readable for prefix_len bytes, by the export's contract.
        let prefix =
            unsafe { args::bytes(config.prefix.cast(), config.prefix_len, "config->prefix") }?;
        builder = builder.prefix(prefix);
    }
    if config.deadline_ns != 0 {
        builder = builder.deadline(Duration::from_nanos(config.deadline_ns));
    }
    match (config.breaker_failures, config.breaker_cool_down_ns) {
        (0, 0) => {}
        (0, _) | (_, 0) => {
            return Err(Failure::new(
                FgStatus::InvalidArgument,
                "`config->breaker_failures` and `config->breaker_cool_down_ns` are set together \
                 (both 0 keeps the defaults)"
                    .to_string(),
            ))
        }
        (failures, cool_down_ns) => {
            builder = builder.breaker(failures, Duration::from_nanos(cool_down_ns));
        }
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
    let make = || {
        // SAFETY: a live handle is a boxed RedisStore (fg_redis_store_open).
        let store = unsafe { args::handle(store.cast::<RedisStore>(), "store") }?;
        // SAFETY: readable for their struct_size, by the contract.
        let quota = unsafe { args::read_config(quota, "quota") }?;
        // SAFETY: as above.
        let config = unsafe { args::read_config(config, "config") }?;
        Ok(handle::boxed(build(store, &quota, &config)?).cast::<FgRedisLimiter>())
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_redis_limiter_new", out, make) }
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

/// The body of every call that answers one key's decision: checks the
/// handle, `out` and the key before `operation` sends anything.
///
/// # Safety
/// `limiter` NULL or live; `key` NULL or readable for `key_len` bytes;
/// `out` NULL or writable for an `fg_decision`.
unsafe fn decide(
    function: &'static str,
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    out: *mut FgDecision,
    operation: impl FnOnce(&RedisLimiter, &[u8]) -> crate::Result<crate::Decision>,
) -> FgStatus {
    // SAFETY: a live handle is a boxed RedisLimiter; the rest is `answer`'s contract.
    unsafe {
        answer(
            function,
            limiter.cast::<RedisLimiter>(),
            "limiter",
            out,
            |limiter| {
                // Inside the unsafe block above: `key` is readable for
                // `key_len` bytes, by the contract.
                let key = args::bytes(key, key_len, "key")?;
                Ok(operation(limiter, key)?)
            },
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
            key,
            key_len,
            out,
            |limiter, key| limiter.check(key, cost),
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
            key,
            key_len,
            out,
            |limiter, key| limiter.peek(key),
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
            key,
            key_len,
            out,
            |limiter, key| limiter.refund(key, amount),
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
    super::status::guard("fg_redis_limiter_counters", || {
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

/// What the exports act on in a library built without the `redis` feature:
/// types that have no values, since `fg_redis_store_open`, the only source
/// of a handle, refuses. The compiler then proves every other export can
/// only fail on its arguments.
#[cfg(not(feature = "redis"))]
mod absent {
    use super::super::status::{Failure, FgStatus};
    use crate::core::decision::Decision;
    use crate::core::error::Result;
    use crate::core::quota::Quota;
    use std::time::Duration;

    pub(super) enum RedisStore {}

    pub(super) enum RedisLimiter {}

    pub(super) struct RedisLimiterBuilder<'a>(&'a RedisStore);

    pub(super) enum OnFailure {
        Open,
        Closed,
    }

    impl RedisStore {
        pub(super) fn open(_url: &str) -> std::result::Result<Self, Failure> {
            Err(Failure::new(
                FgStatus::StoreUnavailable,
                "this library was built without Redis support (cargo feature `redis`)".to_string(),
            ))
        }
    }

    impl RedisLimiter {
        pub(super) fn builder(store: &RedisStore, _quota: Quota) -> RedisLimiterBuilder<'_> {
            RedisLimiterBuilder(store)
        }

        pub(super) fn check(&self, _key: &[u8], _cost: u64) -> Result<Decision> {
            match *self {}
        }

        pub(super) fn peek(&self, _key: &[u8]) -> Result<Decision> {
            match *self {}
        }

        pub(super) fn refund(&self, _key: &[u8], _amount: u64) -> Result<Decision> {
            match *self {}
        }
    }

    pub(super) fn counters_of(limiter: &RedisLimiter) -> super::FgStoreCounters {
        match *limiter {}
    }

    impl RedisLimiterBuilder<'_> {
        pub(super) fn on_failure(self, _on_failure: OnFailure) -> Self {
            self
        }

        pub(super) fn prefix(self, _prefix: &[u8]) -> Self {
            self
        }

        pub(super) fn deadline(self, _deadline: Duration) -> Self {
            self
        }

        pub(super) fn breaker(self, _failures: u32, _cool_down: Duration) -> Self {
            self
        }

        pub(super) fn build(self) -> Result<RedisLimiter> {
            match *self.0 {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    fn open(url: &str) -> (FgStatus, *mut FgRedisStore) {
        let mut store = ptr::null_mut();
        // SAFETY: `url` is readable for its length, `store` writable.
        let status = unsafe { fg_redis_store_open(url.as_ptr().cast(), url.len(), &mut store) };
        (status, store)
    }

    #[cfg(not(feature = "redis"))]
    #[test]
    fn a_library_without_redis_says_so() {
        let (status, store) = open("redis://127.0.0.1:6379/");
        assert_eq!(status, FgStatus::StoreUnavailable);
        assert!(store.is_null());
    }

    #[cfg(feature = "redis")]
    #[test]
    fn bad_arguments_are_statuses_and_build_nothing() {
        assert_eq!(open("http://x").0, FgStatus::InvalidStoreUrl);
        let mut store = ptr::null_mut();
        // SAFETY: a NULL url with a length is what is tested; `store` is writable.
        let status = unsafe { fg_redis_store_open(ptr::null(), 3, &mut store) };
        assert_eq!(status, FgStatus::NullPointer);
        // SAFETY: as above, with a URL that is not UTF-8.
        let status = unsafe { fg_redis_store_open(b"\xff".as_ptr().cast(), 1, &mut store) };
        assert_eq!(status, FgStatus::InvalidUtf8);

        // Nothing listens on port 1, and nothing connects before a check.
        let (status, store) = open("redis://127.0.0.1:1/");
        assert_eq!(status, FgStatus::Ok);
        let quota = FgQuota::from_quota(&crate::Quota::per_second(30).unwrap());
        let config = |on_failure, breaker_failures| FgRedisConfig {
            struct_size: std::mem::size_of::<FgRedisConfig>(),
            prefix: ptr::null(),
            prefix_len: 0,
            deadline_ns: 0,
            on_failure,
            breaker_failures,
            breaker_cool_down_ns: 0,
        };
        let mut limiter = ptr::null_mut();
        for (config, expected) in [
            (config(2, 0), FgStatus::InvalidArgument),
            (config(FG_ON_FAILURE_OPEN, 3), FgStatus::InvalidArgument),
        ] {
            // SAFETY: live store, readable structs, writable out.
            let status = unsafe { fg_redis_limiter_new(store, &quota, &config, &mut limiter) };
            assert_eq!(status, expected);
            assert!(limiter.is_null());
        }
        let closed = config(FG_ON_FAILURE_CLOSED, 0);
        // SAFETY: as above.
        let status = unsafe { fg_redis_limiter_new(store, &quota, &closed, &mut limiter) };
        assert_eq!(status, FgStatus::Ok);
        // SAFETY: live handle from fg_redis_store_open, not used again.
        unsafe { fg_redis_store_free(store) };

        let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
        for (key, key_len, expected) in [
            (ptr::null(), 1, FgStatus::NullPointer),
            (b"k".as_ptr(), 0, FgStatus::EmptyKey),
        ] {
            let out = decision.as_mut_ptr();
            // SAFETY: the limiter outlives its store's handle; `key` is
            // NULL or readable, `out` writable.
            let status = unsafe { fg_redis_limiter_check(limiter, key, key_len, 1, out) };
            assert_eq!(status, expected);
        }
        let mut counters = FgStoreCounters {
            struct_size: std::mem::size_of::<FgStoreCounters>(),
            ..FgStoreCounters::default()
        };
        // SAFETY: live handle, writable struct.
        let status = unsafe { fg_redis_limiter_counters(limiter, &mut counters) };
        assert_eq!(status, FgStatus::Ok);
        // Refused calls sent nothing, so nothing failed either.
        assert_eq!(
            (counters.exact, counters.errors, counters.timeouts),
            (0, 0, 0)
        );

        // A server that is away: the failure policy answers, within the deadline.
        let key = b"k";
        // SAFETY: as above.
        let status =
            unsafe { fg_redis_limiter_check(limiter, key.as_ptr(), 1, 1, decision.as_mut_ptr()) };
        assert_eq!(status, FgStatus::Ok);
        // SAFETY: written by the successful call.
        assert!(!unsafe { decision.assume_init() }.admitted);
        // SAFETY: as above.
        unsafe { fg_redis_limiter_counters(limiter, &mut counters) };
        assert_eq!(counters.failed_closed, 1);
        // SAFETY: live handle, not used again.
        unsafe { fg_redis_limiter_free(limiter) };
    }
}
