//! The layered-check algorithm, written once over any stack of layers: a
//! [`Policy`](super::Policy)'s boxed layers, or a plan tier's two typed ones
//! (whose checks then inline, keeping decisions in registers).

use super::counters::StripedCounter;
use super::layer::LayerKey;
use super::{LayerCounters, PolicyCounters, Verdict};
use crate::core::decision::{Decision, Outcome};
use crate::core::error::{Error, Result};
use crate::http::Scope;

/// Layers asked by position, each answering into a slot the check keeps
/// (see [`AnswerInto`](super::layer::AnswerInto)).
pub(crate) trait LayerStack {
    /// How many layers.
    fn len(&self) -> usize;
    /// Layer `index`'s scope, mode and counters.
    fn entry(&self, index: usize) -> &LayerEntry;
    /// `Layer::check_at` of layer `index`, its decision written to `into`.
    fn check_into(
        &self,
        index: usize,
        key: &LayerKey<'_>,
        cost: u64,
        now_ns: u64,
        into: &mut Decision,
    ) -> Result<()>;
    /// `Layer::probe_at` of layer `index`, its decision written to `into`.
    fn probe_into(
        &self,
        index: usize,
        key: &LayerKey<'_>,
        cost: u64,
        now_ns: u64,
        into: &mut Decision,
    ) -> Result<()>;
    /// `Layer::refund_at` of layer `index`.
    fn refund(&self, index: usize, key: &LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()>;
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
    // Each layer answers into `slots[free]`; a new tightest decision stays
    // where it was written and the other slot becomes the free one, so no
    // decision is copied until the verdict is built.
    let mut slots = [Decision::unlimited(); 2];
    let mut free = 0;
    let mut tightest = None;
    for (index, key) in keys.iter().enumerate() {
        let entry = stack.entry(index);
        // A bad key for this layer: give back what earlier layers took, at
        // the same timestamp, which restores them exactly.
        if let Err(error) = stack.check_into(index, key, cost, now_ns, &mut slots[free]) {
            refund(stack, charged, keys, cost, now_ns);
            return Err(error);
        }
        let decision = &slots[free];
        if decision.is_admitted() {
            charged |= 1 << index;
            if !entry.shadow && (tightest.is_none() || decision.leaves_less_than(&slots[free ^ 1]))
            {
                tightest = Some(index);
                free ^= 1;
            }
        } else if entry.shadow {
            entry.shadow_denied.add(1);
        } else {
            refund(stack, charged, keys, cost, now_ns);
            return denial(stack, totals, index, slots[free], keys, cost, now_ns);
        }
    }
    totals.admitted.add(1);
    let layer = match tightest {
        Some(layer) => layer,
        // All layers shadow: report the first, which admitted or would not have.
        None => {
            stack.probe_into(0, &keys[0], 0, now_ns, &mut slots[free ^ 1])?;
            0
        }
    };
    Ok(Verdict::new(
        slots[free ^ 1],
        stack.entry(layer).scope,
        layer,
    ))
}

/// Gives back what the layers in `charged` took.
fn refund<S: LayerStack + ?Sized>(
    stack: &S,
    charged: u32,
    keys: &[LayerKey<'_>],
    cost: u64,
    now_ns: u64,
) {
    for (index, key) in keys.iter().enumerate() {
        if charged & (1 << index) != 0 {
            // The key was charged, so it is valid: the refund cannot fail.
            let _ = stack.refund(index, key, cost, now_ns);
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
    let mut probed = Decision::unlimited();
    for (index, key) in keys.iter().enumerate().skip(first + 1) {
        let entry = stack.entry(index);
        if entry.shadow {
            continue;
        }
        stack.probe_into(index, key, cost, now_ns, &mut probed)?;
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
pub(crate) fn wait_rank(decision: &Decision) -> u64 {
    match decision.retry_after() {
        Some(wait) if decision.outcome() != Outcome::CannotFit => {
            u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX - 1)
        }
        _ => u64::MAX,
    }
}
