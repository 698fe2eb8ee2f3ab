//! `fg_quota`: the versioned config struct a limiter is created from.

use super::args::{self, Versioned};
use super::shared::{self, SharedHandle};
use super::status::{guard, Failure, FgStatus};
use crate::core::clock::saturating_nanos;
use crate::core::quota::Quota;
use std::time::Duration;

/// A rate limit: `count` requests per `period_ns` nanoseconds, with bursts of
/// up to `burst` at once. The library keeps the rate exact (30 per second is
/// not rounded to one per 33 ms) unless the interval needs a tick finer than
/// 1/32 ns: it is then rounded up to one, which may lower the rate by at most
/// 100 ppm; a rate that would lose more is refused with `FG_STATUS_INEXACT_RATE`.
///
/// Set `struct_size = sizeof(fg_quota)` so later versions of the library can
/// add fields without breaking programs built against this header:
///
/// ```c
/// fg_quota quota = { .struct_size = sizeof(fg_quota), .count = 30,
///                    .period_ns = 1000000000, .burst = 60 };
/// ```
///
/// `lockout_ns` came with ABI 1.1: a program built against the 1.0 header
/// declares the 32-byte struct, and its quotas have no lockout.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgQuota {
    /// `sizeof(fg_quota)` as the caller compiled it.
    pub struct_size: usize,
    /// Requests per period; at least 1 and at most `period_ns`.
    pub count: u64,
    /// The period in nanoseconds; at least 1.
    pub period_ns: u64,
    /// Requests allowed at once from a full bucket; at least 1.
    pub burst: u64,
    /// Lockout for hammering: 0 turns it off. Otherwise each request made
    /// while denied is charged as if admitted, pushing the wait further out,
    /// up to `lockout_ns` past an empty bucket (GenieOS: "hammering during
    /// the cooldown re-arms the bucket and extends the lockout").
    pub lockout_ns: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, plain integers only.
unsafe impl Versioned for FgQuota {
    /// ABI 1.0's fg_quota ended at `burst`.
    const MIN_SIZE: usize = std::mem::offset_of!(FgQuota, lockout_ns);
}

impl FgQuota {
    /// Validates the fields into a [`Quota`] (the same checks the Rust API runs).
    pub(crate) fn to_quota(self) -> Result<Quota, Failure> {
        let period = Duration::from_nanos(self.period_ns);
        let quota = Quota::per_period(self.count, period, self.burst)?;
        Ok(quota.with_lockout(Duration::from_nanos(self.lockout_ns))?)
    }

    /// The fields of `quota`, for a caller-provided struct (the writer keeps
    /// the caller's `struct_size`).
    pub(crate) fn from_quota(quota: &Quota) -> Self {
        Self {
            struct_size: std::mem::size_of::<Self>(),
            count: quota.count(),
            period_ns: quota.period_ns(),
            burst: quota.burst(),
            // At most 2^59 ticks of at least 1 per ns: fits.
            lockout_ns: saturating_nanos(quota.lockout()),
        }
    }
}

/// Runs a `*_reconfigure[_at]` export: borrows the live handle (its argument
/// is `limiter` in each), reads the new quota, and hands both to `apply`.
///
/// # Safety
/// `handle` NULL or live; `quota` NULL or readable for its `struct_size`.
pub(crate) unsafe fn reconfigure<H: SharedHandle>(
    function: &'static str,
    handle: *const H,
    quota: *const FgQuota,
    apply: impl FnOnce(&H::Inner, Quota),
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let inner = unsafe { shared::borrow(handle, "limiter") }?;
        // SAFETY: readable for its struct_size, by the contract.
        let quota = unsafe { args::read_config(quota, "quota") }?.to_quota()?;
        apply(inner, quota);
        Ok(())
    })
}
