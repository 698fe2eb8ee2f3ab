//! Loom model checks of the in-flight cap: acquires and releases racing on
//! the count word and the slot words; in the shared layout, reclaims of a
//! dead process's permits racing them too.
//!
//! A dead process is modelled by its pid ([`DEAD`], which no process has)
//! in a slot, put there by a thread that stops after its last step, so its
//! steps still race the others' before it "dies".
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test --release --test loom_inflight`
#![cfg(loom)]

use floodgate::{Error, InFlight, Permit, PermitToken};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

#[test]
fn racing_acquires_admit_exactly_the_cap() {
    loom::model(|| {
        let cap = Arc::new(InFlight::builder(1).build().unwrap());
        let other = {
            let cap = cap.clone();
            thread::spawn(move || cap.try_acquire().permit().map(|p| p.into_token()))
        };
        let mine = cap.try_acquire().permit().map(|p| p.into_token());
        let theirs = other.join().unwrap();
        let tokens: Vec<_> = [mine, theirs].into_iter().flatten().collect();
        assert_eq!(tokens.len(), 1);
        assert_eq!(cap.in_flight(), 1);
        assert_eq!(cap.release(tokens[0]), Ok(0));
    });
}

#[test]
fn acquire_and_release_race_without_overflow_or_underflow() {
    loom::model(|| {
        let cap = Arc::new(InFlight::builder(1).build().unwrap());
        let guarded = Arc::new(Guarded(UnsafeCell::new(0)));
        let held = cap.try_acquire().permit().unwrap().into_token();
        let releaser = {
            let cap = cap.clone();
            thread::spawn(move || cap.release(held))
        };
        let acquirers: Vec<_> = (0..2)
            .map(|_| {
                let (cap, guarded) = (cap.clone(), guarded.clone());
                thread::spawn(move || {
                    if let Some(permit) = cap.try_acquire().permit() {
                        // Loom reports a data race here unless the permits
                        // order their holders (semaphore semantics).
                        // SAFETY: the cap of 1 admits one holder at a time.
                        guarded.0.with_mut(|value| unsafe { *value += 1 });
                        drop(permit);
                    }
                })
            })
            .collect();
        // The count it returns may already include a racing acquire.
        assert!(releaser.join().unwrap().is_ok());
        for acquirer in acquirers {
            acquirer.join().unwrap();
        }
        assert_eq!(cap.in_flight(), 0);
    });
}

/// Data only a permit holder touches.
struct Guarded(UnsafeCell<u64>);

// SAFETY: accessed only while holding a permit of a cap of 1.
unsafe impl Sync for Guarded {}

#[test]
fn a_double_release_racing_a_new_acquire_never_frees_the_new_permit() {
    loom::model(|| {
        let cap = Arc::new(InFlight::builder(1).build().unwrap());
        let token = cap.try_acquire().permit().unwrap().into_token();
        assert_eq!(cap.release(token), Ok(0));
        let again = {
            let cap = cap.clone();
            thread::spawn(move || cap.release(token))
        };
        let fresh = cap.try_acquire().permit().unwrap().into_token();
        assert_eq!(again.join().unwrap(), Err(Error::PermitAlreadyReleased));
        assert_eq!(cap.in_flight(), 1);
        assert_eq!(cap.release(fresh), Ok(0));
    });
}

/// A pid no process has: above every kernel's largest (Linux: 2^22), and
/// within the 30 bits a slot records.
const DEAD: u32 = (1 << 30) - 1;

#[test]
fn shared_permits_order_their_holders() {
    loom::model(|| {
        let cap = Arc::new(InFlight::shared_layout_for_model(1));
        let guarded = Arc::new(Guarded(UnsafeCell::new(0)));
        let held = cap.try_acquire().permit().unwrap().into_token();
        let releaser = {
            let (cap, guarded) = (cap.clone(), guarded.clone());
            thread::spawn(move || {
                // SAFETY: this thread holds the cap's one permit.
                guarded.0.with_mut(|value| unsafe { *value += 1 });
                cap.release(held)
            })
        };
        if let Some(permit) = cap.try_acquire().permit() {
            // Loom reports a data race here unless the slot's Release
            // (`free`) and Acquire (claim) order the two holders.
            // SAFETY: the cap of 1 admits one holder at a time.
            guarded.0.with_mut(|value| unsafe { *value += 1 });
            drop(permit);
        }
        assert_eq!(releaser.join().unwrap(), Ok(0));
        assert_eq!(cap.in_flight(), 0);
    });
}

#[test]
fn a_dead_holders_permit_goes_to_exactly_one_acquirer() {
    loom::model(|| {
        let cap = Arc::new(InFlight::shared_layout_for_model(1));
        let dead = cap.try_acquire_as(DEAD).unwrap();
        let other = {
            let cap = cap.clone();
            thread::spawn(move || cap.try_acquire().permit().map(Permit::into_token))
        };
        let mine = cap.try_acquire().permit().map(Permit::into_token);
        let theirs = other.join().unwrap();
        let tokens: Vec<_> = [mine, theirs].into_iter().flatten().collect();
        assert_eq!(tokens.len(), 1);
        assert_eq!(cap.in_flight(), 1);
        assert_eq!(cap.release(dead), Err(Error::PermitAlreadyReleased));
        assert_eq!(cap.release(tokens[0]), Ok(0));
    });
}

#[test]
fn a_dying_release_races_a_reclaim_and_a_live_release() {
    loom::model(|| {
        let cap = Arc::new(InFlight::shared_layout_for_model(2));
        let dead = cap.try_acquire_as(DEAD).unwrap();
        let live = cap.try_acquire().permit().unwrap().into_token();
        let dying = {
            let cap = cap.clone();
            thread::spawn(move || cap.die_releasing_as(DEAD, dead))
        };
        let releaser = {
            let cap = cap.clone();
            thread::spawn(move || cap.release(live))
        };
        let mine = cap.try_acquire().permit().map(Permit::into_token);
        // Its release began, or a reclaim took the permit first: once.
        let began = dying.join().unwrap();
        assert!(matches!(began, Ok(()) | Err(Error::PermitAlreadyReleased)));
        assert!(releaser.join().unwrap().is_ok());
        if let Some(mine) = mine {
            assert!(cap.release(mine).is_ok());
            assert_eq!(cap.release(mine), Err(Error::PermitAlreadyReleased));
        }
        assert_everything_comes_back(&cap);
    });
}

#[test]
fn a_claim_cut_short_before_its_mark_races_an_acquire_and_a_release() {
    loom::model(|| {
        let cap = Arc::new(InFlight::shared_layout_for_model(2));
        let live = cap.try_acquire().permit().unwrap().into_token();
        let dying = {
            let cap = cap.clone();
            thread::spawn(move || cap.die_claiming_as(DEAD))
        };
        let releaser = {
            let cap = cap.clone();
            thread::spawn(move || cap.release(live))
        };
        let mine = cap.try_acquire().permit().map(Permit::into_token);
        dying.join().unwrap();
        assert!(releaser.join().unwrap().is_ok());
        if let Some(mine) = mine {
            assert!(cap.release(mine).is_ok());
        }
        assert_everything_comes_back(&cap);
    });
}

/// Every permit of `cap` (none held by a live holder) can be taken, within
/// one round of the reclaim cursor, and given back, leaving none counted.
fn assert_everything_comes_back(cap: &InFlight) {
    let limit = cap.limit();
    let taken: Vec<PermitToken> = (0..2 * limit)
        .filter_map(|_| cap.try_acquire().permit().map(Permit::into_token))
        .collect();
    assert_eq!(taken.len() as u64, limit);
    assert_eq!(cap.in_flight(), limit);
    for token in taken {
        assert!(cap.release(token).is_ok());
    }
    assert_eq!(cap.in_flight(), 0);
}
