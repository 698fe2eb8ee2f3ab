//! A leased builder's lease settings, alike for `LeasedLimiter` and
//! `LeasedLayers`, and the table each layer gets from them.

use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use crate::store::connection::RedisStore;
use crate::store::fleet::DEFAULT_FLEET;
use crate::store::guard::Failures;
use crate::store::lease::table::{Hosts, LeaseTable};
use crate::store::units::ScriptQuota;
use std::time::Duration;

/// How long a lease is meant to last when the builder sets none.
const DEFAULT_LEASE_TIME: Duration = Duration::from_millis(500);
/// The low-water mark when the builder sets none, in percent of a lease.
const DEFAULT_LOW_WATER: u64 = 25;
/// Keys a table holds when the builder sets no capacity.
const DEFAULT_KEYS: usize = 16_384;

/// What [`lease_setters!`] sets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeaseSettings {
    pub(crate) lease_time: Duration,
    pub(crate) low_water: u64,
    /// `None`: the live size of the failures' fleet.
    pub(crate) fleet_size: Option<u64>,
    pub(crate) keys: usize,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            lease_time: DEFAULT_LEASE_TIME,
            low_water: DEFAULT_LOW_WATER,
            fleet_size: None,
            keys: DEFAULT_KEYS,
        }
    }
}

impl LeaseSettings {
    /// One layer's table of `quota` under `prefix`, its leases sized for
    /// the fixed fleet size if set, else the live count of the failures'
    /// fleet, or of the store's default fleet.
    /// [`Error::ZeroPeriod`] for a zero lease time; the quota's and the
    /// table's errors.
    pub(crate) fn table(
        &self,
        store: &RedisStore,
        failures: &Failures,
        quota: Quota,
        prefix: Vec<u8>,
    ) -> Result<LeaseTable> {
        let lease_ns = u64::try_from(self.lease_time.as_nanos()).unwrap_or(u64::MAX);
        if lease_ns == 0 {
            return Err(Error::ZeroPeriod);
        }
        let hosts = match (self.fleet_size, &failures.fleet) {
            (Some(hosts), _) => Hosts::Fixed(hosts),
            (None, Some(fleet)) => Hosts::Live(fleet.clone()),
            (None, None) => Hosts::Live(store.fleet(DEFAULT_FLEET)),
        };
        let quota = ScriptQuota::new(quota)?;
        LeaseTable::new(quota, prefix, self.keys, lease_ns, self.low_water, hosts)
    }
}

/// The builder methods that set a [`LeaseSettings`] kept in a builder's
/// `lease` field and the fleet kept in its `failures`: one text for every
/// leased builder.
macro_rules! lease_setters {
    () => {
        /// How long a lease is meant to last (500 ms unless set): a lease
        /// asks for about the tokens this host spends in that time. Longer
        /// means fewer calls to Redis, more tokens held per host, and
        /// staler headers.
        pub fn lease_time(mut self, lease_time: std::time::Duration) -> Self {
            self.lease.lease_time = lease_time;
            self
        }

        /// The next lease is asked for when fewer than `percent` (at most
        /// 100; 25 unless set) of the last one are left.
        pub fn low_water(mut self, percent: u64) -> Self {
            self.lease.low_water = percent;
            self
        }

        /// How many hosts share these keys (0 counts as 1), fixed: one host
        /// holds at most `burst / (2 x hosts)` tokens of a key, so the fleet
        /// never holds more than half a burst between them. Without it,
        /// `hosts` is the [`fleet`](Self::fleet)'s live size, read from its
        /// cached count as each lease is sized.
        pub fn fleet_size(mut self, hosts: u64) -> Self {
            self.lease.fleet_size = Some(hosts);
            self
        }

        /// How many keys each local table holds (16384 unless set; a key
        /// beyond them is checked in Redis, exactly, each time).
        pub fn capacity(mut self, keys: usize) -> Self {
            self.lease.keys = keys;
            self
        }

        /// The fleet whose live size bounds a lease (unless
        /// [`fleet_size`](Self::fleet_size) fixes it) and
        /// [`OnFailure::Local`](crate::store::OnFailure::Local) divides each
        /// quota by once a key's lease is spent and Redis gives no answer
        /// (default: the store's fleet `"default"`). Until the fleet's first
        /// heartbeat answers it counts 1, so a limiter built at once with
        /// its fleet may lease up to `burst / 2` for about a round trip.
        pub fn fleet(mut self, fleet: &crate::store::Fleet) -> Self {
            self.failures.fleet = Some(fleet.clone());
            self
        }
    };
}
pub(crate) use lease_setters;
