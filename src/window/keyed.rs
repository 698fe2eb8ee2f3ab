//! [`KeyedWindows`]: one sliding window per key (per workspace, say).
//!
//! Workspaces are few and long-lived next to API keys, so their windows live
//! in a lock-free, insert-only map (`src/map`) of fixed capacity: a
//! workspace's window is claimed by its first check and kept until the
//! table is dropped. A workspace that finds no room gets the table's
//! [`FullTable`] behaviour.
//!
//! The map holds each key's counter state only (its counts, latest window
//! and limit: [`WindowState`], 24 bytes); the window length and the clock
//! are the table's, so the map can live in a shared segment.

use super::state::WindowState;
use crate::core::alloc::{Place, Placed};
use crate::core::clock::{Clock, ManualClock, MonotonicClock};
use crate::core::decision::{Decision, Outcome};
use crate::core::error::{Error, Result};
use crate::keyed::{FullTable, Key, KeyHasher, DEFAULT_CAPACITY};
use crate::map::KeyedCells;
use crate::shm::header::{Description, Kind};
use crate::shm::{segment, SharedMemory};
use crate::sync::{AtomicU64, Ordering};
use crate::window::{validate, validate_limit, window_limits, window_nanos, SlidingWindow};
use std::marker::PhantomData;
use std::time::Duration;

/// Sliding windows of `limit` per `window`, one per key.
///
/// Keyed calls answer in the one shape of every keyed kind (see
/// [`Key`](crate::Key#one-answer-shape-for-keyed-calls)): a refusal is data
/// in the answer; `Err(`[`Error`]`)` is a bad key, a full
/// table or bad input, and changes nothing.
///
/// Built only by [`KeyedWindows::builder`]: no kind in this crate has `new` or
/// another constructor.
///
/// ```
/// use floodgate::{KeyedWindows, ManualClock, Outcome, Scope};
/// use std::time::Duration;
///
/// // GenieOS per-workspace cap: 600 requests per minute per workspace.
/// let workspaces = KeyedWindows::<u64>::builder(600, Duration::from_secs(60))
///     .capacity(10_000)
///     .clock(ManualClock::new())
///     .build()?;
/// assert!(workspaces.check(&7, 600).is_admitted());
/// assert_eq!(workspaces.check(&7, 1).outcome(), Outcome::Denied);
/// assert!(workspaces.check(&8, 1).is_admitted()); // another workspace
/// assert_eq!(workspaces.len(), 2);
/// # Ok::<(), floodgate::Error>(())
/// ```
pub struct KeyedWindows<K: Key + ?Sized, C: Clock = MonotonicClock> {
    cells: KeyedCells<K, WindowState>,
    limit: u64,
    window_ns: u64,
    on_full: FullTable,
    /// The window every key shares under [`FullTable::Overflow`].
    overflow: SlidingWindow<C>,
    full_table_events: Placed<AtomicU64>,
    clock: C,
}

/// Configures [`KeyedWindows`]; start with [`KeyedWindows::builder`].
///
/// ```
/// use floodgate::{FullTable, KeyedWindows, ManualClock};
/// use std::time::Duration;
///
/// let workspaces = KeyedWindows::<u64>::builder(600, Duration::from_secs(60))
///     .capacity(10_000)
///     .on_full(FullTable::Admit)
///     .clock(ManualClock::new())
///     .build()?;
/// assert_eq!(workspaces.capacity(), 10_000);
/// # Ok::<(), floodgate::Error>(())
/// ```
#[must_use]
pub struct KeyedWindowsBuilder<K: Key + ?Sized, C: Clock = MonotonicClock> {
    limit: u64,
    window: Duration,
    capacity: usize,
    on_full: FullTable,
    shared: Option<SharedMemory>,
    clock: C,
    _key: PhantomData<fn(&K)>,
}

/// What keyed windows are built from, once validated: every process
/// sharing them must build them from the same settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WindowSettings {
    pub(crate) limit: u64,
    pub(crate) window: Duration,
    pub(crate) capacity: usize,
    pub(crate) on_full: FullTable,
}

impl WindowSettings {
    /// The settings, or the first error a build of them would meet.
    pub(crate) fn validated(
        limit: u64,
        window: Duration,
        capacity: usize,
        on_full: FullTable,
    ) -> Result<Self> {
        validate(limit, window)?;
        Ok(Self {
            limit,
            window,
            capacity,
            on_full,
        })
    }

    /// The settings as a shared segment's header records them.
    fn description<K: Key + ?Sized>(&self) -> Description {
        Description {
            kind: Kind::KeyedWindows.keyed::<K>(),
            limits: window_limits(self.limit, self.window),
            capacity: self.capacity as u64,
            options: self.on_full.code(),
        }
    }
}

