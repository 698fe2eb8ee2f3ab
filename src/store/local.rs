//! [`OnFailure::Local`](crate::store::OnFailure::Local): while Redis gives
//! no answer, this process keeps its share of every limit itself, one
//! in-process [`KeyedLimiter`] per limit keyed by the same keys, asked
//! together through a [`Policy`] as a layered check is. The shares follow
//! the fleet's size: when it changes, each limiter is reconfigured to the
//! new share, carrying its keys' debts across as any reconfiguration does.

use crate::core::clock::Clock;
use crate::core::decision::Decision;
use crate::core::error::Result;
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::keyed::KeyedLimiter;
use crate::policy::{LayerKey, Policy, Verdict};
use crate::store::fleet::{share, Fleet};
use crate::sync::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Set in `Local::sized` when the shares for its fleet size cannot be held.
const UNHELD: u64 = 1 << 32;

/// This process's shares of a limiter's limits.
pub(crate) struct Local {
    fleet: Fleet,
    /// Each limit's whole quota, in layer order.
    quotas: Vec<Quota>,
    limits: Vec<Arc<KeyedLimiter<[u8]>>>,
    /// The same limiters as layers.
    policy: Policy,
    /// The fleet size the installed shares are for, with [`UNHELD`] set
    /// when that size's shares could not be made.
    sized: AtomicU64,
    /// Held while the shares are replaced, so one size is installed at a time.
    resize: Mutex<()>,
}

impl Local {
    /// Shares of `layers` in `fleet`, sized for one member until a decision
    /// reads the fleet; [`Error::AllocationFailed`](crate::Error::AllocationFailed)
    /// when a table cannot be allocated.
    pub(crate) fn new(fleet: Fleet, layers: &[(Scope, Quota)]) -> Result<Self> {
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
            fleet,
            quotas: layers.iter().map(|(_, quota)| *quota).collect(),
            limits,
            policy,
            sized: AtomicU64::new(1),
            resize: Mutex::new(()),
        })
    }

    /// Layer `layer`'s whole quota.
    pub(crate) fn quota(&self, layer: usize) -> &Quota {
        &self.quotas[layer]
    }

    /// The shares' verdict on `cost` for `keys` (one per layer, checked
    /// already) at `now_ns`, or now by the local clock; `None` when the
    /// fleet's size gives shares the engine cannot hold.
    pub(crate) fn check(
        &self,
        keys: &[&[u8]],
        cost: u64,
        now_ns: Option<u64>,
    ) -> Result<Option<Verdict>> {
        let now_ns = now_ns.unwrap_or_else(|| self.policy.clock().now_ns());
        if !self.fit(now_ns) {
            return Ok(None);
        }
        let keys: Vec<LayerKey<'_>> = keys.iter().map(|key| LayerKey::Bytes(key)).collect();
        self.policy.check_at(&keys, cost, now_ns).map(Some)
    }

    /// Gives `amount` back to the first layer's share for `key`, at
    /// `now_ns` or now; `None` as for [`check`](Self::check).
    pub(crate) fn refund(
        &self,
        key: &[u8],
        amount: u64,
        now_ns: Option<u64>,
    ) -> Result<Option<Decision>> {
        let now_ns = now_ns.unwrap_or_else(|| self.policy.clock().now_ns());
        if !self.fit(now_ns) {
            return Ok(None);
        }
        self.limits[0].refund_at(key, amount, now_ns).map(Some)
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
        let shares = self
            .quotas
            .iter()
            .map(|quota| share(quota, size))
            .collect::<Result<Vec<_>>>();
        let held = match shares {
            Ok(shares) => {
                for (limit, share) in self.limits.iter().zip(shares) {
                    limit.reconfigure_at(share, now_ns);
                }
                0
            }
            Err(_) => UNHELD,
        };
        // Relaxed: see the first load.
        self.sized.store(members | held, Ordering::Relaxed);
        held == 0
    }
}
