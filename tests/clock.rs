//! Every default clock in a process reads one timeline (issue 12, item 1):
//! objects made seconds apart, mixed direct and layered checks, a
//! reconfiguration and a suspension in between, never admit past the bound.

use floodgate::{
    Clock, KeyedLimiter, LayerKey, Limiter, MonotonicClock, Outcome, Policy, Quota, Scope,
    Suspensions,
};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Long enough that clocks with their own origins would disagree by far
/// more than a bucket's whole refill time below.
const APART: Duration = Duration::from_millis(1_500);

/// The most a bucket of `burst` refilling `per_second` may admit from a
/// full start until now: `burst + floor(rate * elapsed)`.
fn bound(burst: u32, per_second: u32, started: Instant) -> u32 {
    let elapsed = started.elapsed().as_secs_f64();
    burst + (f64::from(per_second) * elapsed).floor() as u32
}

#[test]
fn default_clocks_made_apart_read_one_time() {
    let first = MonotonicClock::new();
    sleep(APART);
    let second = MonotonicClock::new();
    let (a, b) = (first.now_ns(), second.now_ns());
    // Read back to back, on one timeline: far closer than the sleep.
    assert!(b.abs_diff(a) < APART.as_nanos() as u64 / 2, "{a} vs {b}");
}

#[test]
fn a_policy_built_before_its_layer_charges_on_the_layer_s_timeline() {
    // Refills 3 tokens in the time the objects were made apart.
    let quota = Quota::per_second(2).unwrap().with_burst(5).unwrap();
    let builder = Policy::builder();
    sleep(APART);
    let limiter = Arc::new(Limiter::builder(quota).build());
    let policy = builder
        .layer(Scope::Named("global"), Arc::clone(&limiter))
        .build()
        .unwrap();

    let started = Instant::now();
    let mut admitted = 0;
    for round in 0..10 {
        if limiter.check(1).is_admitted() {
            admitted += 1;
        }
        if policy.check(&[LayerKey::Unkeyed], 1).unwrap().is_admitted() {
            admitted += 1;
        }
        if round == 3 {
            // Same quota again: usage carries over, on the limiter's clock.
            limiter.reconfigure(quota);
        }
    }
    assert!(admitted <= bound(5, 2, started), "{admitted} admitted");
}

#[test]
fn suspensions_and_keyed_layers_made_after_their_policy_agree() {
    let quota = Quota::per_second(2).unwrap().with_burst(3).unwrap();
    let builder = Policy::builder();
    sleep(APART);
    let keys: Arc<KeyedLimiter<u64>> =
        Arc::new(KeyedLimiter::builder(quota).capacity(64).build().unwrap());
    let suspended: Arc<Suspensions<u64>> =
        Arc::new(Suspensions::builder().capacity(16).build().unwrap());
    let policy = builder
        .layer(Scope::Named("suspensions"), Arc::clone(&suspended))
        .layer(Scope::Key, Arc::clone(&keys))
        .build()
        .unwrap();

    // Shorter than the gap between the objects' creation: on separate
    // timelines the policy would read it as over before it began.
    suspended.suspend_for(&9, Duration::from_secs(1)).unwrap();
    let verdict = policy
        .check(&[LayerKey::Id(9), LayerKey::Id(9)], 1)
        .unwrap();
    assert_eq!(verdict.decision().outcome(), Outcome::Suspended);

    let started = Instant::now();
    let mut admitted = 0;
    for _ in 0..6 {
        admitted += u32::from(keys.check(&7, 1).is_admitted());
        let layered = policy
            .check(&[LayerKey::Id(7), LayerKey::Id(7)], 1)
            .unwrap();
        admitted += u32::from(layered.is_admitted());
    }
    assert!(admitted <= bound(3, 2, started), "{admitted} admitted");
}
