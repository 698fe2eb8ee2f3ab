//! [`InFlight`]: a lock-free cap on how many requests run at once.
//!
//! Two kinds of atomic word:
//!
//! * the **count** of permits out (reserved or held), at most `max`; a CAS on
//!   it is the whole admission decision, so a full cap answers in one load;
//! * one **slot** per unit of capacity, recording which permit holds it:
//!
//! ```text
//!  63         33 32              1    0
//! [   unused   | sequence: 32 bits | held ]
//! ```
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

pub(crate) mod keyed;

use crate::core::error::{Error, Result};
use crate::sync::{AtomicU64, Backoff, Ordering};
use crossbeam_utils::CachePadded;
use std::fmt;

/// The largest cap an [`InFlight`] takes (it keeps 8 bytes per unit).
pub const MAX_IN_FLIGHT: u64 = 1 << 20;

const HELD_BIT: u64 = 1;
const SEQUENCE_SHIFT: u32 = 1;
const SEQUENCE_MASK: u64 = u32::MAX as u64;
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

    fn holding(sequence: u32) -> Self {
        Self(u64::from(sequence) << SEQUENCE_SHIFT | HELD_BIT)
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
    count: CachePadded<AtomicU64>,
    slots: Box<[AtomicU64]>,
    owner: u64,
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
    cap: &'a InFlight,
    token: PermitToken,
    in_flight: u64,
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
            count: CachePadded::new(AtomicU64::new(0)),
            slots: (0..max).map(|_| AtomicU64::new(SlotWord::FREE.0)).collect(),
            owner,
        }
    }

    /// The cap.
    ///
    /// ```
    /// assert_eq!(floodgate::InFlight::builder(4).build()?.limit(), 4);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn limit(&self) -> u64 {
        self.slots.len() as u64
    }

    /// Permits out right now (a snapshot: other threads move it).
    ///
    /// ```
    /// let cap = floodgate::InFlight::builder(4).build()?;
    /// let _permit = cap.try_acquire().permit().unwrap();
    /// assert_eq!(cap.in_flight(), 1);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn in_flight(&self) -> u64 {
        // Relaxed: a snapshot for reporting, ordering nothing.
        self.count.load(Ordering::Relaxed)
    }

    /// Takes a permit if fewer than [`limit`](Self::limit) are out.
    ///
    /// Work done under a released permit happens before work under a permit
    /// acquired after it (semaphore semantics).
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
        let limit = self.limit();
        let backoff = Backoff::new();
        // Relaxed: only the successful CAS below needs to synchronise.
        let mut out = self.count.load(Ordering::Relaxed);
        loop {
            if out >= limit {
                return Acquisition::Refused(AtCapacity {
                    in_flight: out,
                    limit,
                });
            }
            // Acquire on success: pairs with the Release in `release_slot`
            // (semaphore semantics). Relaxed on failure: we only retry.
            match self.count.compare_exchange_weak(
                out,
                out + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => {
                    out = actual;
                    backoff.spin();
                }
            }
        }
        let token = self.claim_slot(out);
        Acquisition::Granted(Permit {
            cap: self,
            token,
            in_flight: out + 1,
        })
    }

    /// Gives back the permit `token` stands for; returns the permits out
    /// afterwards. A token already released, or from another cap, is refused
    /// and changes nothing.
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
        if token.owner != self.owner {
            return Err(Error::ForeignPermit);
        }
        let slot = token.ticket >> SLOT_SHIFT;
        if slot >= self.limit() {
            return Err(Error::ForeignPermit);
        }
        self.release_slot(token)
    }

    /// Claims a free slot for a reservation already counted; `hint` is where
    /// to start looking (slots below the count are likely held).
    fn claim_slot(&self, hint: u64) -> PermitToken {
        let slots = self.slots.len();
        // hint < limit <= MAX_IN_FLIGHT, so it fits in usize.
        let start = hint as usize % slots;
        let backoff = Backoff::new();
        loop {
            for index in (start..slots).chain(0..start) {
                let slot = &self.slots[index];
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
                    return PermitToken {
                        owner: self.owner,
                        ticket: (index as u64) << SLOT_SHIFT | u64::from(sequence),
                    };
                }
            }
            // Every slot looked held: a release is between freeing its slot
            // and our load seeing it. The reservation guarantees one is free.
            backoff.spin();
            #[cfg(loom)]
            loom::thread::yield_now();
        }
    }

    fn release_slot(&self, token: PermitToken) -> Result<u64> {
        // The slot index was checked against the limit by every caller.
        let slot = &self.slots[(token.ticket >> SLOT_SHIFT) as usize];
        let sequence = (token.ticket & SEQUENCE_MASK) as u32;
        // Relaxed: the CAS alone decides which release wins; the count's
        // Release below publishes the holder's work.
        slot.compare_exchange(
            SlotWord::holding(sequence).0,
            SlotWord::released(sequence).0,
            Ordering::Relaxed,
            Ordering::Relaxed,
        )
        .map_err(|_| Error::PermitAlreadyReleased)?;
        // Release: pairs with the Acquire in `try_acquire`. The slot was
        // freed first, keeping held slots <= count.
        Ok(self.count.fetch_sub(1, Ordering::Release) - 1)
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
        self.cap.limit()
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
        // A live Permit is the only owner of its token: this cannot fail.
        let released = self.cap.release_slot(self.token);
        debug_assert!(released.is_ok(), "a live permit's slot was not held");
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
        let forged = PermitToken::from_parts(cap.owner, 5 << SLOT_SHIFT);
        assert_eq!(cap.release(forged), Err(Error::ForeignPermit));
    }
}