impl<K: Key + ?Sized, C: Clock + Clone + Default> KeyedWindows<K, C> {
    /// A builder for windows of `limit` per `window`, one per key. Defaults:
    /// capacity 65 536 keys, [`FullTable::Deny`], the clock type's default
    /// (a new [`MonotonicClock`] unless the type names another; `.clock(c)`
    /// sets any).
    ///
    /// This builder is the only way to make the table, as for every kind in
    /// this crate.
    ///
    /// ```
    /// use floodgate::{Error, KeyedWindows};
    /// use std::time::Duration;
    /// let minute = Duration::from_secs(60);
    /// assert!(KeyedWindows::<str>::builder(600, minute).capacity(1_000).build().is_ok());
    /// assert_eq!(KeyedWindows::<str>::builder(600, minute).capacity(0).build().err(), Some(Error::ZeroCapacity));
    /// assert_eq!(KeyedWindows::<str>::builder(0, minute).build().err(), Some(Error::ZeroLimit));
    /// ```
    pub fn builder(limit: u64, window: Duration) -> KeyedWindowsBuilder<K, C> {
        KeyedWindowsBuilder {
            limit,
            window,
            capacity: DEFAULT_CAPACITY,
            on_full: FullTable::default(),
            shared: None,
            clock: C::default(),
            _key: PhantomData,
        }
    }
}

impl<K: Key + ?Sized, C: Clock + Clone> KeyedWindowsBuilder<K, C> {
    /// The most keys the table holds (at most
    /// [`MAX_KEYED_CELLS`](crate::MAX_KEYED_CELLS)); a key keeps its window
    /// until the table is dropped. Memory is allocated up front: 48 bytes
    /// per key (its identity and its window's three words, inline).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// What a key that finds no slot gets (default [`FullTable::Deny`]).
    pub fn on_full(mut self, on_full: FullTable) -> Self {
        self.on_full = on_full;
        self
    }

    /// The clock checks without an explicit time read.
    pub fn clock<D: Clock + Clone>(self, clock: D) -> KeyedWindowsBuilder<K, D> {
        KeyedWindowsBuilder {
            limit: self.limit,
            window: self.window,
            capacity: self.capacity,
            on_full: self.on_full,
            shared: self.shared,
            clock,
            _key: PhantomData,
        }
    }

    /// Keeps the table in the segment `shared`, so that every process
    /// building it with the same `shared` counts each key in one window,
    /// and sees the others' per-key limits (see [`SharedMemory`]). Every
    /// process must give the same limit, window, capacity and full-table
    /// choice ([`Error::SegmentMismatch`] names the one that differs). A
    /// [`MonotonicClock`] moves to the machine's timeline
    /// ([`MonotonicClock::system`]).
    ///
    /// ```
    /// use floodgate::{KeyedWindows, SharedMemory};
    /// use std::time::Duration;
    /// let shared = SharedMemory::named(&format!("doc-windows-{}", std::process::id()))?;
    /// let build = || {
    ///     KeyedWindows::<str>::builder(600, Duration::from_secs(60))
    ///         .capacity(1_000)
    ///         .shared(shared.clone())
    ///         .build()
    /// };
    /// let (worker_one, worker_two) = (build()?, build()?);
    /// assert!(worker_one.check("ws_1", 600)?.is_admitted());
    /// assert!(!worker_two.check("ws_1", 1)?.is_admitted());
    /// assert!(worker_two.is_shared());
    /// shared.remove()?;
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn shared(mut self, shared: SharedMemory) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The table, or the errors of [`SlidingWindowBuilder::build`](crate::SlidingWindowBuilder::build),
    /// or [`Error::ZeroCapacity`] / [`Error::CapacityTooLarge`] /
    /// [`Error::AllocationFailed`]; built [`shared`](Self::shared), also
    /// the segment's errors ([`Error::SegmentMismatch`], [`Error::SegmentIo`], ...).
    pub fn build(self) -> Result<KeyedWindows<K, C>> {
        let settings =
            WindowSettings::validated(self.limit, self.window, self.capacity, self.on_full)?;
        let Some(shared) = self.shared else {
            return KeyedWindows::placed(
                &settings,
                KeyHasher::random(),
                self.clock,
                &mut Place::heap(),
            );
        };
        segment::open(
            &shared,
            &settings.description::<K>(),
            |place| {
                KeyedWindows::<K, ManualClock>::placed(
                    &settings,
                    KeyHasher::from_secret([0; 4]),
                    ManualClock::new(),
                    place,
                )
                .map(drop)
            },
            |place, secret| {
                KeyedWindows::placed(
                    &settings,
                    KeyHasher::from_secret(secret),
                    self.clock.system_wide(),
                    place,
                )
            },
        )
    }
}

