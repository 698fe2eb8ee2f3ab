//! `fg_retry_*`: the client side of a 429, for C clients of a rate-limited
//! API. A plain config struct describes the policy (no handle to free):
//! `fg_retry_delay` says how long to wait before each retry, honouring the
//! server's `Retry-After` exactly, and `fg_parse_retry_after` reads that
//! header.

use super::args::{self, Out, Versioned, VersionedOut};
use super::status::{guard, Failure, FgStatus};
use crate::core::clock::saturating_nanos;
use crate::http::retry::{parse_retry_after, Jitter, RetryPolicy};
use std::ffi::c_char;
use std::time::{Duration, UNIX_EPOCH};

/// `fg_retry_config.jitter`: wait exactly the nominal delay.
pub const FG_JITTER_NONE: u32 = 0;
/// `fg_retry_config.jitter`: wait between half the nominal delay and all of it.
pub const FG_JITTER_EQUAL: u32 = 1;
/// `fg_retry_config.jitter`: wait between zero and the nominal delay.
pub const FG_JITTER_FULL: u32 = 2;

/// `fg_retry_config.flags`: draw jitter from `seed`, so equal seeds give
/// equal delays (tests, replays). Without it every call draws a fresh random
/// seed, which spreads clients apart.
pub const FG_RETRY_SEEDED: u32 = 1;

/// `fg_retry_config_preset`: the GenieOS SDKs' policy, 250 ms, 500 ms, 1 s,
/// 2 s, 4 s (five retries), equal jitter.
pub const FG_RETRY_PRESET_GENIEOS: u32 = 1;
/// `fg_retry_config_preset`: the license API's advice, 1 s, 2 s, 4 s, 8 s
/// (four retries), equal jitter.
pub const FG_RETRY_PRESET_LICENSE_API: u32 = 2;

/// `fg_retry_delay`'s `retry_after_ns` when the response carried no
/// `Retry-After` (`UINT64_MAX`).
pub const FG_NO_RETRY_AFTER: u64 = 0xFFFF_FFFF_FFFF_FFFF;

/// When and how often a client retries: after `initial_ns`, then each delay
/// times `factor`, each capped at `max_delay_ns`, at most `max_retries`
/// times, jittered. Fill it by hand or with `fg_retry_config_preset`.
///
/// ```c
/// fg_retry_config retry = { .struct_size = sizeof(fg_retry_config) };
/// fg_retry_config_preset(FG_RETRY_PRESET_GENIEOS, &retry);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgRetryConfig {
    /// `sizeof(fg_retry_config)` as the caller compiled it.
    pub struct_size: usize,
    /// The nominal delay before the first retry, in nanoseconds.
    pub initial_ns: u64,
    /// The cap on every nominal delay, in nanoseconds (at least `initial_ns`).
    pub max_delay_ns: u64,
    /// What each nominal delay is multiplied by to give the next (at least 1).
    pub factor: u32,
    /// How many retries the policy allows (0: never retry).
    pub max_retries: u32,
    /// `FG_JITTER_NONE`, `FG_JITTER_EQUAL` or `FG_JITTER_FULL`.
    pub jitter: u32,
    /// 0 or `FG_RETRY_SEEDED`.
    pub flags: u32,
    /// The jitter seed, used with `FG_RETRY_SEEDED`.
    pub seed: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, plain integers only.
unsafe impl Versioned for FgRetryConfig {
    const MIN_SIZE: usize = std::mem::size_of::<FgRetryConfig>();
}

impl FgRetryConfig {
    fn from_policy(policy: &RetryPolicy) -> Self {
        Self {
            struct_size: std::mem::size_of::<Self>(),
            initial_ns: saturating_nanos(policy.initial()),
            max_delay_ns: saturating_nanos(policy.max_delay()),
            factor: policy.factor(),
            max_retries: policy.max_retries(),
            jitter: match policy.jitter() {
                Jitter::None => FG_JITTER_NONE,
                Jitter::Equal => FG_JITTER_EQUAL,
                Jitter::Full => FG_JITTER_FULL,
            },
            flags: 0,
            seed: 0,
        }
    }

    fn to_policy(self) -> Result<RetryPolicy, Failure> {
        let jitter = match self.jitter {
            FG_JITTER_NONE => Jitter::None,
            FG_JITTER_EQUAL => Jitter::Equal,
            FG_JITTER_FULL => Jitter::Full,
            other => return Err(args::unknown_constant("config->jitter", other)),
        };
        if self.flags & !FG_RETRY_SEEDED != 0 {
            return Err(args::unknown_constant("config->flags", self.flags));
        }
        let policy = RetryPolicy::new(
            Duration::from_nanos(self.initial_ns),
            self.factor,
            self.max_retries,
            Duration::from_nanos(self.max_delay_ns),
            jitter,
        )?;
        Ok(if self.flags & FG_RETRY_SEEDED != 0 {
            policy.with_seed(self.seed)
        } else {
            policy
        })
    }
}

