//! [`InFlight`]: a lock-free cap on how many requests run at once.
//!
//! # In one process
//!
//! Two kinds of atomic word:
//!
//! * the **count** of permits out (reserved or held), at most `max`; a CAS on
//!   it is the whole admission decision, so a full cap answers in one load;
//! * one **slot** per unit of capacity, recording which permit holds it:
//!
//! ```text
//!  63      34   33         32              1    0
//! [ holder  | releasing | sequence: 32 bits | held ]
//! ```
//!
//! (`holder` and `releasing` are for shared caps, below; 0 here.)
//!
//! An admitted acquire claims a free slot, bumping its sequence; the permit
//! remembers (slot, sequence). Releasing CASes exactly that (slot, sequence,
//! held) back to free, so a second release of the same permit, or of a
//! forged one, finds the slot free or re-sequenced and fails with a typed
//! error instead of freeing someone else's capacity. A token also names its
//! cap by a process-unique id, so a token given to another cap is refused.
//! The sequence wraps after 2^32 claims of one slot: a token released twice
//! with exactly a multiple of 2^32 claims of its slot in between is the only
//! double release that goes unnoticed.
//!
//! Invariant: held slots + reservations still looking for a slot <= count
//! <= max. A release frees its slot before it decrements the count, so an
//! acquirer holding a reservation always has a free slot to find.
//!
//! # Shared by processes
//!
//! A process can be killed between any two instructions, and a count kept
//! apart from the slots would then be off for good (a reservation made but
//! no slot claimed; a slot freed but the count not lowered). So a shared
//! cap has no count: its slots are the permits (`shared.rs`), each claimed
//! by one CAS that records the holder's process id, and each held permit
//! comes back exactly once, released by its holder or, if that process has
//! died, reclaimed by an acquirer that found the cap full.
//!
//! Liveness is by **process id**, not by lease: a permit is held for as
//! long as its request runs, which no deadline can bound. The limit of a
//! pid: once the kernel gives a dead process's id to a new process, its
//! permits wait until that process exits too. That delays their return; it
//! never frees a permit twice, nor one whose holder lives.

pub(crate) mod keyed;
mod shared;

use crate::core::alloc::Place;
use crate::core::error::{Error, Result};
use crate::shm::header::{Description, Kind, Limits};
use crate::shm::{process, segment, SharedMemory};
use crate::sync::{AtomicU64, Backoff, Ordering};
use crossbeam_utils::CachePadded;
use shared::SharedCaps;
use std::fmt;

/// The largest cap an [`InFlight`] takes (it keeps 8 bytes per unit).
pub const MAX_IN_FLIGHT: u64 = 1 << 20;

const HELD_BIT: u64 = 1;
const SEQUENCE_SHIFT: u32 = 1;
const SEQUENCE_MASK: u64 = u32::MAX as u64;
const RELEASING_BIT: u64 = 1 << 33;
const HOLDER_SHIFT: u32 = 34;
/// The largest process id a slot records (30 bits); every Unix keeps ids
/// far below (Linux at most 2^22).
const MAX_HOLDER: u32 = (1 << 30) - 1;
/// Where a ticket keeps the slot index, above the sequence.
const SLOT_SHIFT: u32 = 32;

/// Process-unique ids for caps, so a token can name the cap it came from.
/// A plain std atomic: it hands out ids and takes part in no protocol that
/// loom checks.
static NEXT_OWNER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// One slot's packed state. See the module docs for the layout.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct SlotWord(u64);

impl SlotWord {
    const FREE: SlotWord = SlotWord(0);

    fn held(self) -> bool {
        self.0 & HELD_BIT != 0
    }

    fn sequence(self) -> u32 {
        ((self.0 >> SEQUENCE_SHIFT) & SEQUENCE_MASK) as u32
    }

    /// Held, and being given back (shared caps only).
    fn releasing(self) -> bool {
        self.0 & RELEASING_BIT != 0
    }

    /// The process holding (or releasing) the slot; 0 in one process.
    fn holder(self) -> u32 {
        (self.0 >> HOLDER_SHIFT) as u32
    }

    fn holding(sequence: u32) -> Self {
        Self::held_by(sequence, 0)
    }

