//! Every limiter kind is built one way: `Kind::builder(required)`, optional
//! settings, `.clock(c)` for any clock, `.build()`. These are compile-time
//! checks as much as tests: the common forms must need no type annotation
//! beyond the key type, and every keyed kind must accept a clock type named
//! in its path.

#![cfg(not(loom))]

use floodgate::{
    Acquisition, Clock, Error, FullTable, InFlight, KeyedInFlight, KeyedLimiter, KeyedWindows,
    Limiter, ManualClock, MonotonicClock, Outcome, Plans, Policy, Quota, Scope, SlidingWindow,
    Suspensions, TierLimits,
};
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

fn quota() -> Quota {
    Quota::per_second(5).unwrap()
}

#[test]
fn the_default_clock_forms_need_no_annotation() {
    let limiter = Limiter::builder(quota()).build();
    let window = SlidingWindow::builder(10, MINUTE).build().unwrap();
    let cap = InFlight::builder(2).build().unwrap();
    let keyed = KeyedLimiter::<u64>::builder(quota())
        .capacity(64)
        .build()
        .unwrap();
    let windows = KeyedWindows::<u64>::builder(10, MINUTE)
        .capacity(64)
        .build()
        .unwrap();
    let caps = KeyedInFlight::<u64>::builder(2)
        .capacity(64)
        .build()
        .unwrap();
    let suspensions = Suspensions::<u64>::builder().capacity(64).build().unwrap();
    let plans = Plans::<u64, u64>::builder(MINUTE)
        .tier(
            "free",
            TierLimits {
                per_key: Some(quota()),
                per_workspace: Some(10),
            },
        )
        .build()
        .unwrap();
    let policy = Policy::builder()
        .layer(Scope::Key, Limiter::builder(quota()).build())
        .build()
        .unwrap();
    // Each is timed by a MonotonicClock.
    let _: (&MonotonicClock, &MonotonicClock, &MonotonicClock) =
        (limiter.clock(), window.clock(), keyed.clock());
    let _: (&MonotonicClock, &MonotonicClock, &MonotonicClock) =
        (windows.clock(), suspensions.clock(), plans.clock());
    let _: &MonotonicClock = policy.clock();
    assert!(cap.try_acquire().is_granted());
    assert!(caps.try_acquire(&1).unwrap().is_granted());
}

#[test]
fn every_kind_takes_any_clock_through_its_builder() {
    let clock = ManualClock::new();
    let limiter = Limiter::builder(quota()).clock(clock.clone()).build();
    let window = SlidingWindow::builder(10, MINUTE)
        .clock(clock.clone())
        .build()
        .unwrap();
    let keyed = KeyedLimiter::<str>::builder(quota())
        .clock(clock.clone())
        .build()
        .unwrap();
    let windows = KeyedWindows::<str>::builder(10, MINUTE)
        .clock(clock.clone())
        .build()
        .unwrap();
    let suspensions = Suspensions::<str>::builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let policy = Policy::builder()
        .layer(Scope::Key, Limiter::builder(quota()).build())
        .clock(clock.clone())
        .build()
        .unwrap();
    clock.advance(Duration::from_secs(7));
    for now in [
        limiter.clock().now_ns(),
        window.clock().now_ns(),
        keyed.clock().now_ns(),
        windows.clock().now_ns(),
        suspensions.clock().now_ns(),
        policy.clock().now_ns(),
    ] {
        assert_eq!(now, clock.now_ns());
    }
}

#[test]
fn a_keyed_kind_names_its_clock_type_in_its_path() {
    // The example: this did not compile while only the
    // default-clock type had a builder.
    let keyed = KeyedLimiter::<str, ManualClock>::builder(quota())
        .build()
        .unwrap();
    let windows = KeyedWindows::<str, ManualClock>::builder(10, MINUTE)
        .build()
        .unwrap();
    let suspensions = Suspensions::<str, ManualClock>::builder().build().unwrap();
    let plans = Plans::<str, u64, ManualClock>::builder(MINUTE)
        .tier(
            "free",
            TierLimits {
                per_key: Some(quota()),
                per_workspace: None,
            },
        )
        .build()
        .unwrap();
    let _: (&ManualClock, &ManualClock, &ManualClock, &ManualClock) = (
        keyed.clock(),
        windows.clock(),
        suspensions.clock(),
        plans.clock(),
    );
    assert_eq!(keyed.clock().now_ns(), 0);
}

#[test]
fn build_reports_bad_settings_as_errors() {
    assert_eq!(
        KeyedLimiter::<u64>::builder(quota())
            .capacity(0)
            .build()
            .err(),
        Some(Error::ZeroCapacity)
    );
    assert_eq!(
        KeyedWindows::<u64>::builder(10, MINUTE)
            .capacity(0)
            .build()
            .err(),
        Some(Error::ZeroCapacity)
    );
    assert_eq!(
        KeyedWindows::<u64>::builder(10, Duration::ZERO)
            .build()
            .err(),
        Some(Error::ZeroWindow)
    );
    assert_eq!(
        KeyedInFlight::<u64>::builder(0).build().err(),
        Some(Error::ZeroLimit)
    );
    assert_eq!(
        Suspensions::<u64>::builder().capacity(0).build().err(),
        Some(Error::ZeroCapacity)
    );
    assert_eq!(
        SlidingWindow::builder(0, MINUTE).build().err(),
        Some(Error::ZeroLimit)
    );
    assert_eq!(InFlight::builder(0).build().err(), Some(Error::ZeroLimit));
}

#[test]
fn on_full_is_a_builder_setting_of_keyed_windows() {
    let windows = KeyedWindows::<u64>::builder(1, MINUTE)
        .capacity(1)
        .on_full(FullTable::Admit)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert!(windows.check(&1, 1).is_admitted());
    assert!(windows.check(&2, 1).is_admitted());
    assert!(windows.check(&2, 1).is_admitted());
    assert_eq!(windows.full_table_events(), 2);
}

#[test]
fn keyed_calls_answer_refusals_as_data_and_failures_as_one_error() {
    let caps = KeyedInFlight::<str>::builder(1)
        .capacity(1)
        .build()
        .unwrap();
    let held = caps.try_acquire("a").unwrap().permit().unwrap();
    match caps.try_acquire("a") {
        Ok(Acquisition::Refused(full)) => assert_eq!((full.in_flight(), full.limit()), (1, 1)),
        other => panic!("a full cap is a refusal in the answer, got {other:?}"),
    }
    assert_eq!(caps.try_acquire("b").err(), Some(Error::TableFull));
    assert_eq!(caps.try_acquire("").err(), Some(Error::EmptyKey));
    drop(held);

    let keyed = KeyedLimiter::<str>::builder(Quota::per_second(1).unwrap())
        .clock(ManualClock::new())
        .build()
        .unwrap();
    keyed.check("a", 1).unwrap();
    assert_eq!(keyed.check("a", 1).unwrap().outcome(), Outcome::Denied);
    assert_eq!(keyed.check("", 1), Err(Error::EmptyKey));
}
