//! Building a [`KeyedLimiter`]: capacity, full-table behaviour, clock.

use super::key::{Key, KeyHasher};
use super::limiter::KeyedLimiter;
use crate::core::alloc::Place;
use crate::core::clock::{Clock, ManualClock, MonotonicClock};
use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use crate::shm::header::{Description, Kind, Limits};
use crate::shm::{segment, SharedMemory};
use std::marker::PhantomData;

/// The most keys a [`KeyedLimiter`] may be built for (2^32 slots: 64 GiB of
/// `u64` slots); larger capacities get [`Error::CapacityTooLarge`].
pub const MAX_KEYED_CAPACITY: usize = 1 << 32;

/// Capacity when none is given, for every keyed kind.
pub(crate) const DEFAULT_CAPACITY: usize = 65_536;

/// What a check of a new key gets when both of its candidate buckets (16
/// slots each) hold only active keys. Every such check also counts one
/// [`full_table_event`](KeyedLimiter::full_table_events).
///
/// ```
/// use floodgate::{FullTable, KeyedLimiter, ManualClock, Outcome, Quota};
///
/// let limiter = KeyedLimiter::<u64>::builder(Quota::per_second(1)?)
///     .capacity(1)
///     .on_full(FullTable::Deny)
///     .clock(ManualClock::new())
///     .build()?;
/// assert!(limiter.check(&1, 1).is_admitted());
/// assert_eq!(limiter.check(&2, 1).outcome(), Outcome::Denied);
/// assert_eq!(limiter.full_table_events(), 1);
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FullTable {
    /// Deny, as if the key's bucket were empty: `retry_after` is the time
    /// the cost takes to refill at the default rate (a hint; a slot frees up
    /// when some key's bucket refills).
    #[default]
    Deny,
    /// Admit as if the key's bucket were full, tracking nothing.
    Admit,
    /// Charge one overflow bucket, with the default quota, shared by every
    /// key that finds no slot.
    Overflow,
}

impl FullTable {
    /// The choice as a shared segment's header records it (2 bits).
    pub(crate) fn code(self) -> u64 {
        match self {
            FullTable::Deny => 0,
            FullTable::Admit => 1,
            FullTable::Overflow => 2,
        }
    }
}

/// Configures a [`KeyedLimiter`]; start with [`KeyedLimiter::builder`].
///
/// ```
/// use floodgate::{FullTable, KeyedLimiter, Quota};
///
/// let limiter = KeyedLimiter::<str>::builder(Quota::per_minute(600)?)
///     .capacity(100_000)
///     .on_full(FullTable::Overflow)
///     .max_overrides(1_000)
///     .build()?;
/// assert_eq!(limiter.capacity(), 100_000);
/// # Ok::<(), floodgate::Error>(())
/// ```
#[must_use]
pub struct KeyedLimiterBuilder<K: Key + ?Sized, C: Clock = MonotonicClock> {
    quota: Quota,
    capacity: usize,
    on_full: FullTable,
    max_overrides: Option<usize>,
    shared: Option<SharedMemory>,
    clock: C,
    _key: PhantomData<fn(&K)>,
}

/// What a keyed limiter is built from, once validated: every process
/// sharing one must build it from the same settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) quota: Quota,
    pub(crate) capacity: usize,
    pub(crate) on_full: FullTable,
    pub(crate) max_overrides: usize,
}

impl Settings {
    /// The settings as a shared segment's header records them.
    fn description<K: Key + ?Sized>(&self) -> Description {
        Description {
            kind: Kind::KeyedLimiter.keyed::<K>(),
            limits: Limits::Quota(self.quota),
            capacity: self.capacity as u64,
            options: ((self.max_overrides as u64) << 2) | self.on_full.code(),
        }
    }
}

impl<K: Key + ?Sized, C: Clock + Default> KeyedLimiter<K, C> {
    /// A builder for a keyed limiter whose keys get `default_quota` unless
    /// given their own. Defaults: capacity 65 536 keys, [`FullTable::Deny`],
    /// up to capacity / 8 (at least 1) per-key quotas, the clock type's
    /// default (a new [`MonotonicClock`] unless the type names another;
    /// `.clock(c)` sets any).
    ///
    /// This builder is the only way to make a keyed limiter, as for every
    /// kind in this crate. Name the key type, and the clock's if not the
    /// default:
    ///
    /// ```
    /// use floodgate::{KeyedLimiter, ManualClock, Quota};
    ///
    /// let ids = KeyedLimiter::<u64>::builder(Quota::per_second(5)?).capacity(1_000).build()?;
    /// let tokens = KeyedLimiter::<str, ManualClock>::builder(Quota::per_second(5)?).build()?;
    /// let ips = KeyedLimiter::<std::net::IpAddr>::builder(Quota::per_second(5)?)
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn builder(default_quota: Quota) -> KeyedLimiterBuilder<K, C> {
        KeyedLimiterBuilder {
            quota: default_quota,
            capacity: DEFAULT_CAPACITY,
            on_full: FullTable::default(),
            max_overrides: None,
            shared: None,
            clock: C::default(),
            _key: PhantomData,
        }
    }
}

