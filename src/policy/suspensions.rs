//! [`Suspensions`]: keys suspended until a time or indefinitely, as a layer.
//!
//! Genera: "Failure to comply may result in temporary or permanent
//! suspension of access." A suspension is not rate limiting: a suspended key
//! gets [`Outcome::Suspended`] (its own outcome, counted apart by a
//! [`Policy`](crate::Policy)), and its buckets are left as they are for when
//! it is lifted. Put this layer first in a policy so a suspended request is
//! refused before any bucket is charged.
//!
//! Suspended keys are kept in a lock-free insert-only map (`src/map`):
//! a key suspended once keeps its cell, and lifting the suspension clears it.
//! Checks while no key has ever been suspended cost one load. Built
//! [`shared`](SuspensionsBuilder::shared), the map is in a segment: a
//! suspension or lift by one process holds in every process's next check.

use crate::core::alloc::Place;
use crate::core::clock::{saturating_nanos, Clock, ManualClock, MonotonicClock};
use crate::core::decision::{Decision, Outcome};
use crate::core::error::{Error, Result};
use crate::keyed::{Key, KeyHasher, DEFAULT_CAPACITY};
use crate::map::KeyedCells;
use crate::policy::{Layer, LayerKey, LayerKeyKind};
use crate::shm::header::{Description, Kind, Limits};
use crate::shm::{segment, SharedMemory};
use crate::sync::{AtomicU64, Ordering};
use std::marker::PhantomData;
use std::time::Duration;

/// The cell value of a key that is not suspended (0, before every timestamp).
const NOT_SUSPENDED: u64 = 0;
/// The cell value of a suspension without an end.
const INDEFINITELY: u64 = u64::MAX;

/// Keys suspended until a time or indefinitely.
///
/// Keyed calls answer in the one shape of every keyed kind (see
/// [`Key`](crate::Key#one-answer-shape-for-keyed-calls)): a refusal is data
/// in the answer; `Err(`[`Error`]`)` is a bad key, a full
/// table or bad input, and changes nothing.
///
/// Built only by [`Suspensions::builder`]: no kind in this crate has `new` or
/// another constructor.
///
/// ```
/// use floodgate::{ManualClock, Outcome, Suspensions};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let suspensions = Suspensions::<str>::builder()
///     .capacity(1_000)
///     .clock(clock.clone())
///     .build()?;
/// suspensions.suspend_for("cust_42", Duration::from_secs(3_600))?;
/// let decision = suspensions.check("cust_42")?.unwrap();
/// assert_eq!(decision.outcome(), Outcome::Suspended);
/// assert_eq!(decision.retry_after(), Some(Duration::from_secs(3_600)));
/// assert_eq!(suspensions.check("cust_7")?, None);
/// suspensions.lift("cust_42")?;
/// assert_eq!(suspensions.check("cust_42")?, None);
/// # Ok::<(), floodgate::Error>(())
/// ```
pub struct Suspensions<K: Key + ?Sized, C: Clock = MonotonicClock> {
    cells: KeyedCells<K, AtomicU64>,
    clock: C,
}

/// Configures [`Suspensions`]; start with [`Suspensions::builder`].
///
/// ```
/// use floodgate::{ManualClock, Suspensions};
/// let suspensions = Suspensions::<u64>::builder()
///     .capacity(1_000)
///     .clock(ManualClock::new())
///     .build()?;
/// assert_eq!(suspensions.check(&7), None);
/// # Ok::<(), floodgate::Error>(())
/// ```
#[must_use]
pub struct SuspensionsBuilder<K: Key + ?Sized, C: Clock = MonotonicClock> {
    capacity: usize,
    shared: Option<SharedMemory>,
    clock: C,
    _key: PhantomData<fn(&K)>,
}

