//! The in-flight cap: the GenieOS batch endpoint's 4 in flight, explicit
//! release for FFI callers, and threads racing acquire and release.

use floodgate::{Error, InFlight, PermitToken};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[test]
fn genieos_batch_endpoint_allows_four_in_flight() {
    let batch = InFlight::builder(4).build().unwrap();
    let held: Vec<_> = (1..=4)
        .map(|n| {
            let permit = batch.try_acquire().permit().unwrap();
            assert_eq!((permit.in_flight(), permit.remaining()), (n, 4 - n));
            permit
        })
        .collect();
    let refused = batch.try_acquire().refusal().unwrap();
    assert_eq!((refused.in_flight(), refused.limit()), (4, 4));
    drop(held);
    assert_eq!(batch.in_flight(), 0);
    assert!(batch.try_acquire().is_granted());
}

#[test]
fn tokens_release_once_and_only_into_their_own_cap() {
    let cap = InFlight::builder(2).build().unwrap();
    let other = InFlight::builder(2).build().unwrap();
    let token = cap.try_acquire().permit().unwrap().into_token();
    let kept = cap.try_acquire().permit().unwrap();
    assert_eq!(other.release(token), Err(Error::ForeignPermit));
    assert_eq!(cap.in_flight(), 2);
    assert_eq!(cap.release(token), Ok(1));
    assert_eq!(cap.release(token), Err(Error::PermitAlreadyReleased));
    // A refused release changed nothing: the live permit still counts.
    assert_eq!(cap.in_flight(), 1);
    drop(kept);
    assert_eq!(cap.in_flight(), 0);
}

#[test]
fn a_token_survives_a_round_trip_through_integers() {
    let cap = InFlight::builder(3).build().unwrap();
    let token = cap.try_acquire().permit().unwrap().into_token();
    let (owner, ticket) = (token.owner(), token.ticket());
    assert_eq!(cap.release(PermitToken::from_parts(owner, ticket)), Ok(0));
    // A neighbouring ticket never names a held permit.
    let fresh = cap.try_acquire().permit().unwrap().into_token();
    let forged = PermitToken::from_parts(fresh.owner(), fresh.ticket() + 1);
    assert_eq!(cap.release(forged), Err(Error::PermitAlreadyReleased));
    assert_eq!(cap.release(fresh), Ok(0));
}

#[test]
fn a_token_of_a_dropped_cap_is_foreign_to_a_new_one() {
    let token = InFlight::builder(1)
        .build()
        .unwrap()
        .try_acquire()
        .permit()
        .unwrap()
        .into_token();
    let cap = InFlight::builder(1).build().unwrap();
    let _held = cap.try_acquire().permit().unwrap();
    assert_eq!(cap.release(token), Err(Error::ForeignPermit));
    assert_eq!(cap.in_flight(), 1);
}

#[test]
fn racing_threads_never_exceed_the_cap_and_leave_it_empty() {
    const MAX: u64 = 3;
    let cap = Arc::new(InFlight::builder(MAX).build().unwrap());
    let inside = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..6)
        .map(|thread| {
            let (cap, inside, peak) = (cap.clone(), inside.clone(), peak.clone());
            std::thread::spawn(move || {
                let mut admitted = 0u64;
                for round in 0..20_000u64 {
                    let Some(permit) = cap.try_acquire().permit() else {
                        continue;
                    };
                    admitted += 1;
                    let now_inside = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now_inside, Ordering::SeqCst);
                    assert!(now_inside <= MAX);
                    inside.fetch_sub(1, Ordering::SeqCst);
                    if (round + thread) % 2 == 0 {
                        drop(permit);
                    } else {
                        let token = permit.into_token();
                        cap.release(token).unwrap();
                        assert_eq!(cap.release(token), Err(Error::PermitAlreadyReleased));
                    }
                }
                admitted
            })
        })
        .collect();
    let admitted: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(admitted > 0);
    assert!(peak.load(Ordering::SeqCst) <= MAX);
    assert_eq!(cap.in_flight(), 0);
    let all: Vec<_> = (0..MAX)
        .map(|_| cap.try_acquire().permit().unwrap())
        .collect();
    assert!(!cap.try_acquire().is_granted());
    drop(all);
}

#[test]
fn refuses_bad_caps() {
    assert_eq!(InFlight::builder(0).build().err(), Some(Error::ZeroLimit));
    assert_eq!(
        InFlight::builder(floodgate::MAX_IN_FLIGHT + 1)
            .build()
            .err(),
        Some(Error::LimitTooLarge)
    );
    assert_eq!(
        InFlight::builder(floodgate::MAX_IN_FLIGHT)
            .build()
            .unwrap()
            .limit(),
        floodgate::MAX_IN_FLIGHT
    );
}
