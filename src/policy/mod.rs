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
#[cfg(feature = "redis")]
pub(crate) use counters::StripedCounter;
mod keyed;
mod layer;
pub(crate) mod plans;
pub(crate) mod stack;
pub(crate) mod suspensions;

pub use keyed::LayerKeyKind;
pub use layer::{Layer, LayerKey};

use crate::core::clock::{Clock, MonotonicClock};
use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::http::Scope;
use layer::AnswerInto;
use stack::{LayerEntry, LayerStack, Totals};

/// The most layers one policy may have.
pub const MAX_LAYERS: usize = 32;

/// Several limits checked together for each request.
///
/// Built only by [`Policy::builder`]: no kind in this crate has `new` or
/// another constructor.
///
/// ```
/// use floodgate::{LayerKey, Limiter, ManualClock, Outcome, Policy, Quota, Scope, SlidingWindow};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// // GenieOS: a key bucket (30/s, burst 60) and a workspace window (600/min).
/// let policy = Policy::builder()
///     .layer(Scope::Key, Limiter::builder(Quota::per_second(30)?.with_burst(60)?).clock(clock.clone()).build())
///     .layer(Scope::Workspace, SlidingWindow::builder(600, Duration::from_secs(60)).clock(clock.clone()).build()?)
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
    totals: Totals,
    clock: C,
}

struct PolicyLayer {
    entry: LayerEntry,
    /// Asked through [`AnswerInto`], whose calls copy neither key nor decision.
    limit: Box<dyn AnswerInto>,
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
    ///     .shadow_layer(Scope::Named("new-endpoint-limit"), Limiter::builder(Quota::per_second(1)?).build())
    ///     .build()?;
    /// assert!(policy.check(&[LayerKey::Unkeyed], 1)?.is_admitted());
    /// assert!(policy.check(&[LayerKey::Unkeyed], 1)?.is_admitted()); // would have been denied
    /// assert_eq!(policy.layer_counters(0)?.shadow_denied, 1);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn shadow_layer(self, scope: Scope, limit: impl Layer + 'static) -> Self {
        self.push(scope, Box::new(limit), true)
    }

    fn push(mut self, scope: Scope, limit: Box<dyn AnswerInto>, shadow: bool) -> Self {
        self.layers.push(PolicyLayer {
            entry: LayerEntry::new(scope, shadow),
            limit,
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
        // Shared layers are charged by every worker process: all must ask
        // them on the machine's one timeline.
        let shared = self
            .layers
            .iter()
            .any(|layer| layer.limit.in_shared_memory());
        Ok(Policy {
            layers: self.layers,
            totals: Totals::new(),
            clock: if shared {
                self.clock.system_wide()
            } else {
                self.clock
            },
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
        stack::check(self.layers.as_slice(), &self.totals, keys, cost, now_ns)
    }

    /// The policy's counts so far.
    pub fn counters(&self) -> PolicyCounters {
        self.totals.counters()
    }

    /// Layer `index`'s counts so far, or [`Error::NoSuchLayer`].
    pub fn layer_counters(&self, index: usize) -> Result<LayerCounters> {
        let layer = self.layers.get(index).ok_or(Error::NoSuchLayer)?;
        Ok(layer.entry.counters())
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

impl LayerStack for [PolicyLayer] {
    #[inline]
    fn len(&self) -> usize {
        <[PolicyLayer]>::len(self)
    }

    #[inline]
    fn entry(&self, index: usize) -> &LayerEntry {
        &self[index].entry
    }

    #[inline]
    fn check_into(
        &self,
        index: usize,
        key: &LayerKey<'_>,
        cost: u64,
        now_ns: u64,
        into: &mut Decision,
    ) -> Result<()> {
        self[index].limit.check_into(key, cost, now_ns, into)
    }

    #[inline]
    fn probe_into(
        &self,
        index: usize,
        key: &LayerKey<'_>,
        cost: u64,
        now_ns: u64,
        into: &mut Decision,
    ) -> Result<()> {
        self[index].limit.probe_into(key, cost, now_ns, into)
    }

    #[inline]
    fn refund(&self, index: usize, key: &LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()> {
        self[index].limit.refund(key, cost, now_ns)
    }
}
