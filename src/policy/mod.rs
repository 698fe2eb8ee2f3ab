//! Layered checks: one call checks several limits for one request (source
//! IP, access token, workspace, endpoint...) and admits only if every
//! enforcing layer admits.
//!
//! **A denial charges no layer.** Layers are charged in order; when one
//! denies, the layers already charged are refunded at the same timestamp, so
//! the request leaves no trace (unlike Envoy's ratelimit service, which
//! charges every descriptor). Between the charge and the refund another
//! thread may briefly see the charged capacity as used: it can only be
//! denied early, never admitted beyond a limit.
//!
//! **What the verdict reports.** When admitted: the decision of the enforcing
//! layer with the fewest remaining units (what `X-RateLimit-*` should show)
//! and its scope. When denied: the decision with the longest wait among the
//! layers that would deny (a cost that can never fit counts as forever), and
//! that layer's scope, so `Retry-After` is never too short.
//!
//! **Shadow layers** are evaluated and counted but never deny: a new limit
//! can be rolled out and watched before it is enforced.

mod counters;
mod keyed;
mod layer;

pub use keyed::LayerKeyKind;
pub use layer::{Layer, LayerKey};

use crate::clock::{Clock, MonotonicClock};
use crate::decision::{Decision, Outcome};
use crate::error::{Error, Result};
use crate::headers::Scope;
use counters::StripedCounter;

/// The most layers one policy may have.
pub const MAX_LAYERS: usize = 32;

/// Several limits checked together for each request.
///
/// ```
/// use floodgate::{LayerKey, Limiter, ManualClock, Outcome, Policy, Quota, Scope, SlidingWindow};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// // GenieOS: a key bucket (30/s, burst 60) and a workspace window (600/min).
/// let policy = Policy::builder()
///     .layer(Scope::Key, Limiter::with_clock(Quota::per_second(30)?.with_burst(60)?, clock.clone()))
///     .layer(Scope::Workspace, SlidingWindow::with_clock(600, Duration::from_secs(60), clock.clone())?)
///     .clock(clock.clone())
///     .build()?;
/// let keys = [LayerKey::Unkeyed, LayerKey::Unkeyed];
/// for _ in 0..60 {
///     assert!(policy.check(&keys, 1)?.is_admitted());
/// }
/// let verdict = policy.check(&keys, 1)?;
/// assert_eq!((verdict.decision().outcome(), verdict.scope()), (Outcome::Denied, Scope::Key));
/// assert_eq!(policy.counters().denied, 1);
/// # Ok::<(), floodgate::Error>(())
/// ```
pub struct Policy<C: Clock = MonotonicClock> {
    layers: Vec<PolicyLayer>,
    admitted: StripedCounter,
    denied: StripedCounter,
    suspended: StripedCounter,
    clock: C,
}

struct PolicyLayer {
    scope: Scope,
    limit: Box<dyn Layer>,
    shadow: bool,
    denied: StripedCounter,
    shadow_denied: StripedCounter,
    suspended: StripedCounter,
}

/// Builds a [`Policy`]: its layers, in the order requests list their keys.
pub struct PolicyBuilder<C: Clock> {
    layers: Vec<PolicyLayer>,
    clock: C,
}

/// The answer to a layered check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    decision: Decision,
    scope: Scope,
    layer: usize,
}

impl Verdict {
    pub(crate) fn new(decision: Decision, scope: Scope, layer: usize) -> Self {
        Self {
            decision,
            scope,
            layer,
        }
    }

    /// The decision to act on and to render headers from (see the module docs).
    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// The scope of the layer that decision came from.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The index of that layer.
    pub fn layer(&self) -> usize {
        self.layer
    }

    /// Whether the request may go.
    pub fn is_admitted(&self) -> bool {
        self.decision.is_admitted()
    }
}

/// A policy's counts so far, for monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PolicyCounters {
    /// Requests every enforcing layer admitted.
    pub admitted: u64,
    /// Requests an enforcing layer refused on rate (denied or cannot fit).
    pub denied: u64,
    /// Requests refused because a layer's key is suspended.
    pub suspended: u64,
}

