//! How a leased limiter spent its round trips, for monitoring and for the
//! benchmark's ratio of Redis calls to admissions.

use crate::policy::StripedCounter;

/// A leased limiter's counts so far (the calls' own outcomes, timeouts
/// and failures are in its [`StoreCounters`](crate::store::StoreCounters)).
///
/// ```no_run
/// use floodgate::store::{LeasedLimiter, RedisStore};
/// use floodgate::Quota;
///
/// let store = RedisStore::open("redis://127.0.0.1:6379/")?;
/// let limiter = LeasedLimiter::builder(&store, Quota::per_second(1_000)?).build()?;
/// limiter.check("key", 1)?;
/// let counts = limiter.lease_counters();
/// println!("{} local, {} lease calls", counts.local, counts.leases);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaseCounters {
    /// Checks decided here without a round trip: admitted from a lease, or
    /// denied by the fleet's last denial.
    pub local: u64,
    /// Lease calls, in the background or waited on.
    pub leases: u64,
    /// Lease calls a check waited on, its bucket being empty.
    pub waited: u64,
    /// Tokens the leases granted.
    pub granted: u64,
    /// Give-back calls (idle keys, closing, grants past a bucket's size).
    pub give_backs: u64,
    /// Tokens the give-backs returned.
    pub returned: u64,
    /// Checks decided by an exact call instead (a key with no slot, a cost
    /// above a lease, a bucket still short after a lease).
    pub exact: u64,
}

/// The live counters behind [`LeaseCounters`].
pub(crate) struct Counters {
    pub(crate) local: StripedCounter,
    pub(crate) leases: StripedCounter,
    pub(crate) waited: StripedCounter,
    pub(crate) granted: StripedCounter,
    pub(crate) give_backs: StripedCounter,
    pub(crate) returned: StripedCounter,
    pub(crate) exact: StripedCounter,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Self {
            local: StripedCounter::new(),
            leases: StripedCounter::new(),
            waited: StripedCounter::new(),
            granted: StripedCounter::new(),
            give_backs: StripedCounter::new(),
            returned: StripedCounter::new(),
            exact: StripedCounter::new(),
        }
    }

    pub(crate) fn snapshot(&self) -> LeaseCounters {
        LeaseCounters {
            local: self.local.total(),
            leases: self.leases.total(),
            waited: self.waited.total(),
            granted: self.granted.total(),
            give_backs: self.give_backs.total(),
            returned: self.returned.total(),
            exact: self.exact.total(),
        }
    }
}