impl<K: Key + ?Sized, C: Clock + Default> Suspensions<K, C> {
    /// A builder for an empty set of suspensions. Defaults: room for 65 536
    /// keys, the clock type's default (a new [`MonotonicClock`] unless the
    /// type names another; `.clock(c)` sets any).
    ///
    /// This builder is the only way to make the set, as for every kind in
    /// this crate.
    pub fn builder() -> SuspensionsBuilder<K, C> {
        SuspensionsBuilder {
            capacity: DEFAULT_CAPACITY,
            shared: None,
            clock: C::default(),
            _key: PhantomData,
        }
    }
}

impl<K: Key + ?Sized, C: Clock> SuspensionsBuilder<K, C> {
    /// How many keys may ever be suspended (at most
    /// [`MAX_KEYED_CELLS`](crate::MAX_KEYED_CELLS)); a key suspended once
    /// keeps its room until the set is dropped. Memory is allocated up
    /// front: 32 bytes per key.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The clock checks without an explicit time read.
    pub fn clock<D: Clock>(self, clock: D) -> SuspensionsBuilder<K, D> {
        SuspensionsBuilder {
            capacity: self.capacity,
            shared: self.shared,
            clock,
            _key: PhantomData,
        }
    }

    /// Keeps the suspensions in the segment `shared`, so that a key
    /// suspended or lifted by one process is so in every process built
    /// with it (see [`SharedMemory`]). Every process must give the same
    /// capacity ([`Error::SegmentMismatch`] otherwise). A
    /// [`MonotonicClock`] moves to the machine's timeline
    /// ([`MonotonicClock::system`]), so a suspension's end is one instant
    /// for all.
    ///
    /// ```
    /// use floodgate::{SharedMemory, Suspensions};
    /// let shared = SharedMemory::named(&format!("doc-suspensions-{}", std::process::id()))?;
    /// let build = || Suspensions::<str>::builder().capacity(100).shared(shared.clone()).build();
    /// let (worker_one, worker_two) = (build()?, build()?);
    /// worker_one.suspend_until("cust_42", None)?;
    /// assert!(worker_two.check("cust_42")?.is_some());
    /// assert!(worker_two.is_shared());
    /// shared.remove()?;
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn shared(mut self, shared: SharedMemory) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The set, or [`Error::ZeroCapacity`] / [`Error::CapacityTooLarge`] /
    /// [`Error::AllocationFailed`]; built [`shared`](Self::shared), also
    /// the segment's errors ([`Error::SegmentMismatch`], [`Error::SegmentIo`], ...).
    ///
    /// ```
    /// use floodgate::{Error, Suspensions};
    /// assert_eq!(Suspensions::<str>::builder().capacity(0).build().err(), Some(Error::ZeroCapacity));
    /// ```
    pub fn build(self) -> Result<Suspensions<K, C>> {
        let capacity = self.capacity;
        let Some(shared) = self.shared else {
            return Suspensions::placed(
                capacity,
                KeyHasher::random(),
                self.clock,
                &mut Place::heap(),
            );
        };
        let description = Description {
            kind: Kind::Suspensions.keyed::<K>(),
            limits: Limits::Unlimited,
            capacity: capacity as u64,
            options: 0,
        };
        segment::open(
            &shared,
            &description,
            |place| {
                Suspensions::<K, ManualClock>::placed(
                    capacity,
                    KeyHasher::from_secret([0; 4]),
                    ManualClock::new(),
                    place,
                )
                .map(drop)
            },
            |place, secret| {
                Suspensions::placed(
                    capacity,
                    KeyHasher::from_secret(secret),
                    self.clock.system_wide(),
                    place,
                )
            },
        )
    }
}

impl<K: Key + ?Sized, C: Clock> Suspensions<K, C> {
    /// No key suspended, room for `capacity`, in `place`.
    fn placed(capacity: usize, hasher: KeyHasher, clock: C, place: &mut Place) -> Result<Self> {
        Ok(Suspensions {
            cells: KeyedCells::placed(capacity, hasher, place, || AtomicU64::new(NOT_SUSPENDED))?,
            clock,
        })
    }

    /// Whether the suspensions live in a shared segment.
    pub fn is_shared(&self) -> bool {
        self.cells.is_shared()
    }
}