/// One layer's counts so far. A request passes only when every enforcing
/// layer admits it, so the admitted count is the policy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerCounters {
    /// Requests this layer refused (enforcing layers only).
    pub denied: u64,
    /// Requests this shadow layer would have refused.
    pub shadow_denied: u64,
    /// Requests this layer refused because the key is suspended.
    pub suspended: u64,
}

impl Policy<MonotonicClock> {
    /// An empty builder timed by a new [`MonotonicClock`].
    pub fn builder() -> PolicyBuilder<MonotonicClock> {
        PolicyBuilder {
            layers: Vec::new(),
            clock: MonotonicClock::new(),
        }
    }
}

impl<C: Clock> PolicyBuilder<C> {
    /// Adds an enforcing layer that reports `scope`.
    pub fn layer(self, scope: Scope, limit: impl Layer + 'static) -> Self {
        self.push(scope, Box::new(limit), false)
    }

    /// Adds a shadow layer: evaluated and counted, never denying.
    ///
    /// ```
    /// # use floodgate::{LayerKey, Limiter, Policy, Quota, Scope};
    /// let policy = Policy::builder()
    ///     .shadow_layer(Scope::Named("new-endpoint-limit"), Limiter::new(Quota::per_second(1)?))
    ///     .build()?;
    /// assert!(policy.check(&[LayerKey::Unkeyed], 1)?.is_admitted());
    /// assert!(policy.check(&[LayerKey::Unkeyed], 1)?.is_admitted()); // would have been denied
    /// assert_eq!(policy.layer_counters(0)?.shadow_denied, 1);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn shadow_layer(self, scope: Scope, limit: impl Layer + 'static) -> Self {
        self.push(scope, Box::new(limit), true)
    }

    fn push(mut self, scope: Scope, limit: Box<dyn Layer>, shadow: bool) -> Self {
        self.layers.push(PolicyLayer {
            scope,
            limit,
            shadow,
            denied: StripedCounter::new(),
            shadow_denied: StripedCounter::new(),
            suspended: StripedCounter::new(),
        });
        self
    }

    /// Times the policy by `clock`; every layer is asked at the policy's time.
    pub fn clock<D: Clock>(self, clock: D) -> PolicyBuilder<D> {
        PolicyBuilder {
            layers: self.layers,
            clock,
        }
    }

    /// The policy, or [`Error::NoLayers`] / [`Error::TooManyLayers`].
    pub fn build(self) -> Result<Policy<C>> {
        if self.layers.is_empty() {
            return Err(Error::NoLayers);
        }
        if self.layers.len() > MAX_LAYERS {
            return Err(Error::TooManyLayers);
        }
        Ok(Policy {
            layers: self.layers,
            admitted: StripedCounter::new(),
            denied: StripedCounter::new(),
            suspended: StripedCounter::new(),
            clock: self.clock,
        })
    }
}

