//! Loom model checks of the single limiter's atomic protocols: checks,
//! refunds and reconfigurations racing each other on one state word.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test --release --test loom_limiter`
#![cfg(loom)]

use floodgate::{Limiter, ManualClock, Quota};
use loom::sync::Arc;
use loom::thread;

const NOW: u64 = 1_000_000_000;

fn limiter(per_second: u64, burst: u64) -> Arc<Limiter<ManualClock>> {
    let quota = Quota::per_second(per_second)
        .unwrap()
        .with_burst(burst)
        .unwrap();
    Arc::new(
        Limiter::builder(quota)
            .clock(ManualClock::starting_at(NOW))
            .build(),
    )
}

#[test]
fn racing_checks_never_exceed_the_burst() {
    loom::model(|| {
        let limiter = limiter(1, 2);
        let others: Vec<_> = (0..2)
            .map(|_| {
                let limiter = limiter.clone();
                thread::spawn(move || limiter.check_at(1, NOW).is_admitted())
            })
            .collect();
        let mine = limiter.check_at(1, NOW).is_admitted();
        let admitted = others
            .into_iter()
            .map(|t| t.join().unwrap())
            .chain([mine])
            .filter(|&admitted| admitted)
            .count();
        assert_eq!(admitted, 2);
        assert_eq!(limiter.peek_at(NOW).remaining(), 0);
    });
}

#[test]
fn refund_racing_a_check_loses_neither() {
    loom::model(|| {
        let limiter = limiter(1, 3);
        assert!(limiter.check_at(2, NOW).is_admitted());
        let refunder = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.refund_at(1, NOW))
        };
        let checked = limiter.check_at(1, NOW);
        refunder.join().unwrap();
        // 3 - 2 + 1 - 1 in either order
        assert!(checked.is_admitted());
        assert_eq!(limiter.peek_at(NOW).remaining(), 1);
    });
}

/// A check racing a reconfiguration must be decided wholly under one quota
/// and linearize before or after the conversion: the final bucket matches
/// one of the two sequential orders.
#[test]
fn reconfigure_racing_a_check_linearizes() {
    loom::model(|| {
        let limiter = limiter(1, 4);
        assert!(limiter.check_at(2, NOW).is_admitted());
        let smaller = Quota::per_second(2).unwrap().with_burst(3).unwrap();
        let reconfigurer = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.reconfigure_at(smaller, NOW))
        };
        let checked = limiter.check_at(2, NOW);
        reconfigurer.join().unwrap();
        let remaining = limiter.peek_at(NOW).remaining();
        assert_eq!(limiter.quota(), smaller);
        if checked.is_admitted() {
            // check first under burst 4 (used 4), then capped at 3: 0 left
            assert_eq!((checked.limit(), remaining), (4, 0));
        } else {
            // reconfigured first (used 2 of 3), then 2 more does not fit
            assert_eq!((checked.limit(), remaining), (3, 1));
        }
    });
}

#[test]
fn two_reconfigurations_and_a_check_agree_on_the_last_quota() {
    loom::model(|| {
        let limiter = limiter(1, 4);
        let wide = Quota::per_second(4).unwrap().with_burst(8).unwrap();
        let narrow = Quota::per_second(1).unwrap().with_burst(1).unwrap();
        let first = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.reconfigure_at(wide, NOW))
        };
        let second = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.reconfigure_at(narrow, NOW))
        };
        let checked = limiter.check_at(1, NOW);
        first.join().unwrap();
        second.join().unwrap();
        assert!(
            checked.is_admitted(),
            "one unit always fits every quota here"
        );
        let last = limiter.quota();
        assert!(last == wide || last == narrow);
        // One unit used, counted in requests, survives every conversion.
        assert_eq!(
            limiter.peek_at(NOW).remaining(),
            last.burst() - 1,
            "limit {} checked under {}",
            last,
            checked.limit()
        );
    });
}

/// More reconfigurations than the ring has generations, while one check is
/// in flight: the check's slot is rewritten under it (a full wrap), yet the
/// check is decided wholly under one of the quotas, never a mix of two.
/// Each quota has its own burst and rate, so the decision names its quota.
#[test]
fn a_check_through_a_full_generation_wrap_uses_one_whole_quota() {
    // (count per second, burst): the emission intervals are 1/count s.
    const QUOTAS: [(u64, u64); 6] = [(1, 2), (2, 3), (4, 4), (5, 5), (8, 6), (10, 7)];
    let quota =
        |(count, burst): (u64, u64)| Quota::per_second(count).unwrap().with_burst(burst).unwrap();
    loom::model(move || {
        let limiter = limiter(QUOTAS[0].0, QUOTAS[0].1);
        let reconfigurer = {
            let limiter = limiter.clone();
            thread::spawn(move || {
                for &later in &QUOTAS[1..] {
                    limiter.reconfigure_at(quota(later), NOW);
                }
            })
        };
        let checked = limiter.check_at(1, NOW);
        reconfigurer.join().unwrap();
        // A full bucket of any of them admits one unit; what is left and
        // when the bucket is full again are that quota's own figures.
        let whole = QUOTAS.iter().any(|&(count, burst)| {
            checked.is_admitted()
                && checked.limit() == burst
                && checked.remaining() == burst - 1
                && checked.reset_after().as_nanos() == u128::from(1_000_000_000 / count)
        });
        assert!(whole, "decided under no single quota: {checked:?}");
        assert_eq!(limiter.quota(), quota(QUOTAS[5]));
    });
}
