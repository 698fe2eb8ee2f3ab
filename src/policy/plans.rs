//! Plan tiers: named limits for keys and workspaces, as API providers sell them.
//!
//! A tier is at most two layers, checked together by a [`Policy`](crate::Policy) (a denial
//! charges neither): a token bucket per key and a sliding window per
//! workspace. Either may be absent, and a tier with neither (the Sandbox of
//! [`presets::genieos::plans`](crate::presets::genieos::plans)) admits
//! everything without touching any state.
//!
//! **Where the plan comes from.** The application authenticates each request
//! and knows its workspace's plan, so it names the tier on every check.
//! Moving a workspace to another tier therefore takes effect on its next
//! check: its window is shared by all tiers and switches to the new tier's
//! limit, counts kept; its keys move to the new tier's key table (each tier
//! keeps its own, sized by [`PlansBuilder::key_capacity`]) with what they
//! have used, counted in requests and capped at the new tier's burst, as
//! [`KeyedLimiter::reconfigure`] converts usage. Changing a tier's own numbers at runtime
//! ([`Plans::reconfigure_tier`], an Enterprise contract renegotiated) keeps
//! every key's usage, by the rule of [`KeyedLimiter::reconfigure`].
//!
//! [`KeyedLimiter::reconfigure`]: crate::KeyedLimiter::reconfigure

use crate::core::clock::{Clock, MonotonicClock};
use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::keyed::KeyedLimiter;
use crate::policy::layer::AnswerInto;
use crate::policy::stack::{self, LayerEntry, LayerStack, Totals};
use crate::policy::{Layer, LayerKey, LayerKeyKind, PolicyCounters, Verdict};
use crate::sync::{AtomicU64, Ordering};
use crate::window::keyed::KeyedWindows;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// One tier's limits: per key and per workspace; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierLimits {
    /// Each key's token bucket.
    pub per_key: Option<Quota>,
    /// Each workspace's requests per window.
    pub per_workspace: Option<u64>,
}

/// A tier's position in its [`Plans`], from [`Plans::tier`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TierId(usize);

/// Named tiers checked per key and per workspace.
///
/// `K` is the key type (API keys: `str`), `W` the workspace id type.
///
/// Built only by [`Plans::builder`] (or the [`genieos`](crate::presets::genieos::plans)
/// preset's builder): no kind in this crate has `new` or another
/// constructor.
///
/// ```
/// use floodgate::{presets::genieos, ManualClock, Outcome, Plans, Scope};
///
/// let plans: Plans<str, u64, _> = genieos::plans()?.clock(ManualClock::new()).build()?;
/// let hobby = plans.tier("hobby").unwrap();
/// for _ in 0..60 {
///     assert!(plans.check(hobby, "gos_live_a", &1, 1)?.is_admitted());
/// }
/// let denied = plans.check(hobby, "gos_live_a", &1, 1)?;
/// assert_eq!((denied.decision().outcome(), denied.scope()), (Outcome::Denied, Scope::Key));
///
/// let sandbox = plans.tier("sandbox").unwrap();
/// assert!(plans.check(sandbox, "gos_test_a", &1, 1_000_000)?.is_admitted());
/// # Ok::<(), floodgate::Error>(())
/// ```
pub struct Plans<K, W, C = MonotonicClock>
where
    K: LayerKeyKind + ?Sized,
    W: LayerKeyKind + ?Sized,
    C: Clock + Clone,
{
    tiers: Vec<Tier<K, W, C>>,
    clock: C,
}

struct Tier<K: LayerKeyKind + ?Sized, W: LayerKeyKind + ?Sized, C: Clock + Clone> {
    name: String,
    /// Layer 0, the key bucket: `None` when keys are unlimited.
    keys: Option<KeyedLimiter<K, C>>,
    /// 1 once a check has reached this tier, before it charged any key here:
    /// until then no key can have usage in `keys` for another tier to carry.
    reached: AtomicU64,
    /// Layer 1, the workspace window: `None` when workspaces are unlimited.
    workspaces: Option<TierWindows<W, C>>,
    /// Scopes and per-layer counters of the two layers.
    entries: [LayerEntry; 2],
    totals: Totals,
}

/// The workspace windows as one tier sees them: its own limit, applied to
/// the window a workspace shares with every tier.
struct TierWindows<W: LayerKeyKind + ?Sized, C: Clock + Clone> {
    windows: Arc<KeyedWindows<W, C>>,
    limit: AtomicU64,
}

/// The key and workspace types a builder is for, owning neither.
type KeyKinds<K, W> = PhantomData<(fn(&K), fn(&W))>;

