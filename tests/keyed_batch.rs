//! Property test: `KeyedLimiter::check_batch_at` answers every key exactly as
//! one `check_at` per key, in order, would: two limiters built alike see the
//! same random batches (repeated keys, invalid string keys, costs above the
//! burst, time moving on and keys refilling), one checking each batch whole
//! and one key by key. Tables never fill (at most as many distinct keys as a
//! window holds, or a table far larger than the keys), so where each
//! limiter's own random hash places a key changes no decision.

use floodgate::{Decision, Error, KeyedLimiter, ManualClock, Quota};
use proptest::prelude::*;

fn limiter<K: floodgate::Key + ?Sized>(capacity: usize) -> KeyedLimiter<K, ManualClock> {
    KeyedLimiter::<K>::builder(Quota::per_second(10).unwrap().with_burst(4).unwrap())
        .capacity(capacity)
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

/// One batch: its keys (indices into a small key space), cost, and the time
/// that passes before it.
fn batches() -> impl Strategy<Value = Vec<(Vec<u8>, u64, u64)>> {
    prop::collection::vec(
        (
            prop::collection::vec(0u8..16, 0..40),
            0u64..6,
            prop_oneof![Just(0u64), 1u64..50_000_000, Just(1_000_000_000)],
        ),
        1..12,
    )
}

fn u64_answers(capacity: usize, batches: &[(Vec<u8>, u64, u64)]) -> (Vec<Decision>, Vec<Decision>) {
    let (whole, single) = (limiter::<u64>(capacity), limiter::<u64>(capacity));
    let (mut batched, mut one_by_one) = (Vec::new(), Vec::new());
    let mut now = 1_000_000_000;
    for (keys, cost, step) in batches {
        now += step;
        let keys: Vec<u64> = keys.iter().map(|&k| u64::from(k) * 0x9e37_79b9).collect();
        let mut seen = 0;
        whole.check_batch_at(&keys, *cost, now, |index, decision| {
            assert_eq!(index, seen, "answers come in order");
            seen += 1;
            batched.push(decision);
        });
        assert_eq!(seen, keys.len());
        one_by_one.extend(keys.iter().map(|key| single.check_at(key, *cost, now)));
    }
    (batched, one_by_one)
}

type StrAnswers = Vec<Result<Decision, Error>>;

fn str_answers(capacity: usize, batches: &[(Vec<u8>, u64, u64)]) -> (StrAnswers, StrAnswers) {
    let (whole, single) = (limiter::<str>(capacity), limiter::<str>(capacity));
    let (mut batched, mut one_by_one) = (Vec::new(), Vec::new());
    let mut now = 1_000_000_000;
    for (keys, cost, step) in batches {
        now += step;
        // Key 0 is the empty string: refused with a typed error, in place.
        let keys: Vec<String> = keys
            .iter()
            .map(|&k| {
                if k == 0 {
                    String::new()
                } else {
                    format!("key-{k}")
                }
            })
            .collect();
        whole.check_batch_at(&keys, *cost, now, |_, answer| batched.push(answer));
        one_by_one.extend(keys.iter().map(|key| single.check_at(key, *cost, now)));
    }
    (batched, one_by_one)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_batch_decides_as_one_check_per_key(batches in batches()) {
        // One bucket holding every key, then a table far larger than the keys.
        for capacity in [16, 4_096] {
            let (batched, one_by_one) = u64_answers(capacity, &batches);
            prop_assert_eq!(batched, one_by_one);
            let (batched, one_by_one) = str_answers(capacity, &batches);
            prop_assert_eq!(batched, one_by_one);
        }
    }
}

#[test]
fn an_empty_batch_decides_nothing() {
    limiter::<u64>(16).check_batch(&[] as &[u64], 1, |_, _| panic!("no key, no answer"));
}