    fn held_by(sequence: u32, holder: u32) -> Self {
        debug_assert!(holder <= MAX_HOLDER);
        Self(u64::from(holder) << HOLDER_SHIFT | u64::from(sequence) << SEQUENCE_SHIFT | HELD_BIT)
    }

    fn releasing_by(sequence: u32, releaser: u32) -> Self {
        Self(Self::held_by(sequence, releaser).0 | RELEASING_BIT)
    }

    fn released(sequence: u32) -> Self {
        Self(u64::from(sequence) << SEQUENCE_SHIFT)
    }
}

/// A lock-free cap of `max` requests in flight at once (GenieOS: 4 batch
/// calls per workspace).
///
/// Rust code holds a [`Permit`], which releases on drop. Code across an FFI
/// boundary turns it into a [`PermitToken`] and hands that back to
/// [`release`](Self::release), where a double or foreign release is an
/// error, never a corrupted count.
///
/// Built only by [`InFlight::builder`]: no kind in this crate has `new` or
/// another constructor.
///
/// ```
/// use floodgate::InFlight;
///
/// let batch = InFlight::builder(4).build()?;
/// let permits: Vec<_> = (0..4).map(|_| batch.try_acquire().permit().unwrap()).collect();
/// let full = batch.try_acquire().refusal().unwrap();
/// assert_eq!((full.in_flight(), full.limit()), (4, 4));
/// drop(permits);
/// assert_eq!(batch.in_flight(), 0);
/// # Ok::<(), floodgate::Error>(())
/// ```
pub struct InFlight {
    permits: Permits,
}

/// Where the permits are kept, and so which protocol takes them.
enum Permits {
    /// In this process: a count and slots (the module docs, "In one
    /// process"); `owner` names the cap in tokens.
    Local {
        count: CachePadded<AtomicU64>,
        slots: Box<[AtomicU64]>,
        owner: u64,
    },
    /// Laid out for a segment every process maps (`shared.rs`): one cap.
    Shared(SharedCaps),
}

/// Admission to an [`InFlight`] cap; gives its unit back when dropped.
///
/// ```
/// let cap = floodgate::InFlight::builder(2).build()?;
/// let permit = cap.try_acquire().permit().unwrap();
/// assert_eq!((permit.in_flight(), permit.remaining()), (1, 1));
/// drop(permit);
/// assert_eq!(cap.in_flight(), 0);
/// # Ok::<(), floodgate::Error>(())
/// ```
#[must_use = "the permit is released as soon as it is dropped"]
pub struct Permit<'a> {
    cap: Cap<'a>,
    token: PermitToken,
    in_flight: u64,
}

/// The cap a permit goes back to.
#[derive(Clone, Copy)]
enum Cap<'a> {
    Local(&'a InFlight),
    /// Cap `index` of shared caps.
    Shared {
        caps: &'a SharedCaps,
        index: usize,
    },
}

/// A permit detached from Rust ownership, for callers that release
/// explicitly (C, Python, Node). Two plain integers, so it crosses any FFI.
///
/// ```
/// use floodgate::{Error, InFlight, PermitToken};
///
/// let cap = InFlight::builder(1).build()?;
/// let token = cap.try_acquire().permit().unwrap().into_token();
/// let (owner, ticket) = (token.owner(), token.ticket()); // hand these to C
/// let token = PermitToken::from_parts(owner, ticket);
/// assert_eq!(cap.release(token), Ok(0));
/// assert_eq!(cap.release(token), Err(Error::PermitAlreadyReleased));
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PermitToken {
    owner: u64,
    ticket: u64,
}

/// Why [`InFlight::try_acquire`] refused: the cap was full
/// ([`Acquisition::Refused`]).
///
/// ```
/// let cap = floodgate::InFlight::builder(1).build()?;
/// let _held = cap.try_acquire().permit().unwrap();
/// let full = cap.try_acquire().refusal().unwrap();
/// assert_eq!(full.to_string(), "1 of 1 in flight");
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct AtCapacity {
    in_flight: u64,
    limit: u64,
}