/// Configures [`Plans`]; start with [`Plans::builder`] (or a
/// provider's table from [`presets`](crate::presets)).
pub struct PlansBuilder<K: ?Sized, W: ?Sized, C> {
    tiers: Vec<(String, TierLimits)>,
    window: Duration,
    key_capacity: usize,
    workspace_capacity: usize,
    clock: C,
    _keys: KeyKinds<K, W>,
}

impl<K: LayerKeyKind + ?Sized, W: LayerKeyKind + ?Sized, C: Clock + Clone + Default>
    Plans<K, W, C>
{
    /// A builder for tiers whose workspace limits count requests per
    /// `window`. Defaults: 100 000 keys, 10 000 workspaces, the clock type's
    /// default (a new [`MonotonicClock`] unless the type names another;
    /// `.clock(c)` sets any).
    ///
    /// This builder (or a [`presets`](crate::presets) table's) is the only
    /// way to make plans, as for every kind in this crate.
    pub fn builder(window: Duration) -> PlansBuilder<K, W, C> {
        PlansBuilder {
            tiers: Vec::new(),
            window,
            key_capacity: 100_000,
            workspace_capacity: 10_000,
            clock: C::default(),
            _keys: PhantomData,
        }
    }
}

impl<K: LayerKeyKind + ?Sized, W: LayerKeyKind + ?Sized, C: Clock + Clone> PlansBuilder<K, W, C> {
    /// Adds (or replaces) the tier `name`.
    pub fn tier(mut self, name: &str, limits: TierLimits) -> Self {
        match self.tiers.iter_mut().find(|(known, _)| known == name) {
            Some((_, existing)) => *existing = limits,
            None => self.tiers.push((name.to_owned(), limits)),
        }
        self
    }

    /// Slots in each tier's key table (default 100,000).
    pub fn key_capacity(mut self, capacity: usize) -> Self {
        self.key_capacity = capacity;
        self
    }

    /// Slots in the workspace table (default 10,000).
    pub fn workspace_capacity(mut self, capacity: usize) -> Self {
        self.workspace_capacity = capacity;
        self
    }

    /// Times every tier by `clock`.
    pub fn clock<D: Clock + Clone>(self, clock: D) -> PlansBuilder<K, W, D> {
        PlansBuilder {
            tiers: self.tiers,
            window: self.window,
            key_capacity: self.key_capacity,
            workspace_capacity: self.workspace_capacity,
            clock,
            _keys: PhantomData,
        }
    }

    /// The plans; errors for no tiers, a zero capacity, or a bad limit.
    pub fn build(self) -> Result<Plans<K, W, C>>
    where
        K: 'static,
        W: 'static,
        C: 'static,
    {
        if self.tiers.is_empty() {
            return Err(Error::NoLayers);
        }
        let largest = self
            .tiers
            .iter()
            .filter_map(|(_, limits)| limits.per_workspace)
            .max()
            .unwrap_or(1);
        let windows = Arc::new(
            KeyedWindows::<W>::builder(largest, self.window)
                .capacity(self.workspace_capacity)
                .clock(self.clock.clone())
                .build()?,
        );
        let tiers = self
            .tiers
            .into_iter()
            .map(|(name, limits)| Tier::new(name, limits, self.key_capacity, &windows, &self.clock))
            .collect::<Result<_>>()?;
        Ok(Plans {
            tiers,
            clock: self.clock,
        })
    }
}

impl<K, W, C> Tier<K, W, C>
where
    K: LayerKeyKind + ?Sized + 'static,
    W: LayerKeyKind + ?Sized + 'static,
    C: Clock + Clone + 'static,
{
    fn new(
        name: String,
        limits: TierLimits,
        key_capacity: usize,
        windows: &Arc<KeyedWindows<W, C>>,
        clock: &C,
    ) -> Result<Self> {
        let keys = limits
            .per_key
            .map(|quota| {
                KeyedLimiter::<K>::builder(quota)
                    .capacity(key_capacity)
                    .clock(clock.clone())
                    .build()
            })
            .transpose()?;
        let workspaces = limits
            .per_workspace
            .map(|limit| {
                // The shared table validated the largest limit; check this one.
                crate::window::validate(limit, windows.window())?;
                Ok::<_, Error>(TierWindows {
                    windows: Arc::clone(windows),
                    limit: AtomicU64::new(limit),
                })
            })
            .transpose()?;
        Ok(Self {
            name,
            keys,
            reached: AtomicU64::new(0),
            workspaces,
            entries: [
                LayerEntry::new(Scope::Key, false),
                LayerEntry::new(Scope::Workspace, false),
            ],
            totals: Totals::new(),
        })
    }
}

