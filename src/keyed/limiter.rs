//! [`KeyedLimiter`]: one GCRA bucket per key, in a lock-free slot table.

use super::builder::{FullTable, Settings};
use super::key::{Key, KeyHasher};
use super::overrides::{self, override_generation, override_parity, Overrides};
use super::table::{Insertion, Lookup, Slot, Table};
use crate::core::alloc::{Place, Placed};
use crate::core::clock::{saturating_nanos, Clock, ManualClock, MonotonicClock};
use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::core::gcra::{self, Evaluation};
use crate::core::quota::Quota;
use crate::core::quota_ring::QuotaRing;
use crate::core::state::StateWord;
use crate::limiter::Limiter;
use crate::sync::{AtomicU64, Backoff, Ordering};
use crossbeam_utils::CachePadded;
use std::borrow::Borrow;
use std::cell::Cell;
use std::marker::PhantomData;

/// How many keys ahead of the one being decided a batch loads memory for.
/// A 1M-key check waits about 100 ns on memory and decides in about 20:
/// some eight checks' time covers the miss without evicting what was loaded.
const BATCH_AHEAD: usize = 8;

/// Rate limits per key (API key, token, user id, IP address): one GCRA
/// bucket per key, in a fixed-size table that checks and inserts without
/// locks or allocation, and reuses the slots of keys whose buckets have
/// refilled.
///
/// Keys are `u64`, `str`, `[u8]` or IP addresses (see [`Key`]). Calls keyed
/// by `u64` or IP addresses return their value directly; calls keyed by
/// byte strings return a [`Result`], since an empty or
/// oversized key is refused with a typed error and changes nothing.
/// Keyed calls answer in the one shape of every keyed kind (see
/// [`Key`](crate::Key#one-answer-shape-for-keyed-calls)): a refusal is data
/// in the answer; `Err(`[`Error`]`)` is a bad key, a full
/// table or bad input, and changes nothing.
///
/// Built only by [`KeyedLimiter::builder`]: no kind in this crate has `new` or
/// another constructor.
///
/// ```
/// use floodgate::{KeyedLimiter, ManualClock, Outcome, Quota};
/// use std::net::IpAddr;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let per_ip: KeyedLimiter<IpAddr, ManualClock> =
///     KeyedLimiter::<IpAddr>::builder(Quota::per_second(2)?)
///         .capacity(10_000)
///         .clock(clock.clone())
///         .build()?;
/// let ip: IpAddr = "203.0.113.7".parse().unwrap();
/// assert!(per_ip.check(&ip, 1).is_admitted());
/// assert!(per_ip.check(&ip, 1).is_admitted());
/// let denied = per_ip.check(&ip, 1);
/// assert_eq!(denied.outcome(), Outcome::Denied);
/// assert_eq!(denied.retry_after(), Some(Duration::from_millis(500)));
/// // Another address has its own bucket.
/// assert!(per_ip.check(&"203.0.113.8".parse().unwrap(), 1).is_admitted());
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(per_ip.peek(&ip).remaining(), 2);
/// # Ok::<(), floodgate::Error>(())
/// ```
///
/// # Guarantees
///
/// * A check charges only its own key's bucket, even while other threads
///   insert keys into the same slot or reclaim it: every write is one 16-byte
///   compare-and-swap of the slot's key and bucket together.
/// * A key has at most one bucket, however many threads insert it at once.
/// * A check, peek, reservation or refund of a key that has a bucket never
///   waits for another thread, not even one stopped halfway through
///   inserting that key. Only the first charges of a new key, racing each
///   other, may wait for one of them to publish its bucket (a few
///   instructions).
/// * Memory is fixed at build time. A bucket that has refilled is identical
///   to a fresh one, so its slot is reused by the next new key that probes
///   past it: no sweeper thread, no O(n) pass on any check.
/// * When a new key finds no slot, [`FullTable`] decides, and
///   [`full_table_events`](Self::full_table_events) counts it.
/// * Byte keys are fingerprinted with SipHash-1-3 (128-bit output) under a
///   random per-limiter key: two keys share a bucket with probability about
///   2^-128, and an attacker cannot steer keys into one slot.
///
/// Reclaiming a refilled bucket forgets its last timestamp, so a later call
/// whose supplied time is *behind* the reclaiming check's time sees a full
/// bucket rather than the little debt it would have read (the single
/// [`Limiter`] reads it as debt). With one clock for all calls this cannot
/// happen by more than the clock's skew between threads.
pub struct KeyedLimiter<K: Key + ?Sized, C: Clock = MonotonicClock> {
    table: Table<K::Stored>,
    hasher: KeyHasher,
    /// The default quota, in generations 0 and 1; also owns override quotas.
    defaults: Placed<QuotaRing>,
    /// Which default generation is current; changed under the ring's writer lock.
    default_generation: Placed<AtomicU64>,
    overrides: Overrides,
    on_full: FullTable,
    /// The bucket [`FullTable::Overflow`] charges; only `*_at` calls reach it.
    overflow: Limiter<ManualClock>,
    full_table_events: Placed<CachePadded<AtomicU64>>,
    clock: C,
    _key: PhantomData<fn(&K)>,
}