/// What [`InFlight::try_acquire`] (and, per key,
/// [`KeyedInFlight::try_acquire`](crate::KeyedInFlight::try_acquire))
/// answers: a permit, or the refusal of a full cap as data, never as an
/// error.
///
/// ```
/// use floodgate::{Acquisition, InFlight};
///
/// let cap = InFlight::builder(1).build()?;
/// let held = cap.try_acquire().permit().expect("an empty cap admits");
/// match cap.try_acquire() {
///     Acquisition::Granted(_) => unreachable!("the cap is full"),
///     Acquisition::Refused(full) => assert_eq!((full.in_flight(), full.limit()), (1, 1)),
/// }
/// drop(held);
/// assert!(cap.try_acquire().is_granted());
/// # Ok::<(), floodgate::Error>(())
/// ```
#[must_use = "a granted permit is released as soon as it is dropped"]
#[derive(Debug)]
pub enum Acquisition<'a> {
    /// Admitted: the permit holds one unit until dropped (or released by token).
    Granted(Permit<'a>),
    /// The cap was full.
    Refused(AtCapacity),
}

impl<'a> Acquisition<'a> {
    /// The permit, if granted.
    pub fn permit(self) -> Option<Permit<'a>> {
        match self {
            Acquisition::Granted(permit) => Some(permit),
            Acquisition::Refused(_) => None,
        }
    }

    /// The refusal, if the cap was full.
    pub fn refusal(&self) -> Option<AtCapacity> {
        match self {
            Acquisition::Granted(_) => None,
            Acquisition::Refused(full) => Some(*full),
        }
    }

    /// Whether a permit was granted.
    pub fn is_granted(&self) -> bool {
        matches!(self, Acquisition::Granted(_))
    }
}

/// Configures an [`InFlight`] cap; start with [`InFlight::builder`]. A cap
/// reads no clock, so this builder has no `clock`.
///
/// ```
/// let batch = floodgate::InFlight::builder(4).build()?;
/// assert_eq!(batch.limit(), 4);
/// # Ok::<(), floodgate::Error>(())
/// ```
#[must_use]
#[derive(Clone, Copy, Debug)]
pub struct InFlightBuilder {
    max: u64,
}

/// An [`InFlightBuilder`] whose permits go to a shared segment
/// ([`InFlightBuilder::shared`]).
#[must_use]
#[derive(Clone, Debug)]
pub struct SharedInFlightBuilder {
    max: u64,
    shared: SharedMemory,
}

impl InFlight {
    /// A builder for a cap of `max` concurrent permits, none out.
    ///
    /// This builder is the only way to make a cap, as for every kind in
    /// this crate.
    pub fn builder(max: u64) -> InFlightBuilder {
        InFlightBuilder { max }
    }

