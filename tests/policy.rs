//! Layered checks: every layer admits or nothing is charged; the verdict
//! names the layer to blame; shadow layers never deny; counters add up.

use floodgate::{
    Error, LayerKey, Limiter, ManualClock, Outcome, Policy, Quota, Scope, SlidingWindow,
};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const TWO: [LayerKey<'static>; 2] = [LayerKey::Unkeyed, LayerKey::Unkeyed];

fn limiter(per_second: u64, burst: u64, clock: &ManualClock) -> Arc<Limiter<ManualClock>> {
    let quota = Quota::per_second(per_second)
        .unwrap()
        .with_burst(burst)
        .unwrap();
    Arc::new(Limiter::builder(quota).clock(clock.clone()).build())
}

#[test]
fn a_denial_charges_no_layer() {
    let clock = ManualClock::new();
    let ip = limiter(100, 100, &clock);
    let token = limiter(10, 3, &clock);
    let policy = Policy::builder()
        .layer(Scope::Ip, ip.clone())
        .layer(Scope::Token, token.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..3 {
        assert!(policy.check(&TWO, 1).unwrap().is_admitted());
    }
    for _ in 0..5 {
        let verdict = policy.check(&TWO, 1).unwrap();
        assert_eq!(verdict.decision().outcome(), Outcome::Denied);
        assert_eq!((verdict.scope(), verdict.layer()), (Scope::Token, 1));
    }
    // The IP layer paid only for the three admitted requests.
    assert_eq!(ip.peek().remaining(), 97);
    assert_eq!(token.peek().remaining(), 0);
}

#[test]
fn the_longest_wait_wins_and_cannot_fit_outranks_it() {
    let clock = ManualClock::new();
    let fast = limiter(100, 1, &clock); // refills in 10 ms
    let slow = limiter(1, 1, &clock); // refills in 1 s
    let policy = Policy::builder()
        .layer(Scope::Key, fast.clone())
        .layer(Scope::Workspace, slow.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    assert!(policy.check(&TWO, 1).unwrap().is_admitted());
    let verdict = policy.check(&TWO, 1).unwrap();
    // The key layer refused first, but the workspace's wait is longer.
    assert_eq!(verdict.scope(), Scope::Workspace);
    assert_eq!(
        verdict.decision().retry_after(),
        Some(Duration::from_secs(1))
    );
    assert_eq!(policy.layer_counters(0).unwrap().denied, 1);
    assert_eq!(policy.layer_counters(1).unwrap().denied, 1);

    let verdict = policy.check(&TWO, 2).unwrap();
    assert_eq!(verdict.decision().outcome(), Outcome::CannotFit);
}

#[test]
fn admitted_verdict_reports_the_tightest_layer() {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .layer(Scope::Key, limiter(30, 60, &clock))
        .layer(
            Scope::Workspace,
            SlidingWindow::builder(40, Duration::from_secs(60))
                .clock(clock.clone())
                .build()
                .unwrap(),
        )
        .clock(clock.clone())
        .build()
        .unwrap();
    let first = policy.check(&TWO, 1).unwrap();
    assert_eq!(
        (first.scope(), first.decision().remaining()),
        (Scope::Workspace, 39)
    );
    assert_eq!(first.decision().limit(), 40);
}

#[test]
fn shadow_layers_count_but_never_deny_or_report() {
    let clock = ManualClock::new();
    let enforced = limiter(100, 100, &clock);
    let policy = Policy::builder()
        .layer(Scope::Key, enforced.clone())
        .shadow_layer(Scope::Named("candidate"), limiter(1, 2, &clock))
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..10 {
        let verdict = policy.check(&TWO, 1).unwrap();
        assert!(verdict.is_admitted());
        assert_eq!(verdict.scope(), Scope::Key);
    }
    assert_eq!(policy.layer_counters(1).unwrap().shadow_denied, 8);
    assert_eq!(policy.layer_counters(0).unwrap().denied, 0);
    assert_eq!(policy.counters().admitted, 10);
    assert_eq!(enforced.peek().remaining(), 90);
}

#[test]
fn bad_keys_are_typed_errors_and_change_nothing() {
    let clock = ManualClock::new();
    let first = limiter(10, 10, &clock);
    let policy = Policy::builder()
        .layer(Scope::Key, first.clone())
        .layer(Scope::Ip, limiter(10, 10, &clock))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(policy.check(&TWO[..1], 1).err(), Some(Error::LayerKeyCount));
    assert_eq!(
        policy.check(&[LayerKey::Unkeyed, LayerKey::Id(4)], 1).err(),
        Some(Error::LayerKeyMismatch)
    );
    assert_eq!(first.peek().remaining(), 10);
    assert_eq!(policy.counters().admitted + policy.counters().denied, 0);
    assert_eq!(policy.layer_counters(2).err(), Some(Error::NoSuchLayer));
    assert_eq!(Policy::builder().build().err(), Some(Error::NoLayers));
}

#[test]
fn concurrent_layered_checks_never_over_admit_any_layer() {
    let clock = ManualClock::new();
    let per_ip = limiter(1_000, 50, &clock);
    let per_token = limiter(1_000, 80, &clock);
    let policy = Policy::builder()
        .layer(Scope::Ip, per_ip.clone())
        .layer(Scope::Token, per_token.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    let admitted: usize = thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let policy = &policy;
                scope.spawn(move || {
                    (0..1_000)
                        .filter(|_| policy.check(&TWO, 1).unwrap().is_admitted())
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    // Time stood still: the tighter layer's burst is the ceiling, and every
    // unit the IP layer lent to a request the token layer refused came back.
    assert!(admitted <= 50, "admitted {admitted}");
    assert_eq!(per_ip.peek().remaining() as usize, 50 - admitted);
    assert_eq!(per_token.peek().remaining() as usize, 80 - admitted);
    assert_eq!(policy.counters().admitted as usize, admitted);
    assert_eq!(policy.counters().denied as usize, 4_000 - admitted);
}

#[test]
fn a_suspended_layer_refuses_with_its_own_outcome_and_count() {
    let clock = ManualClock::new();
    let token = limiter(10, 10, &clock);
    let policy = Policy::builder()
        .layer(Scope::Ip, limiter(100, 100, &clock))
        .layer(Scope::Token, token.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    token.suspend_until(Some(2_000_000_000));
    let verdict = policy.check(&TWO, 1).unwrap();
    assert_eq!(verdict.decision().outcome(), Outcome::Suspended);
    assert_eq!(verdict.scope(), Scope::Token);
    assert_eq!(
        verdict.decision().retry_after(),
        Some(Duration::from_secs(2))
    );
    assert_eq!(policy.counters().suspended, 1);
    assert_eq!(policy.counters().denied, 0);
    assert_eq!(policy.layer_counters(1).unwrap().suspended, 1);
    clock.advance(Duration::from_secs(2));
    assert!(policy.check(&TWO, 1).unwrap().is_admitted());
}

#[test]
fn per_key_maps_refuse_capacities_they_cannot_hold() {
    use floodgate::{KeyedInFlight, KeyedWindows, Suspensions, MAX_KEYED_CELLS};
    let too_many = MAX_KEYED_CELLS + 1;
    assert_eq!(
        KeyedWindows::<u64>::builder(10, Duration::from_secs(1))
            .capacity(too_many)
            .build()
            .err(),
        Some(Error::CapacityTooLarge)
    );
    assert_eq!(
        Suspensions::<str>::builder()
            .capacity(usize::MAX)
            .build()
            .err(),
        Some(Error::CapacityTooLarge)
    );
    assert_eq!(
        KeyedInFlight::<u64>::builder(4)
            .capacity(too_many)
            .build()
            .err(),
        Some(Error::CapacityTooLarge)
    );
    assert_eq!(
        KeyedInFlight::<u64>::builder(4).capacity(0).build().err(),
        Some(Error::ZeroCapacity)
    );
}