impl<K: Key + ?Sized, C: Clock> KeyedLimiter<K, C> {
    /// A limiter with every table in `place`, keys hashed by `hasher`:
    /// the one constructor, for the heap and for a shared segment alike.
    pub(crate) fn placed(
        settings: &Settings,
        hasher: KeyHasher,
        clock: C,
        place: &mut Place,
    ) -> Result<Self> {
        let quota = settings.quota;
        Ok(Self {
            table: Table::placed(settings.capacity, place)?,
            hasher,
            defaults: place.one(|| QuotaRing::new(quota))?,
            default_generation: place.one(|| AtomicU64::new(0))?,
            overrides: Overrides::placed(settings.max_overrides, quota, place)?,
            on_full: settings.on_full,
            overflow: Limiter::placed(quota, ManualClock::new(), place)?,
            full_table_events: place.one(|| CachePadded::new(AtomicU64::new(0)))?,
            clock,
            _key: PhantomData,
        })
    }

    /// Whether the limiter's tables live in a shared segment.
    pub fn is_shared(&self) -> bool {
        self.defaults.is_shared()
    }

    /// The clock this limiter reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Decides a request of `cost` units for `key` now. A cost of 0 peeks; a
    /// cost above the key's burst is [`Outcome::CannotFit`](crate::Outcome::CannotFit).
    ///
    /// ```
    /// # use floodgate::{Error, KeyedLimiter, ManualClock, Quota};
    /// let limiter: KeyedLimiter<str, ManualClock> = KeyedLimiter::<str>::builder(Quota::per_second(10)?)
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// assert_eq!(limiter.check("alice", 10)?.remaining(), 0);
    /// assert!(!limiter.check("alice", 1)?.is_admitted());
    /// assert!(limiter.check("bob", 1)?.is_admitted());
    /// assert_eq!(limiter.check("", 1), Err(Error::EmptyKey));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    #[inline]
    pub fn check(&self, key: &K, cost: u64) -> K::Answer<Decision> {
        self.check_at(key, cost, self.clock.now_ns())
    }

    /// [`check`](Self::check) at a caller-supplied time on this limiter's timeline.
    ///
    /// ```
    /// # use floodgate::{KeyedLimiter, Quota};
    /// let limiter = KeyedLimiter::<u64>::builder(Quota::per_second(1)?).build()?;
    /// assert!(limiter.check_at(&7, 1, 5_000_000_000).is_admitted());
    /// assert!(!limiter.check_at(&7, 1, 5_500_000_000).is_admitted());
    /// assert!(limiter.check_at(&7, 1, 6_000_000_000).is_admitted());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    // Always, with the closure and `u64`'s `with_stored`: the hot path of a
    // C ABI check export (pointer checks, panic guard, `fg_decision`) is too
    // large for LLVM to inline a check into otherwise, and each level it left
    // out of line cost that export some 4 ns (benches/ffi.rs).
    #[inline(always)]
    pub fn check_at(&self, key: &K, cost: u64, now_ns: u64) -> K::Answer<Decision> {
        key.with_stored(
            &self.hasher,
            #[inline(always)]
            |stored| {
                self.update(stored, now_ns, cost, |word, quota| {
                    gcra::evaluate(word, quota, now_ns, cost)
                })
            },
        )
    }

    /// Checks every key of `keys` now, in order, with the same `cost`, and
    /// hands each answer to `decided` with the key's index. Each answer is
    /// the one [`check`](Self::check) would give for that key at that point
    /// (the same key twice in a batch is charged twice), but the memory of
    /// the next keys is loaded while the current one is decided, so on a
    /// table larger than the caches a batch costs a fraction of one check
    /// per key: for a server's batch of requests or a proxy's event loop.
    ///
    /// ```
    /// # use floodgate::{KeyedLimiter, ManualClock, Quota};
    /// let limiter = KeyedLimiter::<str>::builder(Quota::per_second(2)?)
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// let mut admitted = Vec::new();
    /// limiter.check_batch(&["alice", "bob", "alice", "alice", ""], 1, |index, answer| {
    ///     admitted.push((index, answer.map(|decision| decision.is_admitted())));
    /// });
    /// assert_eq!(
    ///     admitted,
    ///     [(0, Ok(true)), (1, Ok(true)), (2, Ok(true)), (3, Ok(false)), (4, Err(floodgate::Error::EmptyKey))]
    /// );
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn check_batch<Q: Borrow<K>>(
        &self,
        keys: &[Q],
        cost: u64,
        decided: impl FnMut(usize, K::Answer<Decision>),
    ) {
        self.check_batch_at(keys, cost, self.clock.now_ns(), decided)
    }