impl<K: Key + ?Sized, C: Clock + Clone> KeyedWindows<K, C> {
    /// Empty windows for `settings`, keys stored under `hasher`, every
    /// table in `place` (the heap, or a segment every process lays out
    /// alike: the key table, then the overflow window, then the count).
    pub(crate) fn placed(
        settings: &WindowSettings,
        hasher: KeyHasher,
        clock: C,
        place: &mut Place,
    ) -> Result<Self> {
        let limit = settings.limit;
        Ok(KeyedWindows {
            cells: KeyedCells::placed(settings.capacity, hasher, place, || {
                WindowState::new(limit)
            })?,
            limit,
            window_ns: window_nanos(settings.window),
            on_full: settings.on_full,
            overflow: SlidingWindow::placed(limit, settings.window, clock.clone(), place)?,
            full_table_events: place.one(|| AtomicU64::new(0))?,
            clock,
        })
    }

    /// Whether the windows live in a shared segment.
    pub fn is_shared(&self) -> bool {
        self.cells.is_shared()
    }

    /// Decides `cost` for `key` now.
    pub fn check(&self, key: &K, cost: u64) -> K::Answer<Decision> {
        self.check_at(key, cost, self.clock.now_ns())
    }

    /// [`check`](Self::check) at a caller-supplied time. A time behind the
    /// latest one `key`'s window was given is decided at the start of that
    /// latest one's window, as [`SlidingWindow::check_at`] does.
    pub fn check_at(&self, key: &K, cost: u64, now_ns: u64) -> K::Answer<Decision> {
        self.cells
            .with_key(key, |stored| match self.cells.get_or_insert(stored) {
                Some(window) => window.check_at(self.window_ns, cost, now_ns),
                None => self.full_table(cost, now_ns),
            })
    }

    /// `key`'s window now, charging nothing. A key not seen yet is reported
    /// as an empty window and not inserted.
    pub fn peek(&self, key: &K) -> K::Answer<Decision> {
        self.peek_at(key, self.clock.now_ns())
    }

    /// [`peek`](Self::peek) at a caller-supplied time.
    pub fn peek_at(&self, key: &K, now_ns: u64) -> K::Answer<Decision> {
        self.probe_at(key, 0, now_ns)
    }