    /// A cap of `max`, already passed by [`validate_max`].
    pub(crate) fn validated(max: u64) -> Self {
        debug_assert!(validate_max(max).is_ok());
        // Relaxed: uniqueness is all an id needs.
        let owner = NEXT_OWNER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            permits: Permits::Local {
                count: CachePadded::new(AtomicU64::new(0)),
                slots: (0..max).map(|_| AtomicU64::new(SlotWord::FREE.0)).collect(),
                owner,
            },
        }
    }

    /// A cap of `max` (already validated) laid out for a segment, in
    /// `place`; `owner` names it in tokens, alike in every process.
    fn placed(max: u64, owner: u64, place: &mut Place) -> Result<Self> {
        debug_assert!(validate_max(max).is_ok() && place.is_shared());
        Ok(Self {
            permits: Permits::Shared(SharedCaps::placed(1, max, owner, place)?),
        })
    }

    /// Whether the permits live in a shared segment, taken and given back
    /// by every process that built this cap on it.
    ///
    /// ```
    /// assert!(!floodgate::InFlight::builder(4).build()?.is_shared());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn is_shared(&self) -> bool {
        match &self.permits {
            Permits::Local { .. } => false,
            Permits::Shared(shared) => shared.is_shared(),
        }
    }

    /// The cap.
    ///
    /// ```
    /// assert_eq!(floodgate::InFlight::builder(4).build()?.limit(), 4);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn limit(&self) -> u64 {
        match &self.permits {
            Permits::Local { slots, .. } => slots.len() as u64,
            Permits::Shared(caps) => caps.max(),
        }
    }

    /// Permits out right now (a snapshot: other threads move it). In a
    /// shared cap, a permit being taken or given back at that instant may
    /// be left out.
    ///
    /// ```
    /// let cap = floodgate::InFlight::builder(4).build()?;
    /// let _permit = cap.try_acquire().permit().unwrap();
    /// assert_eq!(cap.in_flight(), 1);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn in_flight(&self) -> u64 {
        match &self.permits {
            // Relaxed: a snapshot for reporting, ordering nothing.
            Permits::Local { count, .. } => count.load(Ordering::Relaxed),
            Permits::Shared(caps) => caps.cap(0).in_flight(),
        }
    }

    /// Takes a permit if fewer than [`limit`](Self::limit) are out.
    ///
    /// Work done under a released permit happens before work under a permit
    /// acquired after it (semaphore semantics); in a shared cap, under the
    /// permit that next takes its slot (with a `max` of 1, every next one).
    ///
    /// ```
    /// let cap = floodgate::InFlight::builder(1).build()?;
    /// let permit = cap.try_acquire().permit().expect("empty cap");
    /// assert!(!cap.try_acquire().is_granted());
    /// drop(permit);
    /// assert!(cap.try_acquire().is_granted());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn try_acquire(&self) -> Acquisition<'_> {
        match &self.permits {
            Permits::Local {
                count,
                slots,
                owner,
            } => self.acquire_local(count, slots, *owner),
            Permits::Shared(caps) => acquire_shared(caps, 0, process::id()),
        }
    }

    #[inline]
    fn acquire_local(&self, count: &AtomicU64, slots: &[AtomicU64], owner: u64) -> Acquisition<'_> {
        let limit = slots.len() as u64;
        let backoff = Backoff::new();
        // Relaxed: only the successful CAS below needs to synchronise.
        let mut out = count.load(Ordering::Relaxed);
        loop {
            if out >= limit {
                return Acquisition::Refused(AtCapacity {
                    in_flight: out,
                    limit,
                });
            }
            // Acquire on success: pairs with the Release in `release_local`
            // (semaphore semantics). Relaxed on failure: we only retry.
            match count.compare_exchange_weak(out, out + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => break,
                Err(actual) => {
                    out = actual;
                    backoff.spin();
                }
            }
        }
        let (index, sequence) = claim_slot(slots, out);
        Acquisition::Granted(Permit {
            cap: Cap::Local(self),
            token: PermitToken::of(owner, index, sequence),
            in_flight: out + 1,
        })
    }

    /// Gives back the permit `token` stands for; returns the permits out
    /// afterwards. A token already released, or from another cap, is refused
    /// and changes nothing. A shared cap's permit is given back by the
    /// process that took it: from another, [`Error::ForeignPermit`].
    ///
    /// ```
    /// use floodgate::{Error, InFlight};
    /// let (a, b) = (InFlight::builder(2).build()?, InFlight::builder(2).build()?);
    /// let token = a.try_acquire().permit().unwrap().into_token();
    /// assert_eq!(b.release(token), Err(Error::ForeignPermit));
    /// assert_eq!(a.release(token), Ok(0));
    /// assert_eq!(a.release(token), Err(Error::PermitAlreadyReleased));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn release(&self, token: PermitToken) -> Result<u64> {
        match &self.permits {
            Permits::Local { slots, owner, .. } => {
                if token.owner != *owner || token.slot() >= slots.len() as u64 {
                    return Err(Error::ForeignPermit);
                }
                self.release_local(token)
            }
            Permits::Shared(caps) => release_shared(caps, 0, token),
        }
    }

    /// Releases a local cap's slot of a token whose owner and slot were
    /// checked.
    fn release_local(&self, token: PermitToken) -> Result<u64> {
        let Permits::Local { count, slots, .. } = &self.permits else {
            unreachable!("a local cap's token")
        };
        let slot = &slots[token.slot() as usize];
        let sequence = token.sequence();
        // Relaxed: the CAS alone decides which release wins; the count's
        // Release below publishes the holder's work.
        slot.compare_exchange(
            SlotWord::holding(sequence).0,
            SlotWord::released(sequence).0,
            Ordering::Relaxed,
            Ordering::Relaxed,
        )
        .map_err(|_| Error::PermitAlreadyReleased)?;
        // Release: pairs with the Acquire in `acquire_local`. The slot was
        // freed first, keeping held slots <= count.
        Ok(count.fetch_sub(1, Ordering::Release) - 1)
    }

    /// Model checking only: a cap laid out as in a segment, on the heap.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn shared_layout_for_model(max: u64) -> Self {
        validate_max(max).unwrap();
        Self::placed(max, 1 << 63, &mut Place::measure()).unwrap()
    }

    /// Model checking only: [`try_acquire`](Self::try_acquire) of a shared
    /// layout as the process `pid`.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn try_acquire_as(&self, pid: u32) -> Option<PermitToken> {
        let Permits::Shared(caps) = &self.permits else {
            unreachable!("only a shared layout records processes")
        };
        acquire_shared(caps, 0, pid)
            .permit()
            .map(Permit::into_token)
    }

    /// Model checking only: the claim of a slot in a shared layout by the
    /// process `pid`, which dies before it marks the slot held.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn die_claiming_as(&self, pid: u32) -> bool {
        let Permits::Shared(caps) = &self.permits else {
            unreachable!("only a shared layout records processes")
        };
        caps.cap(0).die_claiming_as(pid).is_some()
    }

    /// Model checking only: the first step of [`release`](Self::release) of
    /// a shared layout as the process `pid`, which then dies.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn die_releasing_as(&self, pid: u32, token: PermitToken) -> Result<()> {
        let Permits::Shared(caps) = &self.permits else {
            unreachable!("only a shared layout records processes")
        };
        caps.cap(0)
            .begin_release(token.slot() as usize, token.sequence(), pid)
    }
}

