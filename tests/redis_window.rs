//! Sliding windows in Redis decide as the local engine does: the same
//! decisions, field for field, as a `KeyedWindows` of the same limit and
//! window for the same microsecond arrivals, timestamps out of order
//! included; keys expire once their counts weigh nothing.

mod redis_common;

use floodgate::store::{OnFailure, RedisStore, RedisWindow};
use floodgate::{KeyedWindows, ManualClock, Outcome};
use proptest::prelude::*;
use redis_common::{fresh_prefix, shared_store, RedisServer, BASE_US};
use std::time::Duration;

/// Windows that must decide exactly: a generous deadline for a loaded
/// machine, and a failure would show as a closed-policy denial counted in
/// `failed_closed`, which every test checks is zero.
fn windows(store: &RedisStore, limit: u64, window: Duration) -> RedisWindow {
    RedisWindow::builder(store, limit, window)
        .prefix(fresh_prefix())
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap()
}

/// Limits and windows: a minute of whole microseconds, a window of half
/// microseconds (units of 500 ns), one coprime with 1000 ns (units of 1 ns),
/// short ones whose counts roll often, and a long one of half microseconds
/// whose counts times its length pass 2^53 (the script's products).
fn settings() -> Vec<(u64, Duration)> {
    vec![
        (2_000_000, Duration::from_nanos(8_640_000_000_000_500)),
        (600, Duration::from_secs(60)),
        (3, Duration::from_nanos(1_500)),
        (7, Duration::from_nanos(999_999_999)),
        (1, Duration::from_millis(3)),
        (10, Duration::from_micros(2_500)),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Check { key: usize, cost: u64 },
    Peek { key: usize },
    Refund { key: usize, amount: u64 },
}

/// A step and when it comes: `forward` thousandths of a window after the
/// previous step's time, or, when `behind` is nonzero, that many
/// thousandths of a window before it without moving the time on (a late
/// timestamp).
fn step(limit: u64) -> impl Strategy<Value = (u64, u64, Step)> {
    let forward = prop_oneof![Just(0u64), 0..300u64, 0..1_500u64, 0..4_000u64];
    let behind = prop_oneof![6 => Just(0u64), 1 => 1..2_500u64];
    let step = prop_oneof![
        6 => (0..3usize, 0..=limit + 1).prop_map(|(key, cost)| Step::Check { key, cost }),
        1 => (0..3usize).prop_map(|key| Step::Peek { key }),
        1 => (0..3usize, 0..=limit).prop_map(|(key, amount)| Step::Refund { key, amount }),
    ];
    (forward, behind, step)
}

/// `thousandths` of a window of `window_ns`, in whole microseconds.
fn micros(window_ns: u64, thousandths: u64) -> u64 {
    (u128::from(window_ns) * u128::from(thousandths) / 1_000_000) as u64
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn redis_windows_equal_local_keyed_windows(
        (which, steps) in (0..6usize).prop_flat_map(|which| {
            let limit = settings()[which].0;
            (Just(which), proptest::collection::vec(step(limit), 1..60))
        }),
    ) {
        let (limit, window) = settings()[which];
        let window_ns = window.as_nanos() as u64;
        let store = shared_store();
        let redis = windows(&store, limit, window);
        let local = KeyedWindows::<str, ManualClock>::builder(limit, window)
            .capacity(16)
            .build()
            .unwrap();
        let keys = ["a", "b", "{c}d"];
        let mut now_us = BASE_US;
        for (index, (forward, behind, step)) in steps.into_iter().enumerate() {
            let at_us = if behind > 0 {
                now_us.saturating_sub(micros(window_ns, behind))
            } else {
                now_us += micros(window_ns, forward);
                now_us
            };
            let at_ns = at_us * 1_000;
            let (remote, engine) = match step {
                Step::Check { key, cost } => (
                    redis.check_at(keys[key], cost, at_us).unwrap(),
                    local.check_at(keys[key], cost, at_ns).unwrap(),
                ),
                Step::Peek { key } => (
                    redis.peek_at(keys[key], at_us).unwrap(),
                    local.peek_at(keys[key], at_ns).unwrap(),
                ),
                Step::Refund { key, amount } => (
                    redis.refund_at(keys[key], amount, at_us).unwrap(),
                    local.refund_at(keys[key], amount, at_ns).unwrap(),
                ),
            };
            let offset = at_us as i128 - BASE_US as i128;
            prop_assert_eq!(remote, engine, "step {} at {} us", index, offset);
        }
        prop_assert_eq!(redis.counters().failed_closed, 0);
    }
}

#[test]
fn decisions_carry_the_engines_fields() {
    let store = shared_store();
    let minute = Duration::from_secs(60);
    let redis = windows(&store, 600, minute);
    // The start of a minute of Unix time.
    let start = BASE_US - BASE_US % 60_000_000;
    for i in 0..600 {
        let decision = redis.check_at("ws", 1, start).unwrap();
        assert_eq!(
            (decision.outcome(), decision.remaining()),
            (Outcome::Admitted, 599 - i)
        );
    }
    let denied = redis.check_at("ws", 1, start).unwrap();
    assert_eq!(denied.outcome(), Outcome::Denied);
    // The next minute's first slot opens once 1/600 of the 600 has slid out.
    assert_eq!(denied.retry_after(), Some(Duration::from_millis(60_100)));
    assert_eq!(denied.reset_after(), 2 * minute);
    assert_eq!(
        redis.check_at("ws", 601, start).unwrap().outcome(),
        Outcome::CannotFit
    );
    // Half way through the next minute, half the 600 still weigh.
    assert_eq!(
        redis.peek_at("ws", start + 90_000_000).unwrap().remaining(),
        300
    );
    assert_eq!(redis.refund_at("ws", 100, start).unwrap().remaining(), 100);
    let counters = redis.counters();
    assert_eq!((counters.exact, counters.failed_closed), (604, 0));
}

#[test]
fn products_past_2_pow_53_are_compared_exactly() {
    let store = shared_store();
    // A window of 4.6e15 us (146 years): previous * (W - e) and room * W
    // pass 2^53, and at e = (W - 1) / 3 they differ by one, which a double
    // rounds away.
    let window_us: u64 = 4_600_000_000_000_000;
    let window = Duration::from_micros(window_us);
    let redis = windows(&store, 3, window);
    let local = KeyedWindows::<str, ManualClock>::builder(3, window)
        .build()
        .unwrap();
    let e = (window_us - 1) / 3;
    let mut outcomes = Vec::new();
    // 3 in window 0; then 3 * (W - e) = 2W + 1 > 2W: denied; a microsecond
    // later 3 * (W - e - 1) = 2W - 2: admitted.
    for (t, cost) in [(BASE_US, 3), (window_us + e, 1), (window_us + e + 1, 1)] {
        let remote = redis.check_at("k", cost, t).unwrap();
        assert_eq!(
            remote,
            local.check_at("k", cost, t * 1_000).unwrap(),
            "at {t}"
        );
        outcomes.push(remote.outcome());
    }
    assert_eq!(
        outcomes,
        [Outcome::Admitted, Outcome::Denied, Outcome::Admitted]
    );
    assert_eq!(redis.counters().failed_closed, 0);
}

#[test]
fn a_window_key_expires_when_its_counts_weigh_nothing() {
    let store = shared_store();
    // Ten-second windows: the key outlives a slow run (memcheck) by far.
    let redis = windows(&store, 10, Duration::from_secs(10));
    assert!(redis.check("exp", 3).unwrap().is_admitted());
    let mut client = RedisServer::shared().client();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*:exp").query(&mut client).unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: i64 = redis::cmd("PTTL").arg(&keys[0]).query(&mut client).unwrap();
    // The 3 weigh until the end of the next ten-second window: at most 20 s
    // from now; the script adds at most 2 ms.
    assert!((0..=20_002).contains(&ttl), "ttl {ttl} ms");
    // Refunded to nothing: the key is gone.
    assert_eq!(redis.refund("exp", 3).unwrap().remaining(), 10);
    let left: i64 = redis::cmd("EXISTS")
        .arg(&keys[0])
        .query(&mut client)
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn the_async_api_decides_alike() {
    let store = shared_store();
    // A century's window: the server's clock stays in its first one.
    let century = Duration::from_secs(100 * 365 * 86_400);
    let redis = windows(&store, 2, century);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (outcomes, refunded, peeked) = runtime.block_on(async {
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            outcomes.push(redis.check_async("async", 1).await.unwrap().is_admitted());
        }
        let refunded = redis.refund_async("async", 1).await.unwrap();
        (outcomes, refunded, redis.peek_async("async").await.unwrap())
    });
    assert_eq!(outcomes, [true, true, false]);
    assert_eq!((refunded.remaining(), peeked.remaining()), (1, 1));
    assert_eq!(redis.counters().failed_closed, 0);
}

#[test]
fn a_server_that_is_away_gets_the_failure_policy() {
    // Nothing listens on port 1: every call fails at once.
    let store = RedisStore::open("redis://127.0.0.1:1/").unwrap();
    let build = |on_failure| {
        RedisWindow::builder(&store, 5, Duration::from_secs(1))
            .deadline(Duration::from_secs(2))
            .on_failure(on_failure)
            .breaker(100, Duration::from_millis(250))
            .build()
            .unwrap()
    };
    let open = build(OnFailure::Open).check("k", 2).unwrap();
    assert_eq!((open.outcome(), open.remaining()), (Outcome::Admitted, 3));
    let closed = build(OnFailure::Closed);
    let denied = closed.check("k", 2).unwrap();
    assert_eq!(denied.outcome(), Outcome::Denied);
    assert_eq!(denied.retry_after(), Some(Duration::from_millis(250)));
    assert_eq!(closed.check("k", 6).unwrap().outcome(), Outcome::CannotFit);
    let counters = closed.counters();
    assert_eq!((counters.failed_closed, counters.errors), (1, 2));
}
