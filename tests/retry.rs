//! The client retry helper on the seeds' numbers.

use floodgate::{parse_retry_after, Error, Jitter, RetryPolicy};
use std::time::{Duration, UNIX_EPOCH};

const MS: fn(u64) -> Duration = Duration::from_millis;

#[test]
fn genieos_backoff_is_250ms_to_4s_over_five_retries_jittered_below_nominal() {
    let nominal = [MS(250), MS(500), MS(1_000), MS(2_000), MS(4_000)];
    for seed in 0..1_000 {
        let mut retry = floodgate::presets::genieos::retry_policy()
            .with_seed(seed)
            .start();
        for expected in nominal {
            let wait = retry.next_delay(None).unwrap();
            assert!(
                wait >= expected / 2 && wait <= expected,
                "seed {seed}: {wait:?}"
            );
        }
        assert_eq!(retry.next_delay(None), None);
        assert_eq!(retry.next_delay(Some(MS(1))), None);
        assert_eq!(retry.retries(), 5);
    }
}

#[test]
fn a_seed_fixes_the_delays_and_different_seeds_spread_them() {
    let delays = |seed| {
        let policy = floodgate::presets::genieos::retry_policy().with_seed(seed);
        (0..5).map(|n| policy.delay(n, None)).collect::<Vec<_>>()
    };
    assert_eq!(delays(3), delays(3));
    assert_ne!(delays(3), delays(4));
    // Equal jitter averages 3/4 of nominal.
    let mean_ns = (0..10_000)
        .map(|seed| delays(seed)[0].unwrap().as_nanos() as f64)
        .sum::<f64>()
        / 10_000.0;
    let expected = 0.75 * MS(250).as_nanos() as f64;
    assert!((mean_ns - expected).abs() < expected * 0.02, "{mean_ns}");
}

#[test]
fn retry_after_is_honoured_exactly_and_still_counts() {
    let now = UNIX_EPOCH + Duration::from_secs(1_776_688_380);
    let policy = floodgate::presets::genieos::retry_policy().with_seed(9);
    let mut retry = policy.start();
    for header in ["0.6", "60.1", "3"] {
        let wait = parse_retry_after(header, now).unwrap();
        assert_eq!(retry.next_delay(Some(wait)), Some(wait));
    }
    let date = parse_retry_after("Mon, 20 Apr 2026 12:34:00 GMT", now).unwrap();
    assert_eq!(date, Duration::from_secs(60));
    assert_eq!(retry.next_delay(Some(date)), Some(date));
    assert!(retry.next_delay(None).is_some());
    assert_eq!(retry.next_delay(Some(date)), None);
    // A date already past means: go now.
    assert_eq!(
        parse_retry_after("Mon, 20 Apr 2026 12:00:00 GMT", now),
        Ok(Duration::ZERO)
    );
}

#[test]
fn license_api_doubles_from_one_second() {
    let policy = floodgate::presets::license_api::retry_policy().with_jitter(Jitter::None);
    let delays: Vec<_> = (0..5).map(|n| policy.delay(n, None)).collect();
    let s = |n| Some(Duration::from_secs(n));
    assert_eq!(delays, [s(1), s(2), s(4), s(8), None]);
}

#[test]
fn custom_policies_cap_and_full_jitter_stays_below_nominal() {
    let policy = RetryPolicy::new(MS(100), 3, 8, MS(2_000), Jitter::Full)
        .unwrap()
        .with_seed(11);
    let nominal: Vec<_> = (0..8).map(|n| policy.backoff(n).unwrap()).collect();
    assert_eq!(
        nominal,
        [
            MS(100),
            MS(300),
            MS(900),
            MS(2_000),
            MS(2_000),
            MS(2_000),
            MS(2_000),
            MS(2_000)
        ]
    );
    for (n, cap) in nominal.iter().enumerate() {
        assert!(policy.delay(n as u32, None).unwrap() <= *cap);
    }
    let huge = RetryPolicy::new(Duration::MAX, u32::MAX, 3, Duration::MAX, Jitter::Full).unwrap();
    assert!(huge.delay(2, None).unwrap() <= Duration::MAX);
    assert_eq!(
        RetryPolicy::new(MS(1), 0, 1, MS(1), Jitter::None),
        Err(Error::InvalidRetryPolicy)
    );
    assert_eq!(
        floodgate::presets::genieos::retry_policy()
            .with_max_retries(0)
            .delay(0, None),
        None
    );
}

#[test]
fn malformed_retry_after_is_a_typed_error() {
    let now = UNIX_EPOCH;
    for bad in ["", "soon", "0.6s", " 1 2", "Mon, 20 Apr 2026 12:34:00"] {
        assert_eq!(
            parse_retry_after(bad, now),
            Err(Error::InvalidRetryAfter),
            "{bad:?}"
        );
    }
    assert_eq!(parse_retry_after(" 7 ", now), Ok(Duration::from_secs(7)));
}