/// [`Error::SharedUnsupported`] on a system whose process ids do not fit
/// in a slot (none known: Linux's stay below 2^22).
fn check_holder_fits() -> Result<()> {
    if process::id() > MAX_HOLDER {
        return Err(Error::SharedUnsupported);
    }
    Ok(())
}

/// Every process names shared caps alike in tokens, from the segment's
/// secret: the top bit keeps the name apart from a local cap's counter,
/// the low half is left for a cap's index.
fn shared_owner(secret: [u64; 4]) -> u64 {
    (secret[0] | 1 << 63) & !u64::from(u32::MAX)
}

/// A permit of cap `index` of `caps` for the process `holder`.
fn acquire_shared(caps: &SharedCaps, index: usize, holder: u32) -> Acquisition<'_> {
    let cap = caps.cap(index);
    let Some((slot, sequence)) = cap.acquire(holder) else {
        return Acquisition::Refused(AtCapacity {
            in_flight: cap.in_flight(),
            limit: caps.max(),
        });
    };
    Acquisition::Granted(Permit {
        cap: Cap::Shared { caps, index },
        token: PermitToken::of(caps.owner(index), slot, sequence),
        in_flight: cap.in_flight(),
    })
}

/// Gives back `token`'s permit of cap `index` of `caps`: refused if it is
/// not one of that cap's, or not held by this process.
fn release_shared(caps: &SharedCaps, index: usize, token: PermitToken) -> Result<u64> {
    if token.owner != caps.owner(index) || token.slot() >= caps.max() {
        return Err(Error::ForeignPermit);
    }
    let cap = caps.cap(index);
    cap.release(token.slot() as usize, token.sequence(), process::id())?;
    Ok(cap.in_flight())
}

/// Claims a free slot for a reservation already counted; `hint` is where
/// to start looking (slots below the count are likely held).
fn claim_slot(slots: &[AtomicU64], hint: u64) -> (usize, u32) {
    let len = slots.len();
    // hint < limit <= MAX_IN_FLIGHT, so it fits in usize.
    let start = hint as usize % len;
    let backoff = Backoff::new();
    loop {
        for index in (start..len).chain(0..start) {
            let slot = &slots[index];
            // Relaxed: each slot is its own word; the count carries the
            // happens-before between holders.
            let seen = SlotWord(slot.load(Ordering::Relaxed));
            if seen.held() {
                continue;
            }
            // Sequences are modular on purpose (see the module docs).
            let sequence = seen.sequence().wrapping_add(1);
            let claimed = SlotWord::holding(sequence);
            // Relaxed: as above; the CAS alone makes the claim exclusive.
            if slot
                .compare_exchange(seen.0, claimed.0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                return (index, sequence);
            }
        }
        // Every slot looked held: a release is between freeing its slot
        // and our load seeing it. The reservation guarantees one is free.
        backoff.spin();
        #[cfg(loom)]
        loom::thread::yield_now();
    }
}