impl<K: Key + ?Sized, C: Clock> KeyedLimiterBuilder<K, C> {
    /// The validated settings: [`Error::ZeroCapacity`] or
    /// [`Error::CapacityTooLarge`] for a capacity no table may have.
    fn settings(&self) -> Result<Settings> {
        if self.capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        if self.capacity > MAX_KEYED_CAPACITY {
            return Err(Error::CapacityTooLarge);
        }
        let max_overrides = self
            .max_overrides
            .unwrap_or((self.capacity / 8).max(1))
            .min(self.capacity);
        Ok(Settings {
            quota: self.quota,
            capacity: self.capacity,
            on_full: self.on_full,
            max_overrides,
        })
    }

    /// The limiter with its tables in `place`, keys stored under `hasher`
    /// (how a kind made of keyed limiters, such as plans, lays one out in
    /// its own segment); [`shared`](Self::shared) is not consulted.
    pub(crate) fn placed(self, hasher: KeyHasher, place: &mut Place) -> Result<KeyedLimiter<K, C>> {
        KeyedLimiter::placed(&self.settings()?, hasher, self.clock, place)
    }

    /// How many keys the table holds at once, rounded up to whole buckets of
    /// 16 slots. Memory is allocated up front: 16 bytes per slot for `u64`
    /// keys, 24 for byte keys and IP addresses. Keys whose buckets have
    /// refilled give their slots up to new keys, so this bounds *active*
    /// keys, not keys ever seen. About 1.25x the active keys you expect
    /// leaves room: each key may use only two buckets, so a table well past
    /// 90% full turns some new keys away before it is completely full.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// What a new key gets when there is no slot for it.
    pub fn on_full(mut self, on_full: FullTable) -> Self {
        self.on_full = on_full;
        self
    }

    /// How many keys may hold their own quota at once (default: capacity / 8,
    /// at least 1). Their side table has two 128-byte entries per allowed
    /// override (each holds a key's quotas inline, so changing them never
    /// allocates), in segments of about `sqrt(2 * max_overrides)` entries
    /// allocated as [`set_quota`](KeyedLimiter::set_quota) first needs each:
    /// a few overrides cost a few segments, whatever the maximum.
    pub fn max_overrides(mut self, max_overrides: usize) -> Self {
        self.max_overrides = Some(max_overrides);
        self
    }

    /// Keeps the limiter's tables in the segment `shared`, so that every
    /// process building this limiter with it shares each key's bucket, its
    /// per-key quotas and reconfigurations (see [`SharedMemory`]). Every
    /// process must give the same quota, capacity, full-table choice and
    /// override count. A [`MonotonicClock`] moves to the machine's timeline
    /// ([`MonotonicClock::system`]).
    ///
    /// ```
    /// use floodgate::{KeyedLimiter, Quota, SharedMemory};
    /// let shared = SharedMemory::named(&format!("doc-keyed-{}", std::process::id()))?;
    /// let build = || {
    ///     KeyedLimiter::<str>::builder(Quota::per_second(30)?.with_burst(60)?)
    ///         .capacity(10_000)
    ///         .shared(shared.clone())
    ///         .build()
    /// };
    /// let (worker_one, worker_two) = (build()?, build()?);
    /// assert!(worker_one.check("alice", 60)?.is_admitted());
    /// assert!(!worker_two.check("alice", 1)?.is_admitted());
    /// shared.remove()?;
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn shared(mut self, shared: SharedMemory) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The clock checks without an explicit time read.
    pub fn clock<C2: Clock>(self, clock: C2) -> KeyedLimiterBuilder<K, C2> {
        KeyedLimiterBuilder {
            quota: self.quota,
            capacity: self.capacity,
            on_full: self.on_full,
            max_overrides: self.max_overrides,
            shared: self.shared,
            clock,
            _key: PhantomData,
        }
    }

    /// The limiter, or [`Error::ZeroCapacity`] / [`Error::CapacityTooLarge`],
    /// or [`Error::AllocationFailed`] when the allocator refuses its table
    /// (the process is never aborted for a capacity). Built
    /// [`shared`](Self::shared), also the segment's errors
    /// ([`Error::SegmentMismatch`], [`Error::SegmentIo`], ...).
    ///
    /// ```
    /// use floodgate::{Error, KeyedLimiter, Quota};
    /// let built = KeyedLimiter::<u64>::builder(Quota::per_second(1)?).capacity(0).build();
    /// assert_eq!(built.err(), Some(Error::ZeroCapacity));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn build(self) -> Result<KeyedLimiter<K, C>> {
        let settings = self.settings()?;
        let Some(shared) = self.shared else {
            return KeyedLimiter::placed(
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
                KeyedLimiter::<K, ManualClock>::placed(
                    &settings,
                    KeyHasher::from_secret([0; 4]),
                    ManualClock::new(),
                    place,
                )
                .map(drop)
            },
            |place, secret| {
                KeyedLimiter::placed(
                    &settings,
                    KeyHasher::from_secret(secret),
                    self.clock.system_wide(),
                    place,
                )
            },
        )
    }
}