impl<K: Key + ?Sized, C: Clock> Suspensions<K, C> {
    /// Suspends `key` until `until_ns` on the clock's timeline, or
    /// indefinitely with `None`. [`Error::TableFull`] when there is no room.
    pub fn suspend_until(&self, key: &K, until_ns: Option<u64>) -> Result<()> {
        let until = until_ns.map_or(INDEFINITELY, |until| until.min(INDEFINITELY - 1));
        K::into_result(self.cells.with_key(key, |stored| {
            let cell = self.cells.get_or_insert(stored).ok_or(Error::TableFull)?;
            // Relaxed: the cell publishes nothing but itself.
            cell.store(until, Ordering::Relaxed);
            Ok(())
        }))
    }

    /// Suspends `key` for `duration` from now.
    pub fn suspend_for(&self, key: &K, duration: Duration) -> Result<()> {
        self.suspend_for_at(key, duration, self.clock.now_ns())
    }

    /// [`suspend_for`](Self::suspend_for) from a caller-supplied time.
    ///
    /// ```
    /// # use floodgate::{ManualClock, Suspensions};
    /// # use std::time::Duration;
    /// let suspensions: Suspensions<str, _> = Suspensions::<str>::builder()
    ///     .capacity(16)
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// suspensions.suspend_for_at("cust_42", Duration::from_secs(60), 5_000_000_000)?;
    /// assert!(suspensions.check_at("cust_42", 64_999_999_999)?.is_some());
    /// assert!(suspensions.check_at("cust_42", 65_000_000_000)?.is_none());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn suspend_for_at(&self, key: &K, duration: Duration, now_ns: u64) -> Result<()> {
        self.suspend_until(key, Some(now_ns.saturating_add(saturating_nanos(duration))))
    }

    /// Lifts `key`'s suspension (nothing happens if it has none).
    pub fn lift(&self, key: &K) -> K::Answer<()> {
        self.cells.with_key(key, |stored| {
            if let Some(cell) = self.cells.get(stored) {
                // Relaxed: see `suspend_until`.
                cell.store(NOT_SUSPENDED, Ordering::Relaxed);
            }
        })
    }

    /// The suspended answer for `key` now, `None` when it may go on.
    pub fn check(&self, key: &K) -> K::Answer<Option<Decision>> {
        self.check_at(key, self.clock.now_ns())
    }

    /// [`check`](Self::check) at a caller-supplied time.
    pub fn check_at(&self, key: &K, now_ns: u64) -> K::Answer<Option<Decision>> {
        self.cells
            .with_key(key, |stored| self.suspended(stored, now_ns))
    }

    fn suspended(&self, key: K::Stored, now_ns: u64) -> Option<Decision> {
        if self.cells.len() == 0 {
            return None;
        }
        // Relaxed: see `suspend_until`.
        let until = self.cells.get(key)?.load(Ordering::Relaxed);
        let wait = match until {
            INDEFINITELY => 0,
            until if now_ns < until => until - now_ns,
            _ => return None,
        };
        Some(Decision::new(Outcome::Suspended, 0, 0, wait, wait))
    }

    /// The clock the suspensions read.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

impl<K: LayerKeyKind + ?Sized, C: Clock> Layer for Suspensions<K, C> {
    fn check_at(&self, key: LayerKey<'_>, _cost: u64, now_ns: u64) -> Result<Decision> {
        self.probe_at(key, 0, now_ns)
    }

    fn probe_at(&self, key: LayerKey<'_>, _cost: u64, now_ns: u64) -> Result<Decision> {
        K::with_layer_key(key, |key| {
            K::into_result(self.cells.with_key(key, |stored| {
                Ok(self
                    .suspended(stored, now_ns)
                    .unwrap_or_else(Decision::unlimited))
            }))
        })?
    }

    fn refund_at(&self, key: LayerKey<'_>, _cost: u64, _now_ns: u64) -> Result<()> {
        K::with_layer_key(key, |_| ())
    }

    fn is_shared(&self) -> bool {
        Suspensions::is_shared(self)
    }
}