impl InFlightBuilder {
    /// The cap, or [`Error::ZeroLimit`] / [`Error::LimitTooLarge`].
    ///
    /// ```
    /// use floodgate::{Error, InFlight, MAX_IN_FLIGHT};
    /// assert!(InFlight::builder(4).build().is_ok());
    /// assert_eq!(InFlight::builder(0).build().err(), Some(Error::ZeroLimit));
    /// assert_eq!(InFlight::builder(MAX_IN_FLIGHT + 1).build().err(), Some(Error::LimitTooLarge));
    /// ```
    pub fn build(self) -> Result<InFlight> {
        validate_max(self.max)?;
        Ok(InFlight::validated(self.max))
    }

    /// Keeps the cap's permits in the segment `shared`, so that every
    /// process building this cap with it shares one `max` (see
    /// [`SharedMemory`]). A permit held by a process that dies comes back:
    /// an acquire that finds the cap full also checks the process holding
    /// one permit (each in turn) and, if it is gone, frees its permit, so
    /// every dead holder's permits return within `max` such acquires.
    /// A held permit belongs to the process that took it: a forked child's
    /// copy releases nothing.
    ///
    /// ```
    /// use floodgate::{InFlight, SharedMemory};
    /// let shared = SharedMemory::named(&format!("doc-inflight-{}", std::process::id()))?;
    /// let (worker_one, worker_two) = (
    ///     InFlight::builder(2).shared(shared.clone()).build()?,
    ///     InFlight::builder(2).shared(shared.clone()).build()?,
    /// );
    /// let _held = (worker_one.try_acquire().permit(), worker_one.try_acquire().permit());
    /// assert!(worker_two.is_shared() && !worker_two.try_acquire().is_granted());
    /// # shared.remove()?;
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn shared(self, shared: SharedMemory) -> SharedInFlightBuilder {
        SharedInFlightBuilder {
            max: self.max,
            shared,
        }
    }
}

impl SharedInFlightBuilder {
    /// The cap, its permits in the segment: created there by the first
    /// process, found by the others. Besides the errors of
    /// [`InFlightBuilder::build`], the segment's: a segment built with
    /// another max is [`Error::SegmentMismatch`] on the field `"capacity"`.
    ///
    /// ```
    /// use floodgate::{Error, InFlight, SharedMemory};
    /// let shared = SharedMemory::named(&format!("doc-inflight-max-{}", std::process::id()))?;
    /// let _four = InFlight::builder(4).shared(shared.clone()).build()?;
    /// let Err(Error::SegmentMismatch(mismatch)) = InFlight::builder(8).shared(shared.clone()).build()
    /// else {
    ///     panic!("a second max on one segment")
    /// };
    /// assert_eq!((mismatch.field(), mismatch.in_segment(), mismatch.requested()), ("capacity", 4, 8));
    /// # shared.remove()?;
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn build(self) -> Result<InFlight> {
        validate_max(self.max)?;
        check_holder_fits()?;
        let max = self.max;
        let description = Description {
            kind: Kind::InFlight as u64,
            // A cap limits no rate: only its kind and max can differ.
            limits: Limits::Unlimited,
            capacity: max,
            options: 0,
        };
        segment::open(
            &self.shared,
            &description,
            |place| InFlight::placed(max, 0, place).map(drop),
            |place, secret| InFlight::placed(max, shared_owner(secret), place),
        )
    }
}

/// The one check of a cap's `max`, for every table of caps too.
pub(crate) fn validate_max(max: u64) -> Result<()> {
    if max == 0 {
        return Err(Error::ZeroLimit);
    }
    if max > MAX_IN_FLIGHT {
        return Err(Error::LimitTooLarge);
    }
    Ok(())
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight")
            .field("in_flight", &self.in_flight())
            .field("limit", &self.limit())
            .finish_non_exhaustive()
    }
}