impl<C: Clock> Policy<C> {
    /// Checks `cost` against every layer now; `keys[i]` is layer `i`'s key.
    ///
    /// Errors ([`Error::LayerKeyCount`], [`Error::LayerKeyMismatch`] or a
    /// keyed layer's key error) leave no charge behind: layers charged before
    /// the bad key are refunded at the same timestamp.
    pub fn check(&self, keys: &[LayerKey<'_>], cost: u64) -> Result<Verdict> {
        self.check_at(keys, cost, self.clock.now_ns())
    }

    /// [`check`](Self::check) at a caller-supplied time.
    pub fn check_at(&self, keys: &[LayerKey<'_>], cost: u64, now_ns: u64) -> Result<Verdict> {
        if keys.len() != self.layers.len() {
            return Err(Error::LayerKeyCount);
        }
        // Bit i set: layer i was charged and must be refunded on a denial.
        let mut charged = 0u32;
        let mut tightest: Option<(usize, Decision)> = None;
        for (index, (layer, &key)) in self.layers.iter().zip(keys).enumerate() {
            // A bad key for this layer: give back what earlier layers took,
            // at the same timestamp, which restores them exactly.
            let decision = match layer.limit.check_at(key, cost, now_ns) {
                Ok(decision) => decision,
                Err(error) => {
                    self.refund(charged, keys, cost, now_ns);
                    return Err(error);
                }
            };
            if decision.is_admitted() {
                charged |= 1 << index;
                if !layer.shadow
                    && tightest.is_none_or(|(_, best)| decision.leaves_less_than(&best))
                {
                    tightest = Some((index, decision));
                }
            } else if layer.shadow {
                layer.shadow_denied.add(1);
            } else {
                self.refund(charged, keys, cost, now_ns);
                return self.denial(index, decision, keys, cost, now_ns);
            }
        }
        self.admitted.add(1);
        // All layers shadow: report the first, which admitted or would not have.
        let (layer, decision) = match tightest {
            Some(tightest) => tightest,
            None => (0, self.layers[0].limit.probe_at(keys[0], 0, now_ns)?),
        };
        Ok(Verdict {
            decision,
            scope: self.layers[layer].scope,
            layer,
        })
    }

    /// Gives back what the layers in `charged` took.
    fn refund(&self, charged: u32, keys: &[LayerKey<'_>], cost: u64, now_ns: u64) {
        for (index, (layer, &key)) in self.layers.iter().zip(keys).enumerate() {
            if charged & (1 << index) != 0 {
                // The key was charged, so it is valid: the refund cannot fail.
                let _ = layer.limit.refund_at(key, cost, now_ns);
            }
        }
    }

    /// Layer `first` refused: finds the longest wait among it and the
    /// enforcing layers after it (probed, not charged) and counts them.
    fn denial(
        &self,
        first: usize,
        decision: Decision,
        keys: &[LayerKey<'_>],
        cost: u64,
        now_ns: u64,
    ) -> Result<Verdict> {
        self.layers[first].count_refusal(&decision);
        let mut worst = (first, decision);
        for (index, (layer, &key)) in self.layers.iter().zip(keys).enumerate().skip(first + 1) {
            if layer.shadow {
                continue;
            }
            let probed = layer.limit.probe_at(key, cost, now_ns)?;
            if probed.is_admitted() {
                continue;
            }
            layer.count_refusal(&probed);
            if wait_rank(&probed) > wait_rank(&worst.1) {
                worst = (index, probed);
            }
        }
        let refused_by = if worst.1.outcome() == Outcome::Suspended {
            &self.suspended
        } else {
            &self.denied
        };
        refused_by.add(1);
        Ok(Verdict {
            decision: worst.1,
            scope: self.layers[worst.0].scope,
            layer: worst.0,
        })
    }

    /// The policy's counts so far.
    pub fn counters(&self) -> PolicyCounters {
        PolicyCounters {
            admitted: self.admitted.total(),
            denied: self.denied.total(),
            suspended: self.suspended.total(),
        }
    }

    /// Layer `index`'s counts so far, or [`Error::NoSuchLayer`].
    pub fn layer_counters(&self, index: usize) -> Result<LayerCounters> {
        let layer = self.layers.get(index).ok_or(Error::NoSuchLayer)?;
        Ok(LayerCounters {
            denied: layer.denied.total(),
            shadow_denied: layer.shadow_denied.total(),
            suspended: layer.suspended.total(),
        })
    }

    /// How many layers the policy has.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Always false: a policy has at least one layer.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The clock this policy reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

impl PolicyLayer {
    fn count_refusal(&self, decision: &Decision) {
        match decision.outcome() {
            Outcome::Suspended => self.suspended.add(1),
            _ => self.denied.add(1),
        }
    }
}

/// Orders refusals by how long the client must wait: a cost that can never
/// fit, or a suspension without an end, outranks any finite wait.
fn wait_rank(decision: &Decision) -> u64 {
    match decision.retry_after() {
        Some(wait) if decision.outcome() != Outcome::CannotFit => {
            u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX - 1)
        }
        _ => u64::MAX,
    }
}