impl<K, W, C> Plans<K, W, C>
where
    K: LayerKeyKind + ?Sized,
    W: LayerKeyKind + ?Sized,
    C: Clock + Clone,
{
    /// The tier called `name`.
    pub fn tier(&self, name: &str) -> Option<TierId> {
        self.tiers
            .iter()
            .position(|tier| tier.name == name)
            .map(TierId)
    }

    /// The tiers' names, in [`TierId`] order.
    pub fn tier_names(&self) -> impl Iterator<Item = &str> {
        self.tiers.iter().map(|tier| tier.name.as_str())
    }

    /// Checks `cost` for `key` of `workspace` on `tier` now.
    pub fn check(&self, tier: TierId, key: &K, workspace: &W, cost: u64) -> Result<Verdict> {
        self.check_at(tier, key, workspace, cost, self.clock.now_ns())
    }

    /// [`check`](Self::check) at a caller-supplied time. An unlimited tier
    /// answers admitted with limit and remaining `u64::MAX`, charging nothing.
    pub fn check_at(
        &self,
        tier: TierId,
        key: &K,
        workspace: &W,
        cost: u64,
        now_ns: u64,
    ) -> Result<Verdict> {
        let tier = self.tiers.get(tier.0).ok_or(Error::NoSuchLayer)?;
        if tier.keys.is_none() && tier.workspaces.is_none() {
            return Ok(Verdict::new(Decision::unlimited(), Scope::Key, 0));
        }
        if let Some(keys) = &tier.keys {
            tier.mark_reached();
            self.carry_usage(keys, key, now_ns)?;
        }
        let keys = [key.layer_key(), workspace.layer_key()];
        stack::check(tier, &tier.totals, &keys, cost, now_ns)
    }

    /// Brings `key`'s usage into `keys` (its tier's table) from the other
    /// tiers' tables, so that a plan change keeps what the key has used, by
    /// the rule of [`KeyedLimiter::reconfigure`]. Only a key whose bucket in
    /// its tier is idle (full, or absent) can have usage elsewhere: a key
    /// that moves leaves its old bucket full, so the usage lives in one
    /// table at a time. With more than one keyed tier, every check first
    /// reads the key's bucket in its tier (the check then finds that slot
    /// cached); only checks of idle keys look in the other tiers' tables,
    /// and only in those of tiers a check has reached.
    fn carry_usage(&self, keys: &KeyedLimiter<K, C>, key: &K, now_ns: u64) -> Result<()> {
        let mut others = self
            .tiers
            .iter()
            .filter(|tier| tier.was_reached())
            .filter_map(|tier| tier.keys.as_ref())
            .filter(|other| !std::ptr::eq(*other, keys))
            .peekable();
        if others.peek().is_none() || !keys.usage_at(key, now_ns)?.is_none() {
            return Ok(());
        }
        for other in others {
            let usage = other.take_usage_at(key, now_ns)?;
            if !usage.is_none() {
                keys.add_usage_at(key, usage, now_ns)?;
            }
        }
        Ok(())
    }

    /// Replaces `tier`'s limits at runtime. A limit can be changed, not
    /// added or removed ([`Error::NoSuchLayer`] otherwise): keys keep their
    /// usage and workspaces their counts.
    ///
    /// ```
    /// # use floodgate::{ManualClock, Plans, Quota, TierLimits};
    /// let plans: Plans<str, u64, _> = floodgate::presets::genieos::plans()?.clock(ManualClock::new()).build()?;
    /// let pro = plans.tier("pro").unwrap();
    /// plans.check(pro, "k", &1, 100)?;
    /// plans.reconfigure_tier(pro, TierLimits {
    ///     per_key: Some(Quota::per_second(100)?.with_burst(200)?),
    ///     per_workspace: Some(3_000),
    /// })?;
    /// assert_eq!(plans.check(pro, "k", &1, 1)?.decision().remaining(), 99);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn reconfigure_tier(&self, tier: TierId, limits: TierLimits) -> Result<()> {
        self.reconfigure_tier_at(tier, limits, self.clock.now_ns())
    }

    /// [`reconfigure_tier`](Self::reconfigure_tier) at a caller-supplied
    /// time: keys' usage is converted as of `now_ns`.
    ///
    /// ```
    /// # use floodgate::{ManualClock, Plans, Quota, TierLimits};
    /// let plans: Plans<str, u64, _> = floodgate::presets::genieos::plans()?.clock(ManualClock::new()).build()?;
    /// let hobby = plans.tier("hobby").unwrap();
    /// plans.check_at(hobby, "k", &1, 60, 0)?;
    /// plans.reconfigure_tier_at(hobby, TierLimits {
    ///     per_key: Some(Quota::per_second(30)?.with_burst(90)?),
    ///     per_workspace: Some(600),
    /// }, 0)?;
    /// assert_eq!(plans.check_at(hobby, "k", &1, 1, 0)?.decision().remaining(), 29);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn reconfigure_tier_at(&self, tier: TierId, limits: TierLimits, now_ns: u64) -> Result<()> {
        let tier = self.tiers.get(tier.0).ok_or(Error::NoSuchLayer)?;
        if tier.keys.is_some() != limits.per_key.is_some()
            || tier.workspaces.is_some() != limits.per_workspace.is_some()
        {
            return Err(Error::NoSuchLayer);
        }
        if let (Some(workspaces), Some(limit)) = (&tier.workspaces, limits.per_workspace) {
            crate::window::validate_limit(limit)?;
            // Relaxed: each check applies whichever limit it reads.
            workspaces.limit.store(limit, Ordering::Relaxed);
        }
        if let (Some(keys), Some(quota)) = (&tier.keys, limits.per_key) {
            keys.reconfigure_at(quota, now_ns);
        }
        Ok(())
    }

    /// `tier`'s counts so far.
    pub fn counters(&self, tier: TierId) -> Result<PolicyCounters> {
        let tier = self.tiers.get(tier.0).ok_or(Error::NoSuchLayer)?;
        Ok(tier.totals.counters())
    }

    /// The clock the plans read.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