    /// Gives back `amount` charged to `key`.
    ///
    /// ```
    /// # use floodgate::{KeyedWindows, ManualClock};
    /// # use std::time::Duration;
    /// let windows: KeyedWindows<str, _> =
    ///     KeyedWindows::<str>::builder(10, Duration::from_secs(1))
    ///         .capacity(100)
    ///         .clock(ManualClock::new())
    ///         .build()?;
    /// windows.check("ws_1", 4)?;
    /// assert_eq!(windows.refund("ws_1", 3)?.remaining(), 9);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn refund(&self, key: &K, amount: u64) -> K::Answer<Decision> {
        self.refund_at(key, amount, self.clock.now_ns())
    }

    /// [`refund`](Self::refund) at a caller-supplied time.
    pub fn refund_at(&self, key: &K, amount: u64, now_ns: u64) -> K::Answer<Decision> {
        self.cells
            .with_key(key, |stored| match self.cells.get(stored) {
                Some(window) => window.refund_at(self.window_ns, amount, now_ns),
                None => self.fresh(0, now_ns),
            })
    }

    /// Sets `key`'s counts to zero (an operator lifts a block); the key keeps
    /// its window and its own limit, since the table is insert-only. A key
    /// with no window is left alone: nothing is inserted.
    ///
    /// ```
    /// # use floodgate::{KeyedWindows, ManualClock};
    /// # use std::time::Duration;
    /// let windows: KeyedWindows<str, _> =
    ///     KeyedWindows::<str>::builder(10, Duration::from_secs(60))
    ///         .capacity(100)
    ///         .clock(ManualClock::new())
    ///         .build()?;
    /// windows.check("ws_1", 10)?;
    /// assert!(!windows.check("ws_1", 1)?.is_admitted());
    /// windows.reset("ws_1")?;
    /// assert_eq!(windows.peek("ws_1")?.remaining(), 10);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn reset(&self, key: &K) -> K::Answer<()> {
        self.reset_at(key, self.clock.now_ns())
    }

    /// [`reset`](Self::reset) at a caller-supplied time.
    pub fn reset_at(&self, key: &K, now_ns: u64) -> K::Answer<()> {
        self.cells.with_key(key, |stored| {
            if let Some(window) = self.cells.get(stored) {
                // Giving back more than both counts hold empties them.
                window.refund_at(self.window_ns, u64::MAX, now_ns);
            }
        })
    }

    /// Sets `key`'s own limit (a workspace's contract), keeping its counts;
    /// the next check uses it.
    ///
    /// ```
    /// # use floodgate::{KeyedWindows, ManualClock};
    /// # use std::time::Duration;
    /// let windows: KeyedWindows<u64, _> =
    ///     KeyedWindows::<u64>::builder(600, Duration::from_secs(60))
    ///         .capacity(100)
    ///         .clock(ManualClock::new())
    ///         .build()?;
    /// windows.check(&1, 500);
    /// windows.set_limit(&1, 1_800)?;
    /// assert_eq!(windows.peek(&1).remaining(), 1_300);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn set_limit(&self, key: &K, limit: u64) -> Result<()> {
        // Checked before the key is looked up, so a bad limit inserts nothing.
        validate_limit(limit)?;
        let outcome = self
            .cells
            .with_key(key, |stored| match self.cells.get_or_insert(stored) {
                Some(window) => {
                    window.set_limit(limit);
                    Ok(())
                }
                None => Err(Error::TableFull),
            });
        K::into_result(outcome)
    }

    /// Decides `cost` for `key` under `limit`, which becomes the key's limit
    /// (counts kept) if it was not already: how a plan's limit follows a
    /// workspace whose plan changed.
    #[inline]
    pub(crate) fn check_under_at(
        &self,
        key: &K,
        limit: u64,
        cost: u64,
        now_ns: u64,
    ) -> K::Answer<Result<Decision>> {
        self.cells
            .with_key(key, |stored| match self.cells.get_or_insert(stored) {
                Some(window) => {
                    if window.limit() != limit {
                        validate_limit(limit)?;
                        window.set_limit(limit);
                    }
                    Ok(window.check_at(self.window_ns, cost, now_ns))
                }
                None => Ok(self.full_table(cost, now_ns)),
            })
    }

    /// What `check_at` would decide, charging nothing and inserting nothing.
    pub(crate) fn probe_at(&self, key: &K, cost: u64, now_ns: u64) -> K::Answer<Decision> {
        self.cells
            .with_key(key, |stored| match self.cells.get(stored) {
                Some(window) => window.probe_under_at(self.window_ns, window.limit(), cost, now_ns),
                None => self.fresh(cost, now_ns),
            })
    }

    /// What `check_under_at(key, limit, ..)` would decide, charging nothing
    /// and inserting nothing.
    pub(crate) fn probe_under_at(
        &self,
        key: &K,
        limit: u64,
        cost: u64,
        now_ns: u64,
    ) -> K::Answer<Decision> {
        self.cells
            .with_key(key, |stored| match self.cells.get(stored) {
                Some(window) => window.probe_under_at(self.window_ns, limit, cost, now_ns),
                None => WindowState::new(limit).probe_under_at(self.window_ns, limit, cost, now_ns),
            })
    }

    /// The limit windows start with.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window_ns)
    }

    /// Keys holding a window. O(1): a count raised by the insertion that
    /// wins a key's slot (keys are never removed).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether no key holds a window yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys the table can hold.
    pub fn capacity(&self) -> usize {
        self.cells.capacity()
    }

    /// How many checks found no slot for their key.
    pub fn full_table_events(&self) -> u64 {
        // Relaxed: a monitoring count.
        self.full_table_events.load(Ordering::Relaxed)
    }

    /// The clock this table reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// A key with no window yet: an empty window's answer.
    fn fresh(&self, cost: u64, now_ns: u64) -> Decision {
        WindowState::new(self.limit).probe_under_at(self.window_ns, self.limit, cost, now_ns)
    }

    /// The answer for a key that found no slot.
    fn full_table(&self, cost: u64, now_ns: u64) -> Decision {
        // Relaxed: a monitoring count.
        self.full_table_events.fetch_add(1, Ordering::Relaxed);
        match self.on_full {
            FullTable::Deny if cost <= self.limit => {
                // As if the window were full: try again in one window.
                Decision::new(
                    Outcome::Denied,
                    self.limit,
                    0,
                    self.window_ns,
                    self.window_ns,
                )
            }
            FullTable::Deny | FullTable::Admit => self.fresh(cost, now_ns),
            FullTable::Overflow => self.overflow.check_at(cost, now_ns),
        }
    }
}
