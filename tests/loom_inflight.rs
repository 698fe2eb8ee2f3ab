//! Loom model checks of the in-flight cap: acquires and releases racing on
//! the count word and the slot words.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test --release --test loom_inflight`
#![cfg(loom)]

use floodgate::{Error, InFlight};
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