impl Permit<'_> {
    /// Permits out just after this one was taken, this one included.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// The cap's limit.
    pub fn limit(&self) -> u64 {
        match self.cap {
            Cap::Local(cap) => cap.limit(),
            Cap::Shared { caps, .. } => caps.max(),
        }
    }

    /// Permits that could still be taken just after this one was.
    pub fn remaining(&self) -> u64 {
        self.limit() - self.in_flight
    }

    /// Detaches the permit from Rust ownership: it stays held until the
    /// token is passed to [`InFlight::release`].
    ///
    /// ```
    /// let cap = floodgate::InFlight::builder(1).build()?;
    /// let token = cap.try_acquire().permit().unwrap().into_token();
    /// assert_eq!(cap.in_flight(), 1); // still held
    /// cap.release(token)?;
    /// assert_eq!(cap.in_flight(), 0);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn into_token(self) -> PermitToken {
        let token = self.token;
        // The token now owns the unit; the drop must not release it.
        std::mem::forget(self);
        token
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // A live Permit is the only owner of its token, so this cannot find
        // the slot free. `ForeignPermit`: a forked child's copy of its
        // parent's permit in a shared cap, which stays the parent's.
        let released = match self.cap {
            Cap::Local(cap) => cap.release_local(self.token),
            Cap::Shared { caps, index } => release_shared(caps, index, self.token),
        };
        debug_assert!(
            released != Err(Error::PermitAlreadyReleased),
            "a live permit's slot was not held"
        );
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("in_flight", &self.in_flight)
            .field("limit", &self.limit())
            .finish()
    }
}

impl PermitToken {
    fn of(owner: u64, slot: usize, sequence: u32) -> Self {
        Self {
            owner,
            ticket: (slot as u64) << SLOT_SHIFT | u64::from(sequence),
        }
    }

    /// The slot the ticket names (not yet checked against a cap).
    fn slot(&self) -> u64 {
        self.ticket >> SLOT_SHIFT
    }

    fn sequence(&self) -> u32 {
        (self.ticket & SEQUENCE_MASK) as u32
    }

    /// Rebuilds a token from [`owner`](Self::owner) and [`ticket`](Self::ticket)
    /// (say, after a round trip through C). A made-up pair is refused by
    /// [`InFlight::release`], never mistaken for a live permit of another cap.
    ///
    /// ```
    /// use floodgate::{Error, InFlight, PermitToken};
    /// let cap = InFlight::builder(1).build()?;
    /// assert_eq!(cap.release(PermitToken::from_parts(0, 0)), Err(Error::ForeignPermit));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn from_parts(owner: u64, ticket: u64) -> Self {
        Self { owner, ticket }
    }

    /// The process-unique id of the cap the permit came from.
    pub fn owner(&self) -> u64 {
        self.owner
    }

    /// Which slot of the cap, and which claim of it, the permit is.
    pub fn ticket(&self) -> u64 {
        self.ticket
    }
}

impl AtCapacity {
    /// The refusal of a cap of `limit` with `in_flight` permits out.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn new(in_flight: u64, limit: u64) -> Self {
        Self { in_flight, limit }
    }

    /// Permits out when the acquire was refused.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// The cap's limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

impl fmt::Display for AtCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} in flight", self.in_flight, self.limit)
    }
}

impl std::error::Error for AtCapacity {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_word_round_trips() {
        let held = SlotWord::holding(u32::MAX);
        assert!(held.held());
        assert_eq!(held.sequence(), u32::MAX);
        let free = SlotWord::released(7);
        assert!(!free.held());
        assert_eq!(free.sequence(), 7);
    }

    #[test]
    fn a_reused_slot_refuses_the_old_token() {
        let cap = InFlight::builder(1).build().unwrap();
        let old = cap.try_acquire().permit().unwrap().into_token();
        cap.release(old).unwrap();
        let new = cap.try_acquire().permit().unwrap().into_token();
        assert_eq!(old.ticket >> SLOT_SHIFT, new.ticket >> SLOT_SHIFT);
        assert_eq!(cap.release(old), Err(Error::PermitAlreadyReleased));
        assert_eq!(cap.in_flight(), 1);
        assert_eq!(cap.release(new), Ok(0));
    }

    #[test]
    fn a_slot_beyond_the_cap_is_foreign() {
        let cap = InFlight::builder(2).build().unwrap();
        let owner = cap.try_acquire().permit().unwrap().into_token().owner;
        let forged = PermitToken::from_parts(owner, 5 << SLOT_SHIFT);
        assert_eq!(cap.release(forged), Err(Error::ForeignPermit));
    }
}
