//! [`OnFailure::Local`](crate::store::OnFailure::Local): while Redis gives
//! no answer, this process keeps its share of a limit itself, in an
//! in-process table of the same kind keyed by the same keys: [`Buckets`]
//! (a [`KeyedLimiter`] per limit, asked together through a [`Policy`] as a
//! layered check is), [`Windows`] (a [`KeyedWindows`]) or [`Caps`] (a
//! [`KeyedInFlight`]). [`Local`] keeps them sized for the fleet: when its
//! size changes, the shares are resized, keeping what their keys hold.

use crate::core::clock::Clock;
use crate::core::decision::Decision;
use crate::core::error::Result;
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::inflight::keyed::KeyedInFlight;
use crate::inflight::{Acquisition, AtCapacity, PermitToken};
use crate::keyed::KeyedLimiter;
use crate::policy::{LayerKey, Policy, Verdict};
use crate::store::fleet::{divide, share, Fleet};
use crate::sync::{AtomicU64, Ordering};
use crate::window::keyed::KeyedWindows;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Set in `Local::sized` when the shares for its fleet size cannot be held.
const UNHELD: u64 = 1 << 32;

/// A kind's shares of a limiter's limits, made for a fleet of one.
pub(crate) trait Shares {
    /// Now by the shares' clock.
    fn now_ns(&self) -> u64;

    /// Makes these the shares of a fleet of `members`, carrying what each
    /// key holds across, at `now_ns`; false when the engine cannot hold
    /// them.
    fn resize(&self, members: u32, now_ns: u64) -> bool;
}

/// This process's shares of a limiter's limits, sized for its fleet.
pub(crate) struct Local<S> {
    fleet: Fleet,
    shares: S,
    /// The fleet size the installed shares are for, with [`UNHELD`] set
    /// when that size's shares could not be made.
    sized: AtomicU64,
    /// Held while the shares are resized, so one size is installed at a time.
    resize: Mutex<()>,
}

impl<S: Shares> Local<S> {
    /// `shares` (made for one member) in `fleet`, resized when a decision
    /// first reads another size.
    pub(crate) fn new(fleet: Fleet, shares: S) -> Self {
        Self {
            fleet,
            shares,
            sized: AtomicU64::new(1),
            resize: Mutex::new(()),
        }
    }

    /// The shares, sized for the fleet now, and the time they decide at:
    /// `now_ns`, or now by their clock; `None` when the fleet's size gives
    /// shares the engine cannot hold.
    pub(crate) fn shares(&self, now_ns: Option<u64>) -> Option<(&S, u64)> {
        let now_ns = now_ns.unwrap_or_else(|| self.shares.now_ns());
        self.fit(now_ns).then_some((&self.shares, now_ns))
    }

    /// The shares as they are: what gives back a unit they granted.
    pub(crate) fn held(&self) -> &S {
        &self.shares
    }

    /// Installs the shares for the fleet's size now, if they are not yet;
    /// false when they cannot be held.
    fn fit(&self, now_ns: u64) -> bool {
        let members = u64::from(self.fleet.size());
        // Relaxed: a check that reads a stale size decides under the
        // previous shares, as if a moment earlier; installs take the lock.
        let sized = self.sized.load(Ordering::Relaxed);
        if sized & !UNHELD == members {
            return sized & UNHELD == 0;
        }
        // Every write leaves the shares whole: a poisoned lock guards valid ones.
        let _resizing = self
            .resize
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Relaxed: written only under the lock held here.
        let sized = self.sized.load(Ordering::Relaxed);
        if sized & !UNHELD == members {
            return sized & UNHELD == 0;
        }
        let size = u32::try_from(members).unwrap_or(u32::MAX);
        let held = if self.shares.resize(size, now_ns) {
            0
        } else {
            UNHELD
        };
        // Relaxed: see the first load.
        self.sized.store(members | held, Ordering::Relaxed);
        held == 0
    }
}

/// Token buckets' shares: per limit, the rate divided by the fleet's size
/// exactly and the burst rounded down ([`share`]).
pub(crate) struct Buckets {
    /// Each limit's whole quota, in layer order.
    quotas: Vec<Quota>,
    limits: Vec<Arc<KeyedLimiter<[u8]>>>,
    /// The same limiters as layers.
    policy: Policy,
}

