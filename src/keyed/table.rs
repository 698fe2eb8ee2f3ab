//! The slot table and the protocol that keeps each key in exactly one slot.
//!
//! Slots are contiguous [`AtomicPair`]s (16 bytes), plus for byte keys a
//! parallel array holding each fingerprint's other half (8 bytes). They are
//! grouped in buckets of [`BUCKET`] slots (256 contiguous bytes), and a key
//! may live only in its two candidate buckets, chosen by two independent
//! parts of its hash: its *window* is bucket one's slots then bucket two's.
//! Finding a key reads at most two short runs of contiguous memory, and
//! nothing on a check ever walks the table. A new key goes to whichever
//! candidate bucket has more free slots (the "power of two choices"), which
//! keeps buckets even: at 80% load practically no key finds both full, where
//! one linear-probe run of 32 slots overflows for about 0.5% of keys.
//! Within a bucket a key takes the first unused slot, or when none is left
//! the first refilled bucket.
//!
//! A slot's word is a bucket or one of three marks (`state.rs`):
//! `Empty` (never used: since a key never takes a slot after its bucket's
//! first `Empty` one, and a slot never becomes `Empty` again, no key lives
//! after it in its bucket),
//! `Free` (given up, reusable) and `Pending` (claimed by an insertion that
//! has not yet proved its key unique). A bucket whose debt is zero is
//! *reclaimable*: it is a full bucket, identical to no bucket at all, so a
//! new key may take its slot in place with one CAS of the pair. No sweeper,
//! no tombstone build-up, and lookups stay correct because the slot is
//! never emptied.
//!
//! # One slot per key
//!
//! Two threads inserting the same key could pick different vacancies (one
//! saw a slot still indebted that the other saw reclaimable, or the buckets'
//! free counts changed between their looks), so an insertion first *claims*
//! its vacancy with a `Pending` mark carrying the key's tag, then scans the
//! window again (a `SeqCst` fence parts the claim from the scan):
//!
//! * the key live in another slot: give the claim up, use that slot;
//! * the key pending earlier in the window: give up and retry;
//! * the key pending later in the window (and live nowhere): wait until
//!   that claim resolves, then scan again;
//! * otherwise publish the bucket in the claimed slot.
//!
//! Of two claims of one key, the one whose fence comes second in the fences'
//! single total order scans after both claims, so it sees the other
//! (store-buffer order); whichever sees the other yields or waits, and the
//! earlier slot in the window wins. Waits only go from an earlier claim to
//! a later one, and a later one never waits on an earlier one, so no cycle
//! can form. A pending slot is changed only by its claimer (publish or give
//! up) and by a reconfiguration sweep (which only moves its generation), so
//! it has no ABA.
//!
//! # Who waits
//!
//! A pending slot is not a bucket, so a lookup passes over it: a key live
//! anywhere in its window is found however many claims of it are pending,
//! even a claim whose inserter looked before the key was published and has
//! not run since. Checks of a live key therefore never wait. Waiting is
//! only for another thread's insertion of the *same new key*, in its
//! few-instruction window between claim and publish: by an insertion's
//! scan (above) while the key is live nowhere, and by a lookup that finds
//! the key live nowhere but pending somewhere, whose caller waits before
//! charging it (so that one bucket takes every charge) and never to decide
//! without charging.
//!
//! # Claims a killed process leaves
//!
//! In a table in a shared segment a process may be killed between claim
//! and publish, and nothing would resolve its claim: inserters of its key
//! would wait forever, and the slot would never be free again. So a
//! `Pending` mark carries its claimer's process id, and a claim whose
//! process no longer exists is as good as free: an inserter waiting on
//! one frees it for the dead claimer (the CAS a give-up would have done),
//! and a vacancy search takes one as it takes a refilled bucket. A live
//! claimer's claim is never touched (a pid the kernel has reused reads as
//! alive, which delays, never corrupts), and a table on the heap never
//! looks: every claim there is its own process's.

use super::hints::Hints;
use super::key::StoredKey;
use super::pair::{AtomicPair, Pair};
use crate::core::alloc::{Place, Placed, Slab};
use crate::core::state::{SlotMark, StateWord};
use crate::sync::{fence, AtomicU64, Backoff, Ordering};
use crossbeam_utils::CachePadded;
use std::marker::PhantomData;

/// Slots per bucket (fewer only in a table smaller than one bucket).
pub(crate) const BUCKET: usize = 16;

