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
//! **Shared.** Built [`shared`](PlansBuilder::shared), every table of the
//! plans (the workspace windows, each tier's key table with its quota ring
//! and overrides, each tier's workspace limit and reached mark) is laid out
//! in one segment, in tier order. A check, a plan change or a
//! [`Plans::reconfigure_tier`] by one process is therefore what every
//! other process's next check sees. Only [`Plans::counters`] stay per
//! process.
//!
//! [`KeyedLimiter::reconfigure`]: crate::KeyedLimiter::reconfigure

use crate::core::alloc::{Place, Placed};
use crate::core::clock::{Clock, ManualClock, MonotonicClock};
use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::keyed::{FullTable, Key, KeyHasher, KeyedLimiter};
use crate::policy::layer::AnswerInto;
use crate::policy::stack::{self, LayerEntry, LayerStack, Totals};
use crate::policy::{Layer, LayerKey, LayerKeyKind, PolicyCounters, Verdict};
use crate::shm::header::{Description, Kind};
use crate::shm::{segment, SharedMemory};
use crate::sync::{AtomicU64, Ordering};
use crate::window::keyed::{KeyedWindows, WindowSettings};
use crate::window::window_limits;
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
    /// 1 once a check (in any process sharing the plans) has reached this
    /// tier, before it charged any key here: until then no key can have
    /// usage in `keys` for another tier to carry.
    reached: Placed<AtomicU64>,
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
    limit: Placed<AtomicU64>,
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
    shared: Option<SharedMemory>,
    clock: C,
    _keys: KeyKinds<K, W>,
}

/// What plans are built from, once validated: every process sharing them
/// must build them from the same settings.
struct PlanSettings {
    tiers: Vec<(String, TierLimits)>,
    /// The workspace table, at the largest tier's limit.
    windows: WindowSettings,
    key_capacity: usize,
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
            shared: None,
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
            shared: self.shared,
            clock,
            _keys: PhantomData,
        }
    }

    /// Keeps every table of the plans in the segment `shared` (one file for
    /// all tiers), so that every process building the same plans with it
    /// shares each key's bucket, each workspace's window, and every
    /// [`reconfigure_tier`](Plans::reconfigure_tier) (see [`SharedMemory`]).
    /// Every process must give the same tiers, window, capacities and key
    /// types: [`Error::SegmentMismatch`] names "window (ns)", "window
    /// limit" (the largest tier's), "capacity" (workspaces), or "options"
    /// for any difference in the tiers, the key capacity or the key types.
    /// A [`MonotonicClock`] moves to the machine's timeline
    /// ([`MonotonicClock::system`]).
    ///
    /// ```
    /// use floodgate::{presets::genieos, Plans, SharedMemory};
    /// let shared = SharedMemory::named(&format!("doc-plans-{}", std::process::id()))?;
    /// let build = || -> floodgate::Result<Plans<str, u64>> {
    ///     genieos::plans()?.key_capacity(1_000).workspace_capacity(100).shared(shared.clone()).build()
    /// };
    /// let (worker_one, worker_two) = (build()?, build()?);
    /// let hobby = worker_one.tier("hobby").unwrap();
    /// assert!(worker_one.check(hobby, "gos_live_a", &1, 60)?.is_admitted());
    /// assert!(!worker_two.check(hobby, "gos_live_a", &1, 1)?.is_admitted());
    /// assert!(worker_two.is_shared());
    /// shared.remove()?;
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn shared(mut self, shared: SharedMemory) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The plans; errors for no tiers, a zero capacity, or a bad limit;
    /// built [`shared`](Self::shared), also the segment's errors
    /// ([`Error::SegmentMismatch`], [`Error::SegmentIo`], ...).
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
        // Validates the window and the largest limit; each tier's own below.
        let windows = WindowSettings::validated(
            largest,
            self.window,
            self.workspace_capacity,
            FullTable::Deny,
        )?;
        for limit in self
            .tiers
            .iter()
            .filter_map(|(_, limits)| limits.per_workspace)
        {
            crate::window::validate_limit(limit)?;
        }
        let settings = PlanSettings {
            tiers: self.tiers,
            windows,
            key_capacity: self.key_capacity,
        };
        let Some(shared) = self.shared else {
            return Plans::placed(&settings, KeyHasher::random, self.clock, &mut Place::heap());
        };
        segment::open(
            &shared,
            &settings.description::<K, W>(),
            |place| {
                let hasher = || KeyHasher::from_secret([0; 4]);
                Plans::<K, W, ManualClock>::placed(&settings, hasher, ManualClock::new(), place)
                    .map(drop)
            },
            |place, secret| {
                let hasher = || KeyHasher::from_secret(secret);
                Plans::placed(&settings, hasher, self.clock.system_wide(), place)
            },
        )
    }
}