    /// [`check_batch`](Self::check_batch) at a caller-supplied time.
    ///
    /// ```
    /// # use floodgate::{KeyedLimiter, Quota};
    /// let limiter = KeyedLimiter::<u64>::builder(Quota::per_second(1)?).build()?;
    /// let mut outcomes = vec![None; 3];
    /// limiter.check_batch_at(&[7u64, 8, 7], 1, 5_000_000_000, |index, decision| {
    ///     outcomes[index] = Some(decision.is_admitted());
    /// });
    /// assert_eq!(outcomes, [Some(true), Some(true), Some(false)]);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn check_batch_at<Q: Borrow<K>>(
        &self,
        keys: &[Q],
        cost: u64,
        now_ns: u64,
        mut decided: impl FnMut(usize, K::Answer<Decision>),
    ) {
        // Three stages per key, BATCH_AHEAD keys apart: hash it and load its
        // hints; read the hints and load the slots they name; decide. Each
        // load thus has two checks' time to arrive, and only the lines a key
        // needs are loaded. Hashed keys wait in a ring of 2 * BATCH_AHEAD.
        const RING: usize = 2 * BATCH_AHEAD;
        let mut ring: [Option<K::Answer<K::Stored>>; RING] = std::array::from_fn(|_| None);
        let hashed = |index: usize| {
            keys[index].borrow().with_stored(&self.hasher, |stored| {
                self.table.prefetch_hints(stored);
                stored
            })
        };
        let slots = |entry: &Option<K::Answer<K::Stored>>| {
            if let Some(stored) = entry.as_ref().and_then(K::value_of) {
                self.table.prefetch_slots(*stored);
            }
        };
        for (index, entry) in ring.iter_mut().enumerate().take(keys.len()) {
            *entry = Some(hashed(index));
        }
        // The first keys' slots are loaded at once: no earlier key hides them.
        ring[..BATCH_AHEAD].iter().for_each(slots);
        for index in 0..keys.len() {
            slots(&ring[(index + BATCH_AHEAD) % RING]);
            let Some(stored) = ring[index % RING].take() else {
                unreachable!("every index below the batch's length was hashed");
            };
            if index + RING < keys.len() {
                ring[index % RING] = Some(hashed(index + RING));
            }
            decided(
                index,
                K::map_answer(stored, |stored| {
                    self.update_with(stored, now_ns, cost, true, |word, quota| {
                        gcra::evaluate(word, quota, now_ns, cost)
                    })
                }),
            );
        }
    }

    /// Delay instead of reject for `key` (Genera: "throttled or delayed"):
    /// as [`Limiter::reserve`](crate::Limiter::reserve), within `max_wait`
    /// the capacity is reserved now and the decision carries the
    /// [`delay`](Decision::delay); cancel by refunding the cost.
    ///
    /// ```
    /// # use floodgate::{KeyedLimiter, ManualClock, Quota};
    /// use std::time::Duration;
    /// let limiter: KeyedLimiter<str, ManualClock> =
    ///     KeyedLimiter::<str>::builder(Quota::per_second(10)?).clock(ManualClock::new()).build()?;
    /// limiter.check("cust_1", 10)?;
    /// let reserved = limiter.reserve("cust_1", 2, Duration::from_secs(1))?;
    /// assert_eq!(reserved.delay(), Duration::from_millis(200));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn reserve(
        &self,
        key: &K,
        cost: u64,
        max_wait: std::time::Duration,
    ) -> K::Answer<Decision> {
        self.reserve_at(key, cost, max_wait, self.clock.now_ns())
    }

    /// [`reserve`](Self::reserve) at a caller-supplied time.
    pub fn reserve_at(
        &self,
        key: &K,
        cost: u64,
        max_wait: std::time::Duration,
        now_ns: u64,
    ) -> K::Answer<Decision> {
        let max_wait_ns = saturating_nanos(max_wait);
        key.with_stored(&self.hasher, |stored| {
            self.update(stored, now_ns, cost, |word, quota| {
                gcra::reserve(word, quota, now_ns, cost, max_wait_ns)
            })
        })
    }

    /// What `check_at(key, cost, now_ns)` would decide, charging nothing and
    /// inserting nothing (a layered check's look at its later layers).
    pub(crate) fn probe_at(&self, key: &K, cost: u64, now_ns: u64) -> K::Answer<Decision> {
        key.with_stored(&self.hasher, |stored| {
            self.update(stored, now_ns, cost, |word, quota| Evaluation {
                next: None,
                ..gcra::evaluate(word, quota, now_ns, cost)
            })
        })
    }

    /// `key`'s bucket as it stands now, charging nothing. A key with no
    /// bucket reads as full and is not inserted.
    ///
    /// ```
    /// # use floodgate::{KeyedLimiter, ManualClock, Quota};
    /// let limiter: KeyedLimiter<u64, ManualClock> =
    ///     KeyedLimiter::<u64>::builder(Quota::per_second(5)?).clock(ManualClock::new()).build()?;
    /// limiter.check(&1, 2);
    /// assert_eq!(limiter.peek(&1).remaining(), 3);
    /// assert_eq!(limiter.peek(&2).remaining(), 5);
    /// assert_eq!(limiter.len(), 1);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    #[inline]
    pub fn peek(&self, key: &K) -> K::Answer<Decision> {
        self.peek_at(key, self.clock.now_ns())
    }

    /// [`peek`](Self::peek) at a caller-supplied time.
    #[inline]
    pub fn peek_at(&self, key: &K, now_ns: u64) -> K::Answer<Decision> {
        self.check_at(key, 0, now_ns)
    }

    /// Gives `amount` units back to `key`'s bucket (the downstream call
    /// failed, say) and returns the bucket afterwards; never above full.
    ///
    /// ```
    /// # use floodgate::{KeyedLimiter, ManualClock, Quota};
    /// let limiter: KeyedLimiter<u64, ManualClock> =
    ///     KeyedLimiter::<u64>::builder(Quota::per_second(5)?).clock(ManualClock::new()).build()?;
    /// limiter.check(&1, 3);
    /// assert_eq!(limiter.refund(&1, 1).remaining(), 3);
    /// assert_eq!(limiter.refund(&1, 100).remaining(), 5);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn refund(&self, key: &K, amount: u64) -> K::Answer<Decision> {
        self.refund_at(key, amount, self.clock.now_ns())
    }

    /// [`refund`](Self::refund) at a caller-supplied time.
    pub fn refund_at(&self, key: &K, amount: u64, now_ns: u64) -> K::Answer<Decision> {
        key.with_stored(&self.hasher, |stored| {
            self.update(stored, now_ns, 0, |word, quota| {
                gcra::refund(word, quota, now_ns, amount)
            })
        })
    }

    /// Gives `key` its own quota (a customer's plan), from any thread while
    /// checks go on; its next check uses it. What the key has used is kept,
    /// counted in requests and capped at the new burst (as
    /// [`reconfigure`](Self::reconfigure) does for the default). A key with
    /// its own quota keeps its slot until [`clear_quota`](Self::clear_quota).
    ///
    /// Errors: a bad byte key; [`Error::TooManyOverrides`] when
    /// [`max_overrides`](crate::KeyedLimiterBuilder::max_overrides) keys
    /// already have one; [`Error::TableFull`] when the key has no slot and
    /// both its candidate buckets hold only active keys. Nothing changes on
    /// error.
    ///
    /// ```
    /// # use floodgate::{KeyedLimiter, ManualClock, Quota};
    /// let limiter: KeyedLimiter<str, ManualClock> =
    ///     KeyedLimiter::<str>::builder(Quota::per_second(10)?).clock(ManualClock::new()).build()?;
    /// limiter.check("acme", 4)?;
    /// limiter.set_quota("acme", Quota::per_second(100)?)?;
    /// assert_eq!(limiter.peek("acme")?.remaining(), 96);
    /// assert_eq!(limiter.quota_for("acme")?, Quota::per_second(100)?);
    /// assert_eq!(limiter.quota_for("other")?, Quota::per_second(10)?);
    /// limiter.clear_quota("acme")?;
    /// assert_eq!(limiter.peek("acme")?.remaining(), 6);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn set_quota(&self, key: &K, quota: Quota) -> Result<()> {
        self.set_quota_at(key, quota, self.clock.now_ns())
    }

    /// [`set_quota`](Self::set_quota) at a caller-supplied time.
    pub fn set_quota_at(&self, key: &K, quota: Quota, now_ns: u64) -> Result<()> {
        K::into_result(key.with_stored(&self.hasher, |stored| self.pin(stored, quota, now_ns)))
    }

    /// Returns `key` to the default quota, keeping what it has used (capped
    /// at the default burst). A key without its own quota is left as is.
    pub fn clear_quota(&self, key: &K) -> K::Answer<()> {
        self.clear_quota_at(key, self.clock.now_ns())
    }

    /// [`clear_quota`](Self::clear_quota) at a caller-supplied time.
    pub fn clear_quota_at(&self, key: &K, now_ns: u64) -> K::Answer<()> {
        key.with_stored(&self.hasher, |stored| self.unpin(stored, now_ns))
    }

    /// `key`'s capacity in use at `now_ns`, charging nothing and inserting
    /// nothing (a key with no bucket has none).
    pub(crate) fn usage_at(&self, key: &K, now_ns: u64) -> Result<Usage> {
        let usage = Cell::new(Usage::NONE);
        K::into_result(key.with_stored(&self.hasher, |stored| {
            self.update(stored, now_ns, 0, |word, quota| {
                usage.set(Usage::of(word, quota, now_ns));
                gcra::evaluate(word, quota, now_ns, 0)
            });
            Ok(usage.get())
        }))
    }

    /// Puts `key`'s bucket back to full, forgetting what it has used
    /// (express-rate-limit's `resetKey`: an operator lifts a block, a user
    /// logs in successfully). A full bucket is what a key without one reads,
    /// so the key's slot is free for the next new key that probes past it;
    /// a key with its own quota keeps it (and its slot) until
    /// [`clear_quota`](Self::clear_quota). A key with no bucket is left
    /// alone: nothing is inserted.
    ///
    /// ```
    /// # use floodgate::{Error, KeyedLimiter, ManualClock, Quota};
    /// let limiter: KeyedLimiter<str, ManualClock> =
    ///     KeyedLimiter::<str>::builder(Quota::per_minute(5)?).clock(ManualClock::new()).build()?;
    /// limiter.check("203.0.113.7", 5)?;
    /// assert!(!limiter.check("203.0.113.7", 1)?.is_admitted());
    /// limiter.reset("203.0.113.7")?;
    /// assert_eq!(limiter.peek("203.0.113.7")?.remaining(), 5);
    /// assert_eq!(limiter.reset(""), Err(Error::EmptyKey));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn reset(&self, key: &K) -> K::Answer<()> {
        self.reset_at(key, self.clock.now_ns())
    }

    /// [`reset`](Self::reset) at a caller-supplied time.
    ///
    /// ```
    /// # use floodgate::{KeyedLimiter, Quota};
    /// let limiter = KeyedLimiter::<u64>::builder(Quota::per_second(1)?).build()?;
    /// assert!(limiter.check_at(&7, 1, 5_000_000_000).is_admitted());
    /// limiter.reset_at(&7, 5_100_000_000);
    /// assert!(limiter.check_at(&7, 1, 5_200_000_000).is_admitted());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn reset_at(&self, key: &K, now_ns: u64) -> K::Answer<()> {
        key.with_stored(&self.hasher, |stored| {
            self.empty(stored, now_ns);
        })
    }

    /// Empties `key`'s bucket of what it has in use at `now_ns` and returns
    /// that usage: the bucket is full afterwards, as if idle.
    pub(crate) fn take_usage_at(&self, key: &K, now_ns: u64) -> Result<Usage> {
        K::into_result(key.with_stored(&self.hasher, |stored| Ok(self.empty(stored, now_ns))))
    }

    /// Empties `key`'s bucket (see `take_usage_at`); inserts nothing.
    fn empty(&self, key: K::Stored, now_ns: u64) -> Usage {
        let usage = Cell::new(Usage::NONE);
        self.update(key, now_ns, 0, |word, quota| {
            let taken = Usage::of(word, quota, now_ns);
            usage.set(taken);
            let now = quota.ticks_at(now_ns);
            Evaluation {
                next: (taken.debt > 0).then(|| StateWord::with_debt(word.generation(), now, 0)),
                ..gcra::evaluate(word, quota, now_ns, 0)
            }
        });
        usage.get()
    }

    /// Adds `usage`, taken from a bucket of another quota, to `key`'s bucket
    /// at `now_ns`, by the rule of [`reconfigure`](Self::reconfigure): the
    /// same number of requests, capped at the key's burst. A key without a
    /// bucket gets one unless the table is full (then the usage is dropped,
    /// as the full table's policy decides the key's checks anyway).
    pub(crate) fn add_usage_at(&self, key: &K, usage: Usage, now_ns: u64) -> Result<()> {
        K::into_result(key.with_stored(&self.hasher, |stored| {
            self.update(stored, now_ns, 0, |word, quota| {
                let now = quota.ticks_at(now_ns);
                let debt = word.debt_at(now);
                let added = gcra::carried_debt(usage.debt, usage.token_ticks, quota);
                let total = debt.saturating_add(added).min(quota.capacity_ticks());
                Evaluation {
                    next: (total > debt)
                        .then(|| StateWord::with_debt(word.generation(), now, total)),
                    ..gcra::evaluate(word, quota, now_ns, 0)
                }
            });
            Ok(())
        }))
    }

    /// The quota `key`'s checks use: its own, or the default.
    pub fn quota_for(&self, key: &K) -> K::Answer<Quota> {
        key.with_stored(&self.hasher, |stored| {
            let backoff = Backoff::new();
            loop {
                let Lookup::Found(slot) = self.table.find(stored, |_| false) else {
                    return self.default_quota();
                };
                match self.quota_of(slot) {
                    Some(quota) => return quota,
                    // The override was cleared under us: look again.
                    None => backoff.spin(),
                }
            }
        })
    }

    /// The quota of every key without its own.
    pub fn default_quota(&self) -> Quota {
        loop {
            // Acquire: the ring slot it names was installed before.
            let generation = self.default_generation.load(Ordering::Acquire) as usize;
            // `None`: that slot was being rewritten, so the generation moved on.
            if let Some(quota) = self.defaults.get(generation) {
                return quota;
            }
        }
    }

    /// Replaces the default quota while checks go on, keeping what each key
    /// has used (counted in requests, capped at the new burst). Keys with
    /// their own quota keep it. Visits every slot once (a few milliseconds
    /// per million slots); checks never wait for it, and a check that starts
    /// after it returns uses the new quota.
    ///
    /// ```
    /// # use floodgate::{KeyedLimiter, ManualClock, Quota};
    /// let limiter: KeyedLimiter<u64, ManualClock> = KeyedLimiter::<u64>::builder(Quota::per_second(30)?.with_burst(60)?)
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// limiter.check(&9, 40);
    /// limiter.reconfigure(Quota::per_second(50)?.with_burst(100)?);
    /// assert_eq!(limiter.peek(&9).remaining(), 60);
    /// assert_eq!(limiter.default_quota().burst(), 100);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn reconfigure(&self, default_quota: Quota) {
        self.reconfigure_at(default_quota, self.clock.now_ns())
    }

    /// [`reconfigure`](Self::reconfigure) at a caller-supplied time.
    pub fn reconfigure_at(&self, default_quota: Quota, now_ns: u64) {
        let mut ring = self.defaults.writer();
        // Relaxed: only writers change it, and they hold the ring's lock.
        let from_generation = self.default_generation.load(Ordering::Relaxed) as usize;
        let to_generation = from_generation ^ 1;
        let from = ring.named(from_generation);
        if ring.recovered() {
            // The last writer died (a process killed holding a shared
            // segment's lock): words its sweep had moved go back before
            // their slot is rewritten. If it died installing, none had.
            if let Some(moved) = ring.installed(to_generation) {
                self.table.sweep(to_generation, |word| match word.mark() {
                    Some(_) => word.mark_in(from_generation),
                    None => gcra::convert(word, &moved, &from, now_ns, from_generation),
                });
            }
        }
        // The previous sweep left no word in `to_generation`.
        ring.install(to_generation, default_quota);
        self.table.sweep(from_generation, |word| match word.mark() {
            Some(_) => word.mark_in(to_generation),
            None => gcra::convert(word, &from, &default_quota, now_ns, to_generation),
        });
        // Release: pairs with the Acquire in `default_quota`.
        self.default_generation
            .store(to_generation as u64, Ordering::Release);
        self.overflow.reconfigure_at(default_quota, now_ns);
    }

    /// Keys holding a slot, refilled ones not yet reused included. O(1): a
    /// count kept by the insertions and reclaims that change it (never by a
    /// check of a known key), exact whenever no insertion is under way.
    ///
    /// ```
    /// # use floodgate::{KeyedLimiter, Quota};
    /// let limiter = KeyedLimiter::<u64>::builder(Quota::per_second(1)?).build()?;
    /// limiter.check_at(&1, 1, 0);
    /// limiter.check_at(&2, 1, 0);
    /// limiter.check_at(&1, 1, 0);
    /// assert_eq!(limiter.len(), 2);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.table.occupied()
    }

    /// Whether no key holds a slot (O(1), as [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many slots the table has: the capacity asked for, rounded up to
    /// whole buckets of 16.
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// How many checks of a new key found no slot and fell back to
    /// [`FullTable`]'s choice.
    pub fn full_table_events(&self) -> u64 {
        // Relaxed: a statistic.
        self.full_table_events.load(Ordering::Relaxed)
    }

    /// Model checking only: claims a slot for `key` as a new key's insertion
    /// does, even if the key is live, and never finishes: the insertion of a
    /// thread that is never scheduled again after its claim.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn stall_an_insertion_at(&self, key: &K, now_ns: u64) -> K::Answer<()> {
        key.with_stored(&self.hasher, |stored| {
            self.table
                .claim_and_stall(stored, |word| self.reclaimable(word, now_ns))
        })
    }

    /// Runs `step` on `key`'s bucket until its result is stored, inserting
    /// the key if `step` charges a bucket it does not have yet.
    #[inline]
    fn update(
        &self,
        key: K::Stored,
        now_ns: u64,
        cost: u64,
        step: impl Fn(StateWord, &Quota) -> Evaluation,
    ) -> Decision {
        self.update_with(key, now_ns, cost, false, step)
    }

    /// [`update`](Self::update), told whether the key's lines were already
    /// prefetched (by a batch), so its lookups load nothing more.
    #[inline(always)]
    fn update_with(
        &self,
        key: K::Stored,
        now_ns: u64,
        cost: u64,
        prefetched: bool,
        step: impl Fn(StateWord, &Quota) -> Evaluation,
    ) -> Decision {
        let backoff = Backoff::new();
        loop {
            let reclaimable = |word| self.reclaimable(word, now_ns);
            let lookup = if prefetched {
                self.table.find_prefetched(key, reclaimable)
            } else {
                self.table.find(key, reclaimable)
            };
            match lookup {
                Lookup::Found(mut slot) => {
                    // `None`: a stale override word; look again.
                    while let Some(quota) = self.quota_of(slot) {
                        let evaluation = step(slot.word, &quota);
                        let Some(next) = evaluation.next else {
                            return evaluation.decision;
                        };
                        // Relaxed on success: a charge publishes nothing but the word.
                        match self.table.replace(key, slot, next, Ordering::Relaxed) {
                            Ok(()) => return evaluation.decision,
                            Err(Some(word)) => {
                                slot.word = word;
                                backoff.spin();
                            }
                            Err(None) => break, // reclaimed under us: look again
                        }
                    }
                }
                lookup => {
                    if let Some(decision) =
                        self.insert_absent(key, lookup, now_ns, cost, &step, &backoff)
                    {
                        return decision;
                    }
                }
            }
        }
    }

    /// The slow half of [`update_with`](Self::update_with), out of line so
    /// a check of a known key inlines only its fast half: `key` has no
    /// bucket (or its insertion by another thread is pending). `None` when
    /// the caller must look the key up again.
    #[inline(never)]
    fn insert_absent(
        &self,
        key: K::Stored,
        lookup: Lookup,
        now_ns: u64,
        cost: u64,
        step: &impl Fn(StateWord, &Quota) -> Evaluation,
        backoff: &Backoff,
    ) -> Option<Decision> {
        let vacancy = match lookup {
            Lookup::Absent(vacancy) => vacancy,
            _ => None,
        };
        // No bucket is a full bucket: decide on one, store only a charge.
        let generation = vacancy.map_or_else(
            // Relaxed: any default generation's quota is a valid answer.
            || self.default_generation.load(Ordering::Relaxed) as usize,
            |vacancy| vacancy.generation(),
        );
        // `None`: the default slot of `generation` was being
        // rewritten, so the table has moved on: look again.
        let on_full_bucket = |generation: usize| {
            let quota = self.defaults.get(generation)?;
            let full = StateWord::with_debt(generation, quota.ticks_at(now_ns), 0);
            Some((quota, step(full, &quota)))
        };
        let (quota, evaluation) = on_full_bucket(generation)?;
        if evaluation.next.is_none() {
            return Some(evaluation.decision);
        }
        if let Lookup::Inserting = lookup {
            // The charge belongs in the bucket being published.
            backoff.snooze();
            self.table.free_dead_claims(key);
            return None;
        }
        let Some(vacancy) = vacancy else {
            return Some(self.when_full(generation, &quota, now_ns, cost));
        };
        match self.table.insert(key, vacancy, |generation, _| {
            // `None` only if a reconfiguration moved past the claim: look again.
            let Some((_, evaluation)) = on_full_bucket(generation) else {
                return Err(None);
            };
            evaluation
                .next
                .map(|word| (word, Some(evaluation.decision)))
                .ok_or(Some(evaluation.decision))
        }) {
            Insertion::Published(Some(result)) | Insertion::Declined(Some(result)) => Some(result),
            Insertion::Published(None) | Insertion::Declined(None) | Insertion::Retry => {
                backoff.spin();
                None
            }
        }
    }

    /// The quota `slot`'s word is measured in; `None` if the word is stale
    /// (its override entry is gone, or its quota was being rewritten).
    // Always: on every charge's path, and left out of line by LLVM in callers
    // whose check it already inlined (2 ns a check in benches/ffi.rs).
    #[inline(always)]
    fn quota_of(&self, slot: Slot) -> Option<Quota> {
        let generation = slot.word.generation();
        match override_parity(generation) {
            None => self.defaults.get(generation),
            Some(parity) => self.overrides.get(slot.index, parity),
        }
    }

    /// Whether a bucket is full at `now_ns` and may be reused by a new key.
    /// Pinned (override) buckets never are.
    #[inline]
    fn reclaimable(&self, word: StateWord, now_ns: u64) -> bool {
        let generation = word.generation();
        // A stale word whose slot is being rewritten is not offered: the
        // claim would fail on the converted word anyway.
        overrides::is_default(generation)
            && self
                .defaults
                .get(generation)
                .is_some_and(|quota| word.debt_at(quota.ticks_at(now_ns)) == 0)
    }

    /// A new key found no slot: count it and apply [`FullTable`].
    #[cold]
    fn when_full(&self, generation: usize, quota: &Quota, now_ns: u64, cost: u64) -> Decision {
        // Relaxed: a statistic.
        self.full_table_events.fetch_add(1, Ordering::Relaxed);
        let now = quota.ticks_at(now_ns);
        match self.on_full {
            FullTable::Deny => {
                let empty = StateWord::with_debt(generation, now, quota.capacity_ticks());
                gcra::evaluate(empty, quota, now_ns, cost).decision
            }
            FullTable::Admit => {
                let full = StateWord::with_debt(generation, now, 0);
                gcra::evaluate(full, quota, now_ns, cost).decision
            }
            FullTable::Overflow => self.overflow.check_at(cost, now_ns),
        }
    }

    /// Gives `key` its own `quota`, pinning its slot (see `set_quota`).
    fn pin(&self, key: K::Stored, quota: Quota, now_ns: u64) -> Result<()> {
        let ring = self.defaults.writer();
        let mut overrides = self.overrides.writer();
        let backoff = Backoff::new();
        loop {
            match self.table.find(key, |word| self.reclaimable(word, now_ns)) {
                Lookup::Found(mut slot) => loop {
                    let generation = slot.word.generation();
                    let (from, parity) = match override_parity(generation) {
                        Some(parity) => {
                            let Some(from) = self.overrides.get(slot.index, parity) else {
                                break;
                            };
                            (from, parity ^ 1)
                        }
                        None => (ring.named(generation), 0),
                    };
                    overrides.set(slot.index, parity, quota)?;
                    let next = gcra::convert(
                        slot.word,
                        &from,
                        &quota,
                        now_ns,
                        override_generation(parity),
                    );
                    // Release: a check that reads the pinned word must find its entry.
                    match self.table.replace(key, slot, next, Ordering::Release) {
                        Ok(()) => return Ok(()),
                        Err(Some(word)) => slot.word = word,
                        Err(None) => {
                            // Reclaimed before we pinned it: drop the entry, look again.
                            if overrides::is_default(generation) {
                                overrides.remove(slot.index);
                            }
                            break;
                        }
                    }
                },
                // Another insertion of the key is between claim and publish.
                Lookup::Inserting => {
                    backoff.snooze();
                    self.table.free_dead_claims(key);
                }
                Lookup::Absent(None) => return Err(Error::TableFull),
                Lookup::Absent(Some(vacancy)) => {
                    if overrides.is_full() {
                        return Err(Error::TooManyOverrides);
                    }
                    let pinned = self.table.insert(key, vacancy, |_, index| {
                        if let Err(error) = overrides.set(index, 0, quota) {
                            return Err(Err(error));
                        }
                        let full =
                            StateWord::with_debt(override_generation(0), quota.ticks_at(now_ns), 0);
                        Ok((full, Ok(())))
                    });
                    match pinned {
                        Insertion::Published(result) | Insertion::Declined(result) => {
                            return result
                        }
                        Insertion::Retry => {}
                    }
                }
            }
        }
    }

    /// Returns `key` to the default quota (see `clear_quota`).
    fn unpin(&self, key: K::Stored, now_ns: u64) {
        let ring = self.defaults.writer();
        let mut overrides = self.overrides.writer();
        loop {
            let Lookup::Found(mut slot) = self.table.find(key, |_| false) else {
                return;
            };
            loop {
                let Some(parity) = override_parity(slot.word.generation()) else {
                    return;
                };
                let Some(from) = self.overrides.get(slot.index, parity) else {
                    return;
                };
                // Relaxed: writers, which alone change it, hold the ring's lock.
                let generation = self.default_generation.load(Ordering::Relaxed) as usize;
                let to = ring.named(generation);
                let next = gcra::convert(slot.word, &from, &to, now_ns, generation);
                // Release: a check that reads the word must see the ring slot.
                match self.table.replace(key, slot, next, Ordering::Release) {
                    Ok(()) => {
                        overrides.remove(slot.index);
                        return;
                    }
                    Err(Some(word)) => slot.word = word,
                    Err(None) => break,
                }
            }
        }
    }
}

impl<K: Key + ?Sized, C: Clock> std::fmt::Debug for KeyedLimiter<K, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimiter")
            .field("default_quota", &self.default_quota())
            .field("capacity", &self.capacity())
            .field("on_full", &self.on_full)
            .finish_non_exhaustive()
    }
}

/// A bucket's capacity in use, in the units of the quota it was measured in:
/// `debt` ticks where one request takes `token_ticks`. What moves with a key
/// from one table to another (a plan change).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    debt: u64,
    token_ticks: u64,
}

impl Usage {
    /// Nothing in use.
    const NONE: Usage = Usage {
        debt: 0,
        token_ticks: 1,
    };

    fn of(word: StateWord, quota: &Quota, now_ns: u64) -> Self {
        Usage {
            debt: word.debt_at(quota.ticks_at(now_ns)),
            token_ticks: quota.token_ticks(),
        }
    }

    /// Whether nothing is in use.
    pub(crate) fn is_none(&self) -> bool {
        self.debt == 0
    }
}