pub(crate) struct Table<S> {
    pairs: Slab<AtomicPair>,
    /// Byte keys' second fingerprint half, by slot; empty for `u64` keys.
    extras: Slab<AtomicU64>,
    hints: Hints,
    /// Slots holding a bucket: raised by the CAS that publishes one, lowered
    /// by the claim that reclaims one (both won by exactly one thread), so
    /// a check of a known key never writes it. Wraps below zero for as long
    /// as a reclaim's decrement lands before its publisher's increment.
    buckets_held: Placed<CachePadded<AtomicU64>>,
    bucket_len: usize,
    buckets: usize,
    /// Whether [`find`](Self::find) prefetches a key's buckets: only in a
    /// table larger than [`CACHED_BYTES`].
    prefetches: bool,
    _stored: PhantomData<fn(S)>,
}

/// The largest table whose lookups [`Table::find`] does not prefetch:
/// 256 KiB, the smallest L2 cache of a current x86_64 core. A table that
/// fits stays in the core's caches under load, where a lookup's lines
/// arrive about as soon as the hints name them, and a prefetch of both
/// buckets (ten lines, sixteen for byte keys) costs the check of a cached
/// key more than it hides (1 key of 1,024: 37 -> 33 ns without it).
const CACHED_BYTES: usize = 256 << 10;

/// A key's two candidate buckets, by first slot index; one if the table has one.
#[derive(Clone, Copy)]
struct Window {
    starts: [usize; 2],
    count: usize,
}

/// Where a key is, as last read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub(crate) index: usize,
    pub(crate) word: StateWord,
}

/// A slot a new key may take, with what it held when read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vacancy {
    index: usize,
    /// Its place in the key's window, which orders competing claims.
    position: usize,
    held: Pair,
}

impl Vacancy {
    /// The default generation a key placed here starts in.
    pub(crate) fn generation(&self) -> usize {
        self.held.word.generation()
    }
}

pub(crate) enum Lookup {
    Found(Slot),
    /// The key holds no slot; where it may go, if anywhere.
    Absent(Option<Vacancy>),
    /// The key holds no slot, but another thread's insertion of it is
    /// pending: it publishes the key's bucket or gives up shortly.
    Inserting,
}

pub(crate) enum Insertion<R> {
    /// The key now has its bucket, with what `publish` returned.
    Published(R),
    /// `publish` declined once the slot was the key's alone; nothing stored.
    Declined(R),
    /// The table moved under the attempt: look the key up again.
    Retry,
}

/// A vacancy this thread has marked `Pending` for its key.
struct Claim {
    index: usize,
    position: usize,
}

/// What a claim's scan of its key's window found.
enum Contest {
    /// No other claim on the key, and no bucket of it: publish.
    Won,
    /// The key is live elsewhere, or claimed earlier in the window: give up.
    Lost,
    /// Only claims later in the window: wait until they resolve.
    Undecided,
}

impl<S: StoredKey> Table<S> {
    /// A table of at least `capacity` slots: whole buckets of [`BUCKET`],
    /// in `place`. [`Error::AllocationFailed`](crate::Error::AllocationFailed)
    /// if its memory cannot be allocated.
    pub(crate) fn placed(capacity: usize, place: &mut Place) -> crate::Result<Self> {
        let empty = Pair {
            tag: 0,
            word: StateWord::marked(SlotMark::Empty, 0),
        };
        let bucket_len = BUCKET.min(capacity);
        let buckets = capacity.div_ceil(bucket_len);
        let capacity = buckets * bucket_len;
        let slot_bytes = size_of::<AtomicPair>()
            + if S::HAS_EXTRA {
                size_of::<AtomicU64>()
            } else {
                0
            }
            + 1; // its hint
        Ok(Self {
            pairs: place.filled(capacity, || AtomicPair::new(empty))?,
            extras: place.filled(if S::HAS_EXTRA { capacity } else { 0 }, || {
                AtomicU64::new(0)
            })?,
            hints: Hints::placed(capacity, place)?,
            buckets_held: place.one(|| CachePadded::new(AtomicU64::new(0)))?,
            bucket_len,
            buckets,
            prefetches: capacity * slot_bytes > CACHED_BYTES,
            _stored: PhantomData,
        })
    }

    pub(crate) fn capacity(&self) -> usize {
        self.pairs.len()
    }

    /// Slots holding a key's bucket (refilled ones not yet reused included),
    /// in O(1).
    pub(crate) fn occupied(&self) -> usize {
        // Relaxed: a statistic, read while the table moves; every change is
        // one read-modify-write, so none is lost.
        let held = self.buckets_held.load(Ordering::Relaxed) as i64;
        // A reclaim racing the publication of the bucket it takes may be
        // counted first: read that moment as no bucket, not 2^64 of them.
        held.max(0) as usize
    }

