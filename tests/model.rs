//! Property tests: random sequences of checks, reservations, refunds,
//! reconfigurations and time steps (steps backwards, and runs across the
//! 2^64 ns wrap of the clock included) make the engine and the reference model
//! in tests/common decide identically, for exact and for rounded quotas; and
//! every quota the engine accepts admits its rate to within 100 ppm below,
//! never above.

mod common;

use common::reference::{Bucket, Rate, Reported, Verdict};
use floodgate::{Decision, Error, Limiter, ManualClock, Outcome, Quota, MAX_RATE_ERROR_PPM};
use proptest::prelude::*;
use std::time::Duration;

#[derive(Debug, Clone)]
enum Op {
    Check(u64),
    Reserve(u64, u64),
    Refund(u64),
    Reconfigure(Rate),
    Advance(u64),
    StepBack(u64),
}

const PERIODS: [u64; 7] = [
    1_000_000_000,
    60_000_000_000,
    3_600_000_000_000,
    86_400_000_000_000,
    1_000_000,
    7_000,
    123_456_789,
];

fn quota_of(rate: Rate) -> Result<Quota, Error> {
    Quota::new(rate.count, Duration::from_nanos(rate.period_ns))
        .and_then(|q| q.with_burst(rate.burst))
        .and_then(|q| q.with_lockout(Duration::from_nanos(rate.lockout_ns)))
}

/// Valid rates, exact and rounded: an exact one's `count` is a
/// divisor-sharing part of the period times a small factor, so its reduced
/// denominator never exceeds 32; a rounded one's `count` is arbitrary, and
/// kept only when the engine accepts it (within 100 ppm of its rate).
fn rate() -> impl Strategy<Value = Rate> {
    (
        1u64..=3_000,
        1u64..=32,
        prop::sample::select(PERIODS.to_vec()),
        1u64..=300,
        prop_oneof![Just(0u64), 1u64..=10_000_000_000],
        prop_oneof![3 => Just(None), 1 => (1u64..=5_000_000).prop_map(Some)],
    )
        .prop_map(
            |(seed, factor, period_ns, burst, lockout_ns, arbitrary)| Rate {
                count: arbitrary
                    .unwrap_or(gcd(seed, period_ns) * factor)
                    .min(period_ns),
                period_ns,
                burst,
                lockout_ns,
            },
        )
        .prop_filter("a quota the engine accepts", |rate| quota_of(*rate).is_ok())
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn op(burst_hint: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..=burst_hint + 2).prop_map(Op::Check),
        1 => any::<u64>().prop_map(Op::Check),
        2 => (0..=burst_hint, 0u64..3_000_000_000).prop_map(|(cost, wait)| Op::Reserve(cost, wait)),
        1 => (0..=burst_hint).prop_map(Op::Refund),
        1 => rate().prop_map(Op::Reconfigure),
        4 => (0u64..2_000_000_000).prop_map(Op::Advance),
        1 => (0u64..5_000_000).prop_map(Op::StepBack),
    ]
}

fn reported(decision: Decision) -> Reported {
    Reported {
        verdict: match decision.outcome() {
            Outcome::Admitted => Verdict::Admitted,
            Outcome::Denied => Verdict::Denied,
            Outcome::CannotFit => Verdict::CannotFit,
            other => panic!("unexpected outcome {other:?}"),
        },
        limit: decision.limit(),
        remaining: decision.remaining(),
        reset_after_ns: decision.reset_after_ns(),
        retry_after_ns: decision.retry_after_ns(),
        delay_ns: decision.delay().as_nanos() as u64,
    }
}

/// Where a run starts: at 0, anywhere, or within a few seconds (of the ops'
/// time steps) below 2^64, so the clock wraps during the run.
fn start() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        0u64..=(u64::MAX / 4),
        (0u64..=20_000_000_000).prop_map(|before_wrap| u64::MAX - before_wrap),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn engine_matches_reference(
        initial in rate(),
        start in start(),
        ops in prop::collection::vec(op(300), 1..120),
    ) {
        let clock = ManualClock::starting_at(start);
        let limiter = Limiter::builder(quota_of(initial).unwrap()).clock(clock.clone()).build();
        let mut model = Bucket::new(initial);
        // The model's time never wraps; the engine's clock reads it modulo 2^64.
        let mut now = u128::from(start);
        for op in ops {
            match op {
                Op::Check(cost) => {
                    prop_assert_eq!(reported(limiter.check(cost)), model.check(cost, now), "check {}", cost);
                }
                Op::Reserve(cost, max_wait) => {
                    let decision = limiter.reserve(cost, Duration::from_nanos(max_wait));
                    prop_assert_eq!(reported(decision), model.reserve(cost, max_wait, now), "reserve {} within {}", cost, max_wait);
                }
                Op::Refund(amount) => {
                    prop_assert_eq!(reported(limiter.refund(amount)), model.refund(amount, now), "refund {}", amount);
                }
                Op::Reconfigure(rate) => {
                    limiter.reconfigure(quota_of(rate).unwrap());
                    model.reconfigure(rate, now);
                    prop_assert_eq!(reported(limiter.peek()), model.check(0, now), "after reconfigure to {:?}", rate);
                }
                Op::Advance(ns) => {
                    now += u128::from(ns);
                    clock.set_ns(now as u64);
                }
                Op::StepBack(ns) => {
                    now = now.saturating_sub(u128::from(ns));
                    clock.set_ns(now as u64);
                }
            }
        }
    }
}

