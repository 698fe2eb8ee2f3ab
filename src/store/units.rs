//! A quota on the script's scale: integer units small enough for Redis Lua.
//!
//! Redis runs Lua 5.1, whose only number is a double: integers are exact
//! below 2^53 and no further. The engine keeps a bucket's debt in ticks of
//! `1/k` ns (`core/quota.rs`), up to 2^59 of them, so the script cannot use
//! ticks as they are. It uses a coarser unit that loses nothing:
//!
//! * Server time is read with `TIME`, in whole microseconds, so between two
//!   checks the debt drains by a whole number of microseconds, each worth
//!   `1000 k` ticks. A request costs `T` ticks, and a lockout ceiling adds
//!   `L` ticks. Every debt a bucket can reach is a sum of these, so every
//!   debt is a multiple of `u = gcd(1000 k, T, L)` ticks: measured in units
//!   of `u` ticks, each figure is an integer.
//! * The state is the debt in units and the microsecond of its write, never
//!   an absolute tick count: the largest number the script handles is the
//!   debt plus one request (at most 2^52 units, checked when the limiter is
//!   built), or the microsecond clock (about 2^50.6 today).
//!
//! At microsecond-aligned times the script therefore computes exactly the
//! debts the engine computes, and the decisions it returns are the engine's
//! decisions for the same arrivals (`tests/redis_model.rs` checks it).

use crate::core::decision::{Decision, Outcome};
use crate::core::error::{Error, Result};
use crate::core::quota::{gcd, Quota};

/// The most units a bucket's capacity plus lockout may span: a debt plus
/// one request stays below 2^52, exact in a double with room to spare.
const MAX_UNITS: u64 = 1 << 51;

/// Nanoseconds per microsecond, the resolution of the server's `TIME`.
pub(crate) const NANOS_PER_MICRO: u64 = 1_000;

/// A quota in script units, as the script's arguments need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScriptQuota {
    quota: Quota,
    /// Ticks per unit.
    unit_ticks: u64,
    /// Units one request costs.
    pub(crate) token: u64,
    /// Units a full burst spans.
    pub(crate) capacity: u64,
    /// Units of debt a lockout may add beyond the burst.
    pub(crate) lockout: u64,
    /// Units one microsecond drains.
    pub(crate) drain: u64,
}

impl ScriptQuota {
    /// `quota` in script units; [`Error::BurstTooLarge`] when its burst
    /// (plus lockout) spans more units than a Lua number holds exactly.
    pub(crate) fn new(quota: Quota) -> Result<Self> {
        let micro_ticks = NANOS_PER_MICRO * quota.ticks_per_ns();
        let unit_ticks = gcd(gcd(micro_ticks, quota.token_ticks()), quota.lockout_ticks());
        let capacity = quota.capacity_ticks() / unit_ticks;
        let lockout = quota.lockout_ticks() / unit_ticks;
        if capacity + lockout > MAX_UNITS {
            return Err(Error::BurstTooLarge);
        }
        Ok(Self {
            quota,
            unit_ticks,
            token: quota.token_ticks() / unit_ticks,
            capacity,
            lockout,
            drain: micro_ticks / unit_ticks,
        })
    }

    /// The quota this was made from.
    pub(crate) fn quota(&self) -> &Quota {
        &self.quota
    }

    /// The cost to send: at most one more than the burst, which the script
    /// answers with "can never fit" as it would any larger cost.
    pub(crate) fn cost_arg(&self, cost: u64) -> u64 {
        cost.min(self.quota.burst() + 1)
    }

    /// A refund of `amount` requests in units, capped where any debt is
    /// returned whole (the script's debts never reach 2^52 units).
    pub(crate) fn refund_arg(&self, amount: u64) -> u64 {
        amount.saturating_mul(self.token).min(2 * MAX_UNITS)
    }

    /// The engine's decision for the script's figures (debt and wait in units).
    pub(crate) fn decision(&self, outcome: Outcome, debt: u64, wait: u64) -> Decision {
        Decision::from_ticks(
            outcome,
            self.quota.burst(),
            debt * self.unit_ticks,
            wait * self.unit_ticks,
            self.quota.token_ticks(),
            self.quota.ticks_per_ns(),
        )
    }

    /// Ticks of the quota's scale in `ns` nanoseconds.
    pub(crate) fn ticks(&self, ns: u64) -> u64 {
        ns.saturating_mul(self.quota.ticks_per_ns())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn thirty_per_second_counts_in_thousand_tick_units() {
        // k = 3 ticks per ns, T = 10^8 ticks: gcd(3000, 10^8) = 1000 ticks.
        let quota = ScriptQuota::new(Quota::per_second(30).unwrap()).unwrap();
        assert_eq!(
            (quota.unit_ticks, quota.drain, quota.token),
            (1_000, 3, 100_000)
        );
        assert_eq!(quota.capacity, 30 * quota.token);
        for coarse in [Quota::per_minute(7).unwrap(), Quota::per_day(1).unwrap()] {
            assert_eq!(ScriptQuota::new(coarse).unwrap().unit_ticks, 1_000);
        }
    }

    #[test]
    fn a_lockout_off_the_lattice_refines_the_unit() {
        let quota = Quota::per_second(10)
            .unwrap()
            .with_lockout(Duration::from_nanos(7))
            .unwrap();
        let script = ScriptQuota::new(quota).unwrap();
        assert_eq!(script.unit_ticks, 1);
        assert_eq!(script.lockout, 7);
    }

    #[test]
    fn bursts_beyond_exact_doubles_are_refused() {
        // T = 999_999_999 ticks, coprime with 1000: the unit is one tick.
        let odd = Duration::from_nanos(999_999_999);
        assert!(ScriptQuota::new(Quota::per_period(1, odd, 1 << 20).unwrap()).is_ok());
        assert_eq!(
            ScriptQuota::new(Quota::per_period(1, odd, 1 << 22).unwrap()),
            Err(Error::BurstTooLarge)
        );
    }
}