    #[inline]
    fn window(&self, key: S) -> Window {
        // Multiply-shift maps each 32-bit half of the hash onto any number
        // of buckets, not just powers of two.
        let bucket = |half: u64| ((half * self.buckets as u64) >> 32) as usize;
        let home = key.home();
        let first = bucket(home >> 32);
        let mut second = bucket(home & u64::from(u32::MAX));
        if second == first {
            second = (first + 1) % self.buckets;
        }
        Window {
            starts: [first * self.bucket_len, second * self.bucket_len],
            count: if self.buckets > 1 { 2 } else { 1 },
        }
    }

    /// Starts loading both candidate buckets' cache lines at once, before
    /// the hints say which slot to read: the slot's miss then overlaps the
    /// hint read and the other bucket's miss instead of following them. On a
    /// 1M-key table this roughly halves a check.
    #[inline]
    fn prefetch(&self, window: Window) {
        #[cfg(target_arch = "x86_64")]
        for &start in &window.starts[..window.count] {
            // A bucket's 256 bytes span at most five lines; these slots touch each.
            for offset in [0, 4, 8, 12, 15] {
                prefetch_line(&self.pairs[start + offset.min(self.bucket_len - 1)]);
            }
            if S::HAS_EXTRA {
                // Its 128 bytes of extra halves: at most three lines.
                for offset in [0, 8, 15] {
                    prefetch_line(&self.extras[start + offset.min(self.bucket_len - 1)]);
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = window;
    }

    /// Slot `position` of `window` (positions run through bucket one, then two).
    #[inline]
    fn index(&self, window: Window, position: usize) -> usize {
        window.starts[position / self.bucket_len] + position % self.bucket_len
    }

    /// Whether `pair`, read from `index`, is `key`'s bucket.
    #[inline]
    fn holds(&self, index: usize, key: S, pair: Pair) -> bool {
        pair.tag == key.tag()
            && pair.word.mark().is_none()
            // Relaxed: the extra half was stored before the Release that
            // published this bucket, and `pair` was read with Acquire.
            && (!S::HAS_EXTRA || self.extras[index].load(Ordering::Relaxed) == key.extra())
    }

    /// Finds `key`, or else the slot a new key should take: in the
    /// candidate bucket with more free slots (`Empty`, `Free`, or a bucket
    /// `reclaimable` says is full), the first unused one, else the first
    /// full bucket.
    pub(crate) fn find(&self, key: S, reclaimable: impl Fn(StateWord) -> bool) -> Lookup {
        let window = self.window(key);
        if self.prefetches {
            self.prefetch(window);
        }
        self.search(key, window, reclaimable)
    }

    /// [`find`](Self::find) for a key whose lines [`prefetch_hints`](Self::prefetch_hints)
    /// and then [`prefetch_slots`](Self::prefetch_slots) already asked for:
    /// it loads no other line, so a batch spends memory bandwidth only on
    /// the slots a key's hints name.
    pub(crate) fn find_prefetched(
        &self,
        key: S,
        reclaimable: impl Fn(StateWord) -> bool,
    ) -> Lookup {
        self.search(key, self.window(key), reclaimable)
    }

    /// First stage of a batched lookup: starts loading the hint words of
    /// `key`'s two buckets (16 bytes each, one line), which say which slots
    /// to load next.
    #[inline]
    pub(crate) fn prefetch_hints(&self, key: S) {
        let window = self.window(key);
        for &start in &window.starts[..window.count] {
            self.hints.prefetch(start);
        }
    }

    /// Second stage of a batched lookup, once the hints have arrived: starts
    /// loading the slots whose hint matches `key`'s (usually one line), or
    /// the whole window when none does (a new key: its insertion scans it).
    #[inline]
    pub(crate) fn prefetch_slots(&self, key: S) {
        let window = self.window(key);
        let hint = Hints::of(key.home());
        let mut any = false;
        for &start in &window.starts[..window.count] {
            let mut matches = self.hints.matches(start, self.bucket_len, hint);
            any |= matches != 0;
            while matches != 0 {
                let index = start + matches.trailing_zeros() as usize;
                matches &= matches - 1;
                prefetch_line(&self.pairs[index]);
                if S::HAS_EXTRA {
                    prefetch_line(&self.extras[index]);
                }
            }
        }
        if !any {
            self.prefetch(window);
        }
    }

    /// The lookup behind [`find`](Self::find), once its lines are on their way.
    #[inline]
    fn search(&self, key: S, window: Window, reclaimable: impl Fn(StateWord) -> bool) -> Lookup {
        // Fast path: only the slots whose hint matches (see `hints.rs`).
        let hint = Hints::of(key.home());
        for choice in 0..window.count {
            let start = window.starts[choice];
            let mut matches = self.hints.matches(start, self.bucket_len, hint);
            while matches != 0 {
                let index = start + matches.trailing_zeros() as usize;
                matches &= matches - 1;
                let pair = self.read(index);
                if self.holds(index, key, pair) {
                    return Lookup::Found(Slot {
                        index,
                        word: pair.word,
                    });
                }
            }
        }
        // Every slot, in case a hint was not yet visible.
        let mut inserting = false;
        for choice in 0..window.count {
            for offset in 0..self.bucket_len {
                let position = choice * self.bucket_len + offset;
                let index = self.index(window, position);
                let pair = self.read(index);
                match pair.word.mark() {
                    None if self.holds(index, key, pair) => {
                        return Lookup::Found(Slot {
                            index,
                            word: pair.word,
                        })
                    }
                    // Someone's claim, perhaps on this key (for byte keys a
                    // tag match may be another key: 2^-64, and only a wait).
                    Some(SlotMark::Pending) => inserting |= pair.tag == key.tag(),
                    Some(SlotMark::Empty) => break, // the rest of this bucket is unused
                    _ => {}
                }
            }
        }
        if inserting {
            return Lookup::Inserting;
        }
        // The key is absent: only now weigh the vacancies, so a known key's
        // lookup never pays for it.
        Lookup::Absent(self.vacancy(window, reclaimable))
    }

    /// The slot a new key should take: in the candidate bucket with more
    /// free slots, the first unused one (`Empty` or `Free`), else the first
    /// refilled bucket.
    fn vacancy(&self, window: Window, reclaimable: impl Fn(StateWord) -> bool) -> Option<Vacancy> {
        let mut best: Option<(usize, Vacancy)> = None;
        for choice in 0..window.count {
            // An unused slot first, a refilled bucket only when there is
            // none: a key whose bucket refills between visits (an idle
            // key) then keeps its slot while the table has room, instead of
            // being evicted by the next new key and inserted again.
            let (mut free, mut unused, mut refilled) = (0, None, None);
            for offset in 0..self.bucket_len {
                let position = choice * self.bucket_len + offset;
                let index = self.index(window, position);
                let held = self.read(index);
                let mark = held.word.mark();
                let first = match mark {
                    Some(SlotMark::Empty) | Some(SlotMark::Free) => &mut unused,
                    None if reclaimable(held.word) => &mut refilled,
                    // Left by a process killed between claim and publish:
                    // nothing else would ever free it.
                    Some(SlotMark::Pending) if self.is_dead_claim(held) => &mut refilled,
                    _ => {
                        continue;
                    }
                };
                first.get_or_insert(Vacancy {
                    index,
                    position,
                    held,
                });
                if mark == Some(SlotMark::Empty) {
                    free += self.bucket_len - offset;
                    break;
                }
                free += 1;
            }
            if let Some(vacancy) = unused.or(refilled) {
                if best.is_none_or(|(most, _)| free > most) {
                    best = Some((free, vacancy));
                }
            }
        }
        best.map(|(_, vacancy)| vacancy)
    }

    /// Claims a vacancy for `key` whether or not the key is live, and never
    /// resolves the claim: an inserter stalled for good after its claim.
    #[cfg(loom)]
    pub(crate) fn claim_and_stall(&self, key: S, reclaimable: impl Fn(StateWord) -> bool) {
        let vacancy = self.vacancy(self.window(key), reclaimable);
        let claimed = vacancy.and_then(|vacancy| self.claim(key, vacancy));
        assert!(claimed.is_some(), "the model leaves a slot to claim");
    }

    /// The pair at `index`, for a decision on what it holds.
    #[inline]
    fn read(&self, index: usize) -> Pair {
        // Acquire: a published bucket's extra half (and, for a per-key
        // quota, its override entry) must be visible with it.
        self.pairs[index].load(Ordering::Acquire)
    }

    /// Swaps `key`'s bucket from `slot.word` to `next`. On failure, the word
    /// the slot holds instead if it is still `key`'s, else `None`.
    #[inline]
    pub(crate) fn replace(
        &self,
        key: S,
        slot: Slot,
        next: StateWord,
        success: Ordering,
    ) -> Result<(), Option<StateWord>> {
        let tag = key.tag();
        // Acquire on failure: the word read instead may be a conversion that
        // names a newly installed quota, or another key's publication.
        self.pairs[slot.index]
            .compare_exchange(
                Pair {
                    tag,
                    word: slot.word,
                },
                Pair { tag, word: next },
                success,
                Ordering::Acquire,
            )
            .map_err(|held| self.holds(slot.index, key, held).then_some(held.word))
    }

    /// Places `key` in `vacancy` (see the module docs). `publish` gets the
    /// generation the claimed slot is in and its index, and returns the
    /// bucket to store, or `Err` to store nothing.
    pub(crate) fn insert<R>(
        &self,
        key: S,
        vacancy: Vacancy,
        mut publish: impl FnMut(usize, usize) -> Result<(StateWord, R), R>,
    ) -> Insertion<R> {
        let Some(claim) = self.claim(key, vacancy) else {
            return Insertion::Retry;
        };
        if !self.is_unique(key, &claim) {
            self.give_up(&claim);
            return Insertion::Retry;
        }
        loop {
            // Acquire: a sweep (Release) may have moved the claim to the other
            // generation, whose newly installed quota `publish` then reads.
            let pending = self.pairs[claim.index].load(Ordering::Acquire);
            let (word, result) = match publish(pending.word.generation(), claim.index) {
                Ok(bucket) => bucket,
                Err(result) => {
                    self.give_up(&claim);
                    return Insertion::Declined(result);
                }
            };
            // Release: the extra half and any override entry go with the bucket.
            let published = Pair {
                tag: key.tag(),
                word,
            };
            if self.pairs[claim.index]
                .compare_exchange(pending, published, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                // Relaxed: a statistic; the CAS above was won by this thread alone.
                self.buckets_held.fetch_add(1, Ordering::Relaxed);
                return Insertion::Published(result);
            }
        }
    }

    fn claim(&self, key: S, vacancy: Vacancy) -> Option<Claim> {
        let pending = Pair {
            tag: key.tag(),
            word: StateWord::pending(vacancy.generation(), crate::shm::process::id()),
        };
        // Acquire: our extra-half store below must follow the previous
        // holder's in its modification order (published by its give-up or
        // publication, both Release). Loom orders one location's stores as
        // they run, so no model fails with Relaxed; the C++ model needs it.
        self.pairs[vacancy.index]
            .compare_exchange(vacancy.held, pending, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        if vacancy.held.word.mark().is_none() {
            // A reclaimed bucket. Relaxed: a statistic; only this claim won it.
            self.buckets_held.fetch_sub(1, Ordering::Relaxed);
        }
        // SeqCst: of two claims of one key, the one whose fence comes second
        // scans after both claims and sees the other (see the module docs).
        fence(Ordering::SeqCst);
        if S::HAS_EXTRA {
            // Relaxed: published by the Release of the publishing CAS.
            self.extras[vacancy.index].store(key.extra(), Ordering::Relaxed);
        }
        self.hints.set(vacancy.index, Hints::of(key.home()));
        Some(Claim {
            index: vacancy.index,
            position: vacancy.position,
        })
    }

    /// Whether `claim` may be published: no other slot of the window holds
    /// or has an earlier claim on `key`. Waits out later claims, but only
    /// while the key is live nowhere: they are insertions of the same new key.
    fn is_unique(&self, key: S, claim: &Claim) -> bool {
        let backoff = Backoff::new();
        loop {
            match self.contest(key, claim) {
                Contest::Won => return true,
                Contest::Lost => return false,
                Contest::Undecided => {
                    backoff.snooze();
                    self.free_dead_claims(key);
                }
            }
        }
    }

    /// One scan of `key`'s window, after `claim` (see the module docs).
    fn contest(&self, key: S, claim: &Claim) -> Contest {
        let window = self.window(key);
        let mut undecided = false;
        for choice in 0..window.count {
            for offset in 0..self.bucket_len {
                let position = choice * self.bucket_len + offset;
                if position == claim.position {
                    continue;
                }
                let index = self.index(window, position);
                // The claim's fence orders this load after the claim.
                let pair = self.read(index);
                match pair.word.mark() {
                    None if self.holds(index, key, pair) => return Contest::Lost,
                    // A pending tag match may be another key sharing the tag
                    // (2^-64): treating it as ours only costs a retry or wait.
                    Some(SlotMark::Pending) if pair.tag == key.tag() => {
                        if position < claim.position {
                            return Contest::Lost;
                        }
                        undecided = true;
                    }
                    // Nothing lives after a never-used slot in its bucket.
                    Some(SlotMark::Empty) => break,
                    _ => {}
                }
            }
        }
        if undecided {
            Contest::Undecided
        } else {
            Contest::Won
        }
    }

    /// Frees `key`'s pending claims made by processes that have since died
    /// (killed between claim and publish): in a shared segment nothing else
    /// would, and every insertion of the key would wait on them forever. A
    /// claim's owner is its process id, so this process's own claims, and
    /// every claim in a table no other process maps, are never touched.
    pub(crate) fn free_dead_claims(&self, key: S) {
        if !self.pairs.is_shared() {
            return;
        }
        let window = self.window(key);
        for position in 0..window.count * self.bucket_len {
            let index = self.index(window, position);
            let pair = self.read(index);
            if pair.tag == key.tag() && self.is_dead_claim(pair) {
                let free = Pair {
                    tag: 0,
                    word: StateWord::marked(SlotMark::Free, pair.word.generation()),
                };
                // Release, as in `give_up`, whose work this does for the
                // dead claimer; a failure means the slot moved on anyway.
                let _ = self.pairs[index].compare_exchange(
                    pair,
                    free,
                    Ordering::Release,
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// Whether `pair` is a pending claim whose process has died: only ever
    /// in a shared table (a claim's owner is its process id, and a table
    /// on the heap has one process).
    fn is_dead_claim(&self, pair: Pair) -> bool {
        let owner = pair.word.owner();
        self.pairs.is_shared()
            && pair.word.mark() == Some(SlotMark::Pending)
            && owner != u64::from(crate::shm::process::id())
            && !crate::shm::process::is_alive(owner)
    }

    fn give_up(&self, claim: &Claim) {
        // Relaxed: only this thread and a sweep change a pending slot.
        let mut pending = self.pairs[claim.index].load(Ordering::Relaxed);
        loop {
            let free = Pair {
                tag: 0,
                word: StateWord::marked(SlotMark::Free, pending.word.generation()),
            };
            // Release: the next claimer's extra-half store must come after
            // ours (see `claim`; loom cannot tell, as there).
            match self.pairs[claim.index].compare_exchange(
                pending,
                free,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(()) => return,
                Err(held) => pending = held,
            }
        }
    }

    /// Rewrites every slot word in generation `from` with `convert`: marks
    /// and buckets alike, so no word of `from` is left once it returns.
    pub(crate) fn sweep(&self, from: usize, convert: impl Fn(StateWord) -> StateWord) {
        for slot in self.pairs.iter() {
            // Relaxed: the CAS below validates what we read.
            let mut held = slot.load(Ordering::Relaxed);
            while held.word.generation() == from {
                let next = Pair {
                    tag: held.tag,
                    word: convert(held.word),
                };
                // Release: a check that reads the converted word must see the
                // quota installed for its generation.
                match slot.compare_exchange(held, next, Ordering::Release, Ordering::Relaxed) {
                    Ok(()) => break,
                    Err(actual) => held = actual,
                }
            }
        }
    }
}

/// Starts loading the cache line holding `value` (a no-op off x86_64).
#[inline]
pub(crate) fn prefetch_line<T>(value: &T) {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: a prefetch only hints the cache and never faults (the
        // address is a live reference anyway); SSE is baseline on x86_64.
        unsafe {
            ::core::arch::x86_64::_mm_prefetch::<{ ::core::arch::x86_64::_MM_HINT_T0 }>(
                (value as *const T).cast(),
            )
        };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::keyed::key::{Key, KeyHasher};

    fn exact(hasher: &KeyHasher, key: u64) -> crate::keyed::key::Exact {
        key.with_stored(hasher, |stored| stored)
    }

    /// Buckets counted slot by slot, to hold the kept count to.
    fn scanned<S: StoredKey>(table: &Table<S>) -> usize {
        table
            .pairs
            .iter()
            .filter(|pair| pair.load(Ordering::Relaxed).word.mark().is_none())
            .count()
    }

    fn bucket(debt: u64) -> StateWord {
        StateWord::with_debt(0, 0, debt)
    }

    fn put(
        table: &Table<crate::keyed::key::Exact>,
        key: crate::keyed::key::Exact,
        word: StateWord,
    ) -> usize {
        let Lookup::Absent(Some(vacancy)) = table.find(key, |_| false) else {
            panic!("no vacancy");
        };
        assert!(matches!(
            table.insert(key, vacancy, |_, _| Ok::<_, ()>((word, ()))),
            Insertion::Published(())
        ));
        let Lookup::Found(slot) = table.find(key, |_| false) else {
            panic!("published key not found");
        };
        slot.index
    }

    #[test]
    fn keys_are_found_where_they_were_put() {
        let hasher = KeyHasher::random();
        let table = Table::placed(64, &mut Place::heap()).unwrap();
        let indexes: Vec<usize> = (0..40)
            .map(|k| put(&table, exact(&hasher, k), bucket(5)))
            .collect();
        for (k, index) in (0..40).zip(indexes) {
            let Lookup::Found(slot) = table.find(exact(&hasher, k), |_| false) else {
                panic!("key {k} lost");
            };
            assert_eq!(slot.index, index);
        }
        assert_eq!((table.occupied(), scanned(&table)), (40, 40));
    }

    #[test]
    fn structured_u64_keys_fill_four_fifths_of_a_table_with_none_left_out() {
        // Secrets under which one keyed fold left 31 to 1,044 of these keys
        // with both buckets full; then two fresh ones.
        let regressions = [
            [0xb9fe_a8ea_ad5e_6a9b, 0x0b81_8eaa_071c_2a95, 0, 0],
            [0x7cce_0ca2_31bc_7cea, 0x05e2_86b3_f6db_b53d, 0, 0],
            [0xb613_5527_dd3b_1e8e, 0x7ffe_f35d_c5f6_2e69, 0, 0],
            [0x29db_94b7_a69a_6d3f, 0x2cb9_1434_252f_3281, 0, 0],
        ];
        let fresh = [KeyHasher::random_secret(), KeyHasher::random_secret()];
        for secret in regressions.into_iter().chain(fresh) {
            let hasher = KeyHasher::from_secret(secret);
            let table = Table::placed(16_384, &mut Place::heap()).unwrap();
            for k in 0..13_107 {
                put(&table, exact(&hasher, k), bucket(1));
            }
            assert_eq!(table.occupied(), 13_107, "under {secret:x?}");
        }
    }

    #[test]
    fn a_full_window_has_no_vacancy_until_a_bucket_is_reclaimable() {
        let hasher = KeyHasher::random();
        let table = Table::placed(3, &mut Place::heap()).unwrap();
        for k in 0..3 {
            put(&table, exact(&hasher, k), bucket(5));
        }
        let newcomer = exact(&hasher, 99);
        assert!(matches!(
            table.find(newcomer, |_| false),
            Lookup::Absent(None)
        ));
        let Lookup::Absent(Some(vacancy)) = table.find(newcomer, |_| true) else {
            panic!("reclaimable bucket not offered");
        };
        assert!(matches!(
            table.insert(newcomer, vacancy, |_, _| Ok::<_, ()>((bucket(1), ()))),
            Insertion::Published(())
        ));
        assert_eq!((table.occupied(), scanned(&table)), (3, 3));
        assert!(
            matches!(table.find(newcomer, |_| false), Lookup::Found(slot) if slot.index == vacancy.index)
        );
    }

    #[test]
    fn a_refilled_bucket_is_reused_only_when_no_slot_is_unused() {
        let hasher = KeyHasher::random();
        let table = Table::placed(3, &mut Place::heap()).unwrap();
        let idle = exact(&hasher, 0);
        let first = put(&table, idle, bucket(0));
        // Every bucket counts as refilled, yet an unused slot is taken first.
        let Lookup::Absent(Some(vacancy)) = table.find(exact(&hasher, 1), |_| true) else {
            panic!("no vacancy");
        };
        assert_ne!(vacancy.index, first);
        put(&table, exact(&hasher, 1), bucket(0));
        put(&table, exact(&hasher, 2), bucket(0));
        let Lookup::Absent(Some(vacancy)) = table.find(exact(&hasher, 3), |_| true) else {
            panic!("refilled buckets not offered once the table is full");
        };
        assert_eq!(vacancy.index, first);
    }

    /// A table of `capacity` slots in an anonymous shared mapping: placed
    /// as in a segment, so dead claims are looked for.
    fn shared_table(capacity: usize) -> Table<crate::keyed::key::Exact> {
        let mapping = memmap2::MmapOptions::new().len(1 << 20).map_anon().unwrap();
        let mapping = std::sync::Arc::new(memmap2::MmapRaw::from(mapping));
        Table::placed(capacity, &mut Place::segment(mapping, 0, true)).unwrap()
    }

    /// Marks slot `index` as claimed for `key` by a process that has died.
    fn claim_for_the_dead(table: &Table<crate::keyed::key::Exact>, index: usize, key: u64) {
        let held = table.read(index);
        let dead = Pair {
            tag: key,
            word: StateWord::pending(0, 1 << 30),
        };
        assert!(table.pairs[index]
            .compare_exchange(held, dead, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok());
    }

    #[test]
    fn claims_of_a_dead_process_are_freed_and_reused() {
        let hasher = KeyHasher::random();
        let table = shared_table(16);
        // A claim for key 5 its dead claimer will never resolve: the next
        // insertion of key 5 frees it instead of waiting forever.
        claim_for_the_dead(&table, 0, 5);
        assert!(matches!(
            table.find(exact(&hasher, 5), |_| false),
            Lookup::Inserting
        ));
        table.free_dead_claims(exact(&hasher, 5));
        assert!(matches!(
            table.find(exact(&hasher, 5), |_| false),
            Lookup::Absent(Some(_))
        ));
        // A window of nothing but dead claims of other keys still takes a new key.
        for index in 0..16 {
            claim_for_the_dead(&table, index, 100 + index as u64);
        }
        assert!(matches!(
            table.find(exact(&hasher, 7), |_| false),
            Lookup::Absent(Some(_))
        ));
        put(&table, exact(&hasher, 7), bucket(1));
        // A heap table has one process: its claims are never taken for dead.
        let heap = Table::<crate::keyed::key::Exact>::placed(16, &mut Place::heap()).unwrap();
        for index in 0..16 {
            claim_for_the_dead(&heap, index, 100 + index as u64);
        }
        assert!(matches!(
            heap.find(exact(&hasher, 7), |_| false),
            Lookup::Absent(None)
        ));
    }

    #[test]
    fn a_declined_insertion_frees_its_claim() {
        let hasher = KeyHasher::random();
        let table = Table::<crate::keyed::key::Exact>::placed(4, &mut Place::heap()).unwrap();
        let key = exact(&hasher, 1);
        let Lookup::Absent(Some(vacancy)) = table.find(key, |_| false) else {
            panic!("no vacancy");
        };
        assert!(matches!(
            table.insert(key, vacancy, |_, _| Err::<(StateWord, ()), _>(())),
            Insertion::Declined(())
        ));
        assert_eq!(table.occupied(), 0);
        assert!(matches!(
            table.find(key, |_| false),
            Lookup::Absent(Some(_))
        ));
    }

    #[test]
    fn a_pending_claim_hides_no_live_key_and_marks_an_absent_one() {
        let hasher = KeyHasher::random();
        let table = Table::placed(2, &mut Place::heap()).unwrap();
        let (old, live, new) = (exact(&hasher, 1), exact(&hasher, 7), exact(&hasher, 9));
        assert_eq!(put(&table, old, bucket(0)), 0);
        assert_eq!(put(&table, live, bucket(3)), 1);
        // An inserter of `live` that looked before it was published claims
        // the reclaimable slot 0 ahead of it, and is not scheduled again.
        let vacancy = table.vacancy(table.window(live), |_| true).unwrap();
        assert_eq!(vacancy.index, 0);
        let claim = table.claim(live, vacancy).unwrap();
        assert!(
            matches!(table.find(live, |_| false), Lookup::Found(slot) if slot.index == 1 && slot.word == bucket(3))
        );
        // The claim took `old`'s bucket: one bucket is left, and giving the
        // claim up adds none.
        assert_eq!((table.occupied(), scanned(&table)), (1, 1));
        // A claim of a key live nowhere is an insertion in progress.
        table.give_up(&claim);
        assert_eq!((table.occupied(), scanned(&table)), (1, 1));
        let vacancy = table.vacancy(table.window(new), |_| true).unwrap();
        table.claim(new, vacancy).unwrap();
        assert!(matches!(table.find(new, |_| true), Lookup::Inserting));
    }

    #[test]
    fn a_replace_against_a_reused_slot_fails() {
        let hasher = KeyHasher::random();
        let table = Table::placed(1, &mut Place::heap()).unwrap();
        let (old, new) = (exact(&hasher, 1), exact(&hasher, 2));
        let index = put(&table, old, bucket(0));
        let stale = Slot {
            index,
            word: bucket(0),
        };
        let Lookup::Absent(Some(vacancy)) = table.find(new, |_| true) else {
            panic!("not reclaimable");
        };
        // The new key's bucket has the very bits the old key's check read.
        assert!(matches!(
            table.insert(new, vacancy, |_, _| Ok::<_, ()>((bucket(0), ()))),
            Insertion::Published(())
        ));
        assert_eq!(
            table.replace(old, stale, bucket(9), Ordering::Relaxed),
            Err(None)
        );
        assert!(
            matches!(table.find(new, |_| false), Lookup::Found(slot) if slot.word == bucket(0))
        );
    }
}