impl Buckets {
    /// Whole shares of `layers`;
    /// [`Error::AllocationFailed`](crate::Error::AllocationFailed) when a
    /// table cannot be allocated.
    pub(crate) fn new(layers: &[(Scope, Quota)]) -> Result<Self> {
        let limits = layers
            .iter()
            .map(|(_, quota)| KeyedLimiter::<[u8]>::builder(*quota).build().map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        let policy = layers
            .iter()
            .zip(&limits)
            .fold(Policy::builder(), |policy, ((scope, _), limit)| {
                policy.layer(*scope, Arc::clone(limit))
            })
            .build()?;
        Ok(Self {
            quotas: layers.iter().map(|(_, quota)| *quota).collect(),
            limits,
            policy,
        })
    }

    /// Layer `layer`'s whole quota.
    pub(crate) fn quota(&self, layer: usize) -> &Quota {
        &self.quotas[layer]
    }

    /// The shares' verdict on `cost` for `keys` (one per layer, checked
    /// already) at `now_ns`.
    pub(crate) fn check(&self, keys: &[&[u8]], cost: u64, now_ns: u64) -> Result<Verdict> {
        let keys: Vec<LayerKey<'_>> = keys.iter().map(|key| LayerKey::Bytes(key)).collect();
        self.policy.check_at(&keys, cost, now_ns)
    }

    /// Gives `amount` back to the first layer's share for `key` at `now_ns`.
    pub(crate) fn refund(&self, key: &[u8], amount: u64, now_ns: u64) -> Result<Decision> {
        self.limits[0].refund_at(key, amount, now_ns)
    }
}

impl Shares for Buckets {
    fn now_ns(&self) -> u64 {
        self.policy.clock().now_ns()
    }

    fn resize(&self, members: u32, now_ns: u64) -> bool {
        let shares = self
            .quotas
            .iter()
            .map(|quota| share(quota, members))
            .collect::<Result<Vec<_>>>();
        let Ok(shares) = shares else {
            return false;
        };
        // Reconfiguring carries each key's debt across.
        for (limit, share) in self.limits.iter().zip(shares) {
            limit.reconfigure_at(share, now_ns);
        }
        true
    }
}

/// A sliding window's share: the limit divided by the fleet's size rounded
/// down (at least 1), over the same window. A key's window takes the share
/// at its next decision, keeping its counts.
pub(crate) struct Windows {
    table: KeyedWindows<[u8]>,
    limit: u64,
    /// The limit's share now.
    share: AtomicU64,
}

impl Windows {
    /// The whole share of windows of `limit` per `window` (both valid);
    /// [`Error::AllocationFailed`](crate::Error::AllocationFailed) when the
    /// table cannot be allocated.
    pub(crate) fn new(limit: u64, window: Duration) -> Result<Self> {
        Ok(Self {
            table: KeyedWindows::<[u8]>::builder(limit, window).build()?,
            limit,
            share: AtomicU64::new(limit),
        })
    }

    /// The share's decision on `cost` for `key` (checked already) at
    /// `now_ns`.
    pub(crate) fn check(&self, key: &[u8], cost: u64, now_ns: u64) -> Result<Decision> {
        self.table.check_under_at(key, self.share(), cost, now_ns)?
    }

    /// The share's window of `key` at `now_ns`, charging nothing.
    pub(crate) fn peek(&self, key: &[u8], now_ns: u64) -> Result<Decision> {
        self.table.probe_under_at(key, self.share(), 0, now_ns)
    }

    /// Gives `amount` back to the share's window of `key` at `now_ns`.
    pub(crate) fn refund(&self, key: &[u8], amount: u64, now_ns: u64) -> Result<Decision> {
        self.table.refund_at(key, amount, now_ns)
    }

    fn share(&self) -> u64 {
        // Relaxed: a check that reads a stale share decides under the
        // previous one, as if a moment earlier.
        self.share.load(Ordering::Relaxed)
    }
}

impl Shares for Windows {
    fn now_ns(&self) -> u64 {
        self.table.clock().now_ns()
    }