impl PlanSettings {
    /// The settings as a shared segment's header records them: the
    /// workspace table's in its fields, everything else (key types, key
    /// capacity, every tier's name and limits) as one fingerprint in the
    /// options.
    fn description<K: Key + ?Sized, W: Key + ?Sized>(&self) -> Description {
        fn put(bytes: &mut Vec<u8>, word: u64) {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        let mut bytes = Vec::new();
        put(&mut bytes, K::SHARED_KEY);
        put(&mut bytes, W::SHARED_KEY);
        put(&mut bytes, self.key_capacity as u64);
        for (name, limits) in &self.tiers {
            put(&mut bytes, name.len() as u64);
            bytes.extend_from_slice(name.as_bytes());
            match limits.per_key {
                Some(quota) => quota
                    .to_words()
                    .into_iter()
                    .for_each(|word| put(&mut bytes, word)),
                None => put(&mut bytes, u64::MAX),
            }
            put(&mut bytes, limits.per_workspace.unwrap_or(u64::MAX));
        }
        // A fixed key: the same settings fingerprint alike in every process.
        let fingerprint = siphasher::sip128::SipHasher13::new().hash(&bytes);
        Description {
            kind: Kind::Plans as u64,
            limits: window_limits(self.windows.limit, self.windows.window),
            capacity: self.windows.capacity as u64,
            options: fingerprint.h1 ^ fingerprint.h2,
        }
    }
}

impl<K, W, C> Plans<K, W, C>
where
    K: LayerKeyKind + ?Sized + 'static,
    W: LayerKeyKind + ?Sized + 'static,
    C: Clock + Clone + 'static,
{
    /// The plans for `settings` with every table in `place`, in one order
    /// every process repeats: the workspace windows, then each tier's
    /// tables in tier order. Each keyed table's hasher comes from `hasher`.
    fn placed(
        settings: &PlanSettings,
        hasher: impl Fn() -> KeyHasher,
        clock: C,
        place: &mut Place,
    ) -> Result<Self> {
        let windows = Arc::new(KeyedWindows::placed(
            &settings.windows,
            hasher(),
            clock.clone(),
            place,
        )?);
        let tiers = settings
            .tiers
            .iter()
            .map(|(name, limits)| {
                Tier::placed(
                    name,
                    limits,
                    settings.key_capacity,
                    &windows,
                    &hasher,
                    &clock,
                    place,
                )
            })
            .collect::<Result<_>>()?;
        Ok(Plans { tiers, clock })
    }
}

impl<K, W, C> Tier<K, W, C>
where
    K: LayerKeyKind + ?Sized + 'static,
    W: LayerKeyKind + ?Sized + 'static,
    C: Clock + Clone + 'static,
{
    fn placed(
        name: &str,
        limits: &TierLimits,
        key_capacity: usize,
        windows: &Arc<KeyedWindows<W, C>>,
        hasher: &impl Fn() -> KeyHasher,
        clock: &C,
        place: &mut Place,
    ) -> Result<Self> {
        let keys = match limits.per_key {
            Some(quota) => Some(
                KeyedLimiter::<K>::builder(quota)
                    .capacity(key_capacity)
                    .clock(clock.clone())
                    .placed(hasher(), place)?,
            ),
            None => None,
        };
        let reached = place.one(|| AtomicU64::new(0))?;
        let workspaces = match limits.per_workspace {
            Some(limit) => Some(TierWindows {
                windows: Arc::clone(windows),
                limit: place.one(|| AtomicU64::new(limit))?,
            }),
            None => None,
        };
        Ok(Self {
            name: name.to_owned(),
            keys,
            reached,
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

    /// Whether the plans live in a shared segment.
    pub fn is_shared(&self) -> bool {
        self.tiers
            .first()
            .is_some_and(|tier| tier.reached.is_shared())
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
