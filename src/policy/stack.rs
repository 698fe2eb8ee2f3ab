//! The layered-check algorithm, written once over any stack of layers: a
//! [`Policy`](super::Policy)'s boxed layers, or a plan tier's two typed ones
//! (whose checks then inline, keeping decisions in registers).

use super::counters::StripedCounter;
use super::layer::LayerKey;
use super::{LayerCounters, PolicyCounters, Verdict};
use crate::core::decision::{Decision, Outcome};
use crate::core::error::{Error, Result};
use crate::http::Scope;

/// Layers asked by position.
pub(crate) trait LayerStack {
    /// How many layers.
    fn len(&self) -> usize;
    /// Layer `index`'s scope, mode and counters.
    fn entry(&self, index: usize) -> &LayerEntry;
    /// `Layer::check_at` of layer `index`.
    fn check_at(&self, index: usize, key: LayerKey<'_>, cost: u64, now_ns: u64)
        -> Result<Decision>;
    /// `Layer::probe_at` of layer `index`.
    fn probe_at(&self, index: usize, key: LayerKey<'_>, cost: u64, now_ns: u64)
        -> Result<Decision>;
    /// `Layer::refund_at` of layer `index`.
    fn refund_at(&self, index: usize, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()>;
}

/// What a stack knows of each layer besides its limit.
pub(crate) struct LayerEntry {
    pub(crate) scope: Scope,
    pub(crate) shadow: bool,
    denied: StripedCounter,
    shadow_denied: StripedCounter,
    suspended: StripedCounter,
}

/// A whole stack's counts.
pub(crate) struct Totals {
    admitted: StripedCounter,
    denied: StripedCounter,
    suspended: StripedCounter,
}

impl LayerEntry {
    pub(crate) fn new(scope: Scope, shadow: bool) -> Self {
        Self {
            scope,
            shadow,
            denied: StripedCounter::new(),
            shadow_denied: StripedCounter::new(),
            suspended: StripedCounter::new(),
        }
    }

    fn count_refusal(&self, decision: &Decision) {
        match decision.outcome() {
            Outcome::Suspended => self.suspended.add(1),
            _ => self.denied.add(1),
        }
    }

    pub(crate) fn counters(&self) -> LayerCounters {
        LayerCounters {
            denied: self.denied.total(),
            shadow_denied: self.shadow_denied.total(),
            suspended: self.suspended.total(),
        }
    }
}

impl Totals {
    pub(crate) fn new() -> Self {
        Self {
            admitted: StripedCounter::new(),
            denied: StripedCounter::new(),
            suspended: StripedCounter::new(),
        }
    }

    pub(crate) fn counters(&self) -> PolicyCounters {
        PolicyCounters {
            admitted: self.admitted.total(),
            denied: self.denied.total(),
            suspended: self.suspended.total(),
        }
    }
}

/// Checks `cost` against every layer of `stack` at `now_ns`; `keys[i]` is
/// layer `i`'s key. See the [module docs](super) for what is charged and
/// reported.
#[inline]
pub(crate) fn check<S: LayerStack + ?Sized>(
    stack: &S,
    totals: &Totals,
    keys: &[LayerKey<'_>],
    cost: u64,
    now_ns: u64,
) -> Result<Verdict> {
    if keys.len() != stack.len() {
        return Err(Error::LayerKeyCount);
    }
    // Bit i set: layer i was charged and must be refunded on a denial.
    let mut charged = 0u32;
    let mut tightest: Option<(usize, Decision)> = None;
    for (index, &key) in keys.iter().enumerate() {
        let entry = stack.entry(index);
        // A bad key for this layer: give back what earlier layers took, at
        // the same timestamp, which restores them exactly.
        let decision = match stack.check_at(index, key, cost, now_ns) {
            Ok(decision) => decision,
            Err(error) => {
                refund(stack, charged, keys, cost, now_ns);
                return Err(error);
            }
        };
        if decision.is_admitted() {
            charged |= 1 << index;
            if !entry.shadow && tightest.is_none_or(|(_, best)| decision.leaves_less_than(&best)) {
                tightest = Some((index, decision));
            }
        } else if entry.shadow {
            entry.shadow_denied.add(1);
        } else {
            refund(stack, charged, keys, cost, now_ns);
            return denial(stack, totals, index, decision, keys, cost, now_ns);
        }
    }
    totals.admitted.add(1);
    // All layers shadow: report the first, which admitted or would not have.
    let (layer, decision) = match tightest {
        Some(tightest) => tightest,
        None => (0, stack.probe_at(0, keys[0], 0, now_ns)?),
    };
    Ok(Verdict::new(decision, stack.entry(layer).scope, layer))
}

/// Gives back what the layers in `charged` took.
fn refund<S: LayerStack + ?Sized>(
    stack: &S,
    charged: u32,
    keys: &[LayerKey<'_>],
    cost: u64,
    now_ns: u64,
) {
    for (index, &key) in keys.iter().enumerate() {
        if charged & (1 << index) != 0 {
            // The key was charged, so it is valid: the refund cannot fail.
            let _ = stack.refund_at(index, key, cost, now_ns);
        }
    }
}

/// Layer `first` refused: finds the longest wait among it and the enforcing
/// layers after it (probed, not charged) and counts them.
fn denial<S: LayerStack + ?Sized>(
    stack: &S,
    totals: &Totals,
    first: usize,
    decision: Decision,
    keys: &[LayerKey<'_>],
    cost: u64,
    now_ns: u64,
) -> Result<Verdict> {
    stack.entry(first).count_refusal(&decision);
    let mut worst = (first, decision);
    for (index, &key) in keys.iter().enumerate().skip(first + 1) {
        let entry = stack.entry(index);
        if entry.shadow {
            continue;
        }
        let probed = stack.probe_at(index, key, cost, now_ns)?;
        if probed.is_admitted() {
            continue;
        }
        entry.count_refusal(&probed);
        if wait_rank(&probed) > wait_rank(&worst.1) {
            worst = (index, probed);
        }
    }
    let refused_by = if worst.1.outcome() == Outcome::Suspended {
        &totals.suspended
    } else {
        &totals.denied
    };
    refused_by.add(1);
    Ok(Verdict::new(worst.1, stack.entry(worst.0).scope, worst.0))
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