    fn resize(&self, members: u32, _now_ns: u64) -> bool {
        // Relaxed: see `share`.
        self.share
            .store(divide(self.limit, members), Ordering::Relaxed);
        true
    }
}

/// An in-flight cap's share: the cap divided by the fleet's size rounded
/// down (at least 1). The table's caps are whole, and a unit beyond the
/// share is given back at once, so a smaller share leaves the permits
/// held to end as they do.
pub(crate) struct Caps {
    table: KeyedInFlight<[u8]>,
    limit: u64,
    /// The cap's share now.
    share: AtomicU64,
}

impl Caps {
    /// The whole share of a cap of `limit` (valid);
    /// [`Error::AllocationFailed`](crate::Error::AllocationFailed) when the
    /// table cannot be allocated.
    pub(crate) fn new(limit: u64) -> Result<Self> {
        Ok(Self {
            table: KeyedInFlight::<[u8]>::builder(limit).build()?,
            limit,
            share: AtomicU64::new(limit),
        })
    }

    /// A unit of the share of `key` (checked already), as a token to give
    /// back with [`release`](Self::release) and the units held with it, or
    /// the refusal of a full share. A new key that finds no room in the
    /// table is refused as a full share would be.
    pub(crate) fn try_acquire(
        &self,
        key: &[u8],
    ) -> std::result::Result<(PermitToken, u64), AtCapacity> {
        // Relaxed: a stale share decides as a moment earlier.
        let share = self.share.load(Ordering::Relaxed);
        // The key was checked: the one error left is a full table.
        let Ok(acquisition) = self.table.try_acquire(key) else {
            return Err(AtCapacity::new(share, share));
        };
        match acquisition {
            // Each unit kept saw at most the share held with it, the units
            // taken after it included: never more than the share are kept.
            Acquisition::Granted(permit) if permit.in_flight() <= share => {
                let held = permit.in_flight();
                Ok((permit.into_token(), held))
            }
            Acquisition::Granted(permit) => {
                let held = permit.in_flight() - 1;
                drop(permit);
                Err(AtCapacity::new(held, share))
            }
            Acquisition::Refused(full) => Err(AtCapacity::new(full.in_flight(), share)),
        }
    }

    /// Gives back the unit `token` of `key` stands for: the units held after.
    pub(crate) fn release(&self, key: &[u8], token: PermitToken) -> Result<u64> {
        self.table.release(key, token)
    }
}

impl Shares for Caps {
    fn now_ns(&self) -> u64 {
        // Caps read no clock.
        0
    }

    fn resize(&self, members: u32, _now_ns: u64) -> bool {
        // Relaxed: see `try_acquire`.
        self.share
            .store(divide(self.limit, members), Ordering::Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_share_divides_the_limit_and_keeps_its_counts_when_resized() {
        let windows = Windows::new(30, Duration::from_secs(1)).unwrap();
        assert!(windows.resize(3, 0));
        let admitted = |count, now_ns| {
            (0..count)
                .filter(|_| windows.check(b"k", 1, now_ns).unwrap().is_admitted())
                .count()
        };
        assert_eq!(admitted(15, 0), 10);
        assert_eq!(windows.peek(b"k", 0).unwrap().limit(), 10);
        // A fleet of 2: the same window's 10 count against a share of 15.
        assert!(windows.resize(2, 0));
        assert_eq!(admitted(15, 0), 5);
        assert_eq!(windows.refund(b"k", 3, 0).unwrap().remaining(), 3);
        // A fleet of 100: at least 1.
        assert!(windows.resize(100, 0));
        assert_eq!(admitted(3, 2_000_000_000), 1);
    }

    #[test]
    fn a_cap_share_never_keeps_more_than_the_share_and_shrinks_as_permits_end() {
        let caps = Caps::new(9).unwrap();
        assert!(caps.resize(3, 0));
        let mut held: Vec<PermitToken> = (0..3)
            .map(|n| {
                let (token, in_flight) = caps.try_acquire(b"k").unwrap();
                assert_eq!(in_flight, n + 1);
                token
            })
            .collect();
        let full = caps.try_acquire(b"k").unwrap_err();
        assert_eq!((full.in_flight(), full.limit()), (3, 3));
        // A fleet of 1: the whole cap.
        assert!(caps.resize(1, 0));
        held.extend((0..6).map(|_| caps.try_acquire(b"k").unwrap().0));
        assert!(caps.try_acquire(b"k").is_err());
        // A fleet of 2: 9 held stay held; a unit is granted again only
        // once fewer than 4 are.
        assert!(caps.resize(2, 0));
        while held.len() > 4 {
            caps.release(b"k", held.pop().unwrap()).unwrap();
            assert!(caps.try_acquire(b"k").is_err());
        }
        caps.release(b"k", held.pop().unwrap()).unwrap();
        assert_eq!(caps.try_acquire(b"k").unwrap().1, 4);
    }
}