impl<K: LayerKeyKind + ?Sized, W: LayerKeyKind + ?Sized, C: Clock + Clone> Tier<K, W, C> {
    /// Records that a check reached this tier, before it charges any key.
    #[inline]
    fn mark_reached(&self) {
        // Relaxed: this thread's charges follow the store in program order,
        // so a carry that happens after one of them happens after the store
        // and reads 1; a carry racing the first charge could miss that
        // charge by reading the table too. Loaded first so that checks do
        // not write the shared line once it is set.
        if self.reached.load(Ordering::Relaxed) == 0 {
            self.reached.store(1, Ordering::Relaxed);
        }
    }

    /// Whether a check has reached this tier (see `mark_reached`).
    #[inline]
    fn was_reached(&self) -> bool {
        // Relaxed: see `mark_reached`.
        self.reached.load(Ordering::Relaxed) != 0
    }
}

impl<W: LayerKeyKind + ?Sized, C: Clock + Clone> TierWindows<W, C> {
    /// The tier's limit now.
    fn limit(&self) -> u64 {
        // Relaxed: see `Plans::reconfigure_tier`.
        self.limit.load(Ordering::Relaxed)
    }
}

impl<W: LayerKeyKind + ?Sized, C: Clock + Clone> Layer for TierWindows<W, C> {
    #[inline]
    fn check_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision> {
        W::with_layer_key(key, |workspace| {
            W::into_result(
                self.windows
                    .check_under_at(workspace, self.limit(), cost, now_ns),
            )
        })?
    }

    fn probe_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision> {
        W::with_layer_key(key, |workspace| {
            W::answered(
                self.windows
                    .probe_under_at(workspace, self.limit(), cost, now_ns),
            )
        })?
    }

    fn refund_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()> {
        self.windows.refund_at(key, cost, now_ns)
    }
}

/// Layer 0 is the key bucket, layer 1 the workspace window; an absent layer
/// answers unlimited, which never refuses and is never the tightest.
impl<K, W, C> LayerStack for Tier<K, W, C>
where
    K: LayerKeyKind + ?Sized,
    W: LayerKeyKind + ?Sized,
    C: Clock + Clone,
{
    fn len(&self) -> usize {
        2
    }

    fn entry(&self, index: usize) -> &LayerEntry {
        &self.entries[index]
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
        match (index, &self.keys, &self.workspaces) {
            (0, Some(keys), _) => keys.check_into(key, cost, now_ns, into),
            (1, _, Some(workspaces)) => workspaces.check_into(key, cost, now_ns, into),
            _ => {
                *into = Decision::unlimited();
                Ok(())
            }
        }
    }

    fn probe_into(
        &self,
        index: usize,
        key: &LayerKey<'_>,
        cost: u64,
        now_ns: u64,
        into: &mut Decision,
    ) -> Result<()> {
        match (index, &self.keys, &self.workspaces) {
            (0, Some(keys), _) => keys.probe_into(key, cost, now_ns, into),
            (1, _, Some(workspaces)) => workspaces.probe_into(key, cost, now_ns, into),
            _ => {
                *into = Decision::unlimited();
                Ok(())
            }
        }
    }

    fn refund(&self, index: usize, key: &LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()> {
        match (index, &self.keys, &self.workspaces) {
            (0, Some(keys), _) => AnswerInto::refund(keys, key, cost, now_ns),
            (1, _, Some(workspaces)) => AnswerInto::refund(workspaces, key, cost, now_ns),
            _ => Ok(()),
        }
    }
}