/// Fills `*out` with a built-in policy (`FG_RETRY_PRESET_*`), unseeded. Set
/// `out->struct_size` first.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_ARGUMENT` (unknown preset),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `out` must be NULL or writable for its `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn fg_retry_config_preset(preset: u32, out: *mut FgRetryConfig) -> FgStatus {
    guard("fg_retry_config_preset", || {
        // SAFETY: readable for a usize, by the contract.
        let out = unsafe { VersionedOut::new(out, "out") }?;
        let policy = match preset {
            FG_RETRY_PRESET_GENIEOS => crate::presets::genieos::retry_policy(),
            FG_RETRY_PRESET_LICENSE_API => crate::presets::license_api::retry_policy(),
            other => return Err(args::unknown_constant("preset", other)),
        };
        // SAFETY: writable for its struct_size, by the contract.
        unsafe { out.write(FgRetryConfig::from_policy(&policy)) };
        Ok(())
    })
}

/// How long to wait before retry number `retry` (0 is the first): exactly
/// `retry_after_ns` when the server sent a `Retry-After`
/// (`FG_NO_RETRY_AFTER` when it did not), otherwise the jittered backoff.
/// Stores whether to retry at all in `*out_retry` (false once `max_retries`
/// are used up, with `*out_delay_ns` 0) and the wait in `*out_delay_ns`.
///
/// ```c
/// bool again; uint64_t wait_ns;
/// for (uint32_t n = 0; fg_retry_delay(&retry, n, FG_NO_RETRY_AFTER, &again, &wait_ns) == FG_STATUS_OK && again; n++)
///     sleep_ns(wait_ns);
/// ```
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_ARGUMENT` (unknown jitter or
/// flags), `FG_STATUS_INVALID_RETRY_POLICY` (factor 0, or `initial_ns` above
/// `max_delay_ns`), `FG_STATUS_PANIC`.
///
/// # Safety
/// `config` NULL or readable for its `struct_size`; `out_retry` NULL or
/// writable for a `bool`; `out_delay_ns` NULL or writable for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_retry_delay(
    config: *const FgRetryConfig,
    retry: u32,
    retry_after_ns: u64,
    out_retry: *mut bool,
    out_delay_ns: *mut u64,
) -> FgStatus {
    guard("fg_retry_delay", || {
        // SAFETY: readable for its struct_size, by the contract.
        let policy = unsafe { args::read_config(config, "config") }?.to_policy()?;
        let out_retry = Out::new(out_retry, "out_retry")?;
        let out_delay_ns = Out::new(out_delay_ns, "out_delay_ns")?;
        let retry_after =
            (retry_after_ns != FG_NO_RETRY_AFTER).then(|| Duration::from_nanos(retry_after_ns));
        let delay = policy.delay(retry, retry_after);
        // SAFETY: both checked non-NULL and aligned; writable by the contract.
        unsafe {
            out_retry.write(delay.is_some());
            out_delay_ns.write(delay.map_or(0, saturating_nanos));
        }
        Ok(())
    })
}

/// Reads a `Retry-After` value (`len` bytes, no NUL needed): whole seconds
/// (`120`), fractional seconds (`0.6`, rounded up to the nanosecond) or an
/// HTTP date, which becomes the wait from `now_unix_ns` (nanoseconds since
/// 1970, UTC; zero if the date is past). Stores the wait in `*out_delay_ns`.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_INVALID_UTF8`,
/// `FG_STATUS_INVALID_RETRY_AFTER` (neither form, or a wait of 2^64 ns or
/// more), `FG_STATUS_PANIC`.
///
/// # Safety
/// `value` NULL or readable for `len` bytes; `out_delay_ns` NULL or writable
/// for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_parse_retry_after(
    value: *const c_char,
    len: usize,
    now_unix_ns: u64,
    out_delay_ns: *mut u64,
) -> FgStatus {
    guard("fg_parse_retry_after", || {
        // SAFETY: readable for len bytes, by the contract.
        let value = unsafe { args::text(value.cast::<u8>(), len, "value") }?;
        let out_delay_ns = Out::new(out_delay_ns, "out_delay_ns")?;
        let now = UNIX_EPOCH + Duration::from_nanos(now_unix_ns);
        let delay = parse_retry_after(value, now)?;
        let delay_ns = u64::try_from(delay.as_nanos()).map_err(|_| {
            Failure::new(
                FgStatus::InvalidRetryAfter,
                format!("`value` {value:?} is a wait of 2^64 ns (584 years) or more"),
            )
        })?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_delay_ns.write(delay_ns) };
        Ok(())
    })
}