/// Drains a full bucket of `quota`, then takes `rounds` more bursts, each
/// as soon as the limiter's Retry-After allows. Returns the nanoseconds
/// the rounds took: the time the limiter needs for `rounds * burst` requests.
fn time_for_rounds(quota: Quota, rounds: u64) -> u64 {
    let clock = ManualClock::new();
    let limiter = Limiter::builder(quota).clock(clock.clone()).build();
    let burst = quota.burst();
    assert!(limiter.check(burst).is_admitted());
    let mut now = 0u64;
    for _ in 0..rounds {
        let wait = limiter.check(burst).retry_after_ns();
        assert!(wait > 0, "{quota:?} admitted a burst early");
        now += wait;
        clock.set_ns(now);
        assert!(
            limiter.check(burst).is_admitted(),
            "{quota:?} denied after Retry-After"
        );
    }
    now
}

/// Checks the rate `quota` admits over `rounds` bursts against
/// `count / period`: never above, and at most 100 ppm below. Each
/// Retry-After rounds up to a whole ns, and the limiter credits the excess
/// back to the next round, so the span overstates the limiter's own time by
/// less than 1 ns in all.
fn admits_its_rate(quota: Quota, rounds: u64) -> Result<(), TestCaseError> {
    let span = u128::from(time_for_rounds(quota, rounds));
    let admitted = u128::from(rounds) * u128::from(quota.burst());
    let (count, period) = (u128::from(quota.count()), u128::from(quota.period_ns()));
    // admitted / span <= count / period
    prop_assert!(
        admitted * period <= count * span,
        "{:?} admitted above its rate",
        quota
    );
    // admitted / (span - 1) >= count / period * (1 - 100 ppm)
    let ppm = u128::from(MAX_RATE_ERROR_PPM);
    prop_assert!(
        admitted * period * 1_000_000 >= count * (span - 1) * (1_000_000 - ppm),
        "{:?} admitted {} in {} ns: more than 100 ppm below its rate",
        quota,
        admitted,
        span
    );
    Ok(())
}

/// Any quota: count and period log-uniform, count at most the period.
fn any_quota() -> impl Strategy<Value = Quota> {
    (
        0u32..=44,
        any::<u64>(),
        0u32..=34,
        any::<u64>(),
        1u64..=1_000,
    )
        .prop_filter_map(
            "a quota the engine accepts",
            |(period_bits, p, count_bits, c, burst)| {
                let period_ns = 1 + p % (1u64 << period_bits);
                let count = (1 + c % (1u64 << count_bits)).min(period_ns);
                // Bursts long enough (10 ms) that 1 ns of rounding is below 0.1 ppm.
                let interval_ns = period_ns / count;
                let burst = burst.max(10_000_000u64.div_ceil(interval_ns.max(1)));
                Quota::per_period(count, Duration::from_nanos(period_ns), burst).ok()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn every_accepted_quota_admits_its_rate_within_100_ppm(quota in any_quota()) {
        prop_assert!(quota.rate_error_ppm() <= MAX_RATE_ERROR_PPM as f64);
        prop_assert_eq!(quota.is_exact(), quota.rate_error_ppm() == 0.0);
        admits_its_rate(quota, 64)?;
    }
}

#[test]
fn a_rate_rounding_would_cut_by_3_percent_is_refused() {
    // 1.000000063 ns per request, enforced as 33/32 ns, would admit 3.03 % less.
    assert_eq!(Quota::per_second(999_999_937), Err(Error::InexactRate));
    assert_eq!(
        Quota::per_period(999_999_937, Duration::from_secs(1), 1_000),
        Err(Error::InexactRate)
    );
}

#[test]
fn a_borderline_rounded_rate_is_accepted_and_reports_its_error() {
    // 312.500098 ns per request, enforced as 10_001/32 = 312.53125 ns.
    let quota = Quota::per_second(3_199_999).unwrap();
    assert!(!quota.is_exact());
    let ppm = quota.rate_error_ppm();
    assert!(99.67 < ppm && ppm < 99.68, "{ppm}");
    admits_its_rate(quota.with_burst(100_000).unwrap(), 64).unwrap();
    // Just past the line: 100.002 ppm.
    assert_eq!(Quota::per_second(3_201_921), Err(Error::InexactRate));
}
