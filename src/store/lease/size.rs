//! How many tokens a lease asks for: about what this host spends in one
//! lease time, so a steady key asks once per lease time, and never more than
//! its share of half the burst, so the hosts of a fleet cannot drain a
//! key's whole burst between them.

use crate::store::lease::bucket::MAX_LEASE;

/// A limiter's lease sizing: the lease time, the low-water mark, and the
/// most one host may hold of a key.
///
/// ```
/// use floodgate::store::lease::Sizing;
///
/// // burst 50, 3 hosts: at most 50 / (2 x 3) = 8 tokens a lease.
/// let sizing = Sizing::new(50, 3, 100_000_000, 25);
/// assert_eq!(sizing.most(), 8);
/// // 40 spent in 200 ms: 20 per lease time of 100 ms, capped at 8.
/// assert_eq!(sizing.next(40, 200_000_000), 8);
/// assert_eq!(sizing.next(3, 200_000_000), 2); // 1.5, rounded up
/// assert_eq!(sizing.next(0, 200_000_000), 1); // at least one
/// assert_eq!(sizing.low_water(8), 2);
/// assert_eq!(sizing.low_water(1), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    lease_time_ns: u64,
    low_water_percent: u64,
    most: u64,
}

impl Sizing {
    /// Sizing for a quota of `burst` shared by `fleet` hosts (0 counts as
    /// 1), leases meant to last `lease_time_ns`, refilled below
    /// `low_water_percent` (at most 100) of the last one.
    pub fn new(burst: u64, fleet: u64, lease_time_ns: u64, low_water_percent: u64) -> Self {
        let share = burst / fleet.max(1).saturating_mul(2);
        Self {
            lease_time_ns: lease_time_ns.max(1),
            low_water_percent: low_water_percent.min(100),
            most: share.clamp(1, MAX_LEASE),
        }
    }

    /// The largest lease one host asks for.
    pub fn most(&self) -> u64 {
        self.most
    }

    /// How long a lease is meant to last.
    pub fn lease_time_ns(&self) -> u64 {
        self.lease_time_ns
    }

    /// The next lease after `spent` tokens in `elapsed_ns`: the local rate
    /// times the lease time, rounded up, at least 1, at most
    /// [`most`](Self::most).
    pub fn next(&self, spent: u64, elapsed_ns: u64) -> u64 {
        let wanted = (u128::from(spent) * u128::from(self.lease_time_ns))
            .div_ceil(u128::from(elapsed_ns.max(1)));
        u64::try_from(wanted)
            .unwrap_or(u64::MAX)
            .clamp(1, self.most)
    }

    /// The tokens below which a bucket funded by a lease of `size` asks for
    /// the next one: the low-water percentage of it, rounded up. None for a
    /// lease of one: a key that slow (under 2 requests a lease time) gains
    /// nothing from a token held between its requests, which an idle sweep
    /// would only give back, so each of its requests leases its own token.
    pub fn low_water(&self, size: u64) -> u64 {
        if size <= 1 {
            return 0;
        }
        (size * self.low_water_percent).div_ceil(100)
    }
}
