//! Many threads on one keyed limiter never admit more for a key than its
//! quota allows: at most `burst + rate x elapsed` per key, however keys race
//! into shared slots, reclaim each other's refilled slots, or insert the
//! same new key at once. Capacity is kept below the key count so slots are
//! reused constantly.

use floodgate::{FullTable, KeyedLimiter, ManualClock, Quota};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;

const THREADS: usize = 4;
const KEYS: u64 = 48;
const START_NS: u64 = 1_000_000_000;

/// A small xorshift so each thread walks the keys in its own order.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Per-key admitted cost must stay within burst + floor(rate x elapsed).
fn assert_within_quota(admitted: &[AtomicU64], per_second: u64, burst: u64, elapsed_ns: u64) {
    let allowed = burst + (u128::from(per_second) * u128::from(elapsed_ns) / 1_000_000_000) as u64;
    let mut busiest = 0;
    for (key, count) in admitted.iter().enumerate() {
        let count = count.load(Ordering::Relaxed);
        busiest = busiest.max(count);
        assert!(count <= allowed, "key {key}: admitted {count} > {allowed}");
    }
    // The keys were hammered: the bound was reached, so it was tested.
    assert!(
        busiest * 10 >= allowed * 9,
        "busiest {busiest} of {allowed}"
    );
}

fn run<K: floodgate::Key + ?Sized + Sync>(
    make: impl Fn(u64) -> Box<K> + Sync,
    check: impl Fn(&KeyedLimiter<K, ManualClock>, &K, u64, u64) -> bool + Sync,
) {
    let (per_second, burst) = (50, 5);
    let quota = Quota::per_second(per_second)
        .unwrap()
        .with_burst(burst)
        .unwrap();
    let clock = ManualClock::starting_at(START_NS);
    let limiter: KeyedLimiter<K, ManualClock> = KeyedLimiter::<K>::builder(quota)
        .capacity(24)
        .on_full(FullTable::Deny)
        .clock(clock.clone())
        .build()
        .unwrap();
    let keys: Vec<Box<K>> = (0..KEYS).map(&make).collect();
    let admitted: Vec<AtomicU64> = (0..KEYS).map(|_| AtomicU64::new(0)).collect();
    let rounds = 300;
    let step_ns = 7_000_000; // 7 ms: a third of a token per round per key
    let barrier = Barrier::new(THREADS + 1);
    thread::scope(|scope| {
        for seed in 0..THREADS as u64 {
            let (limiter, keys, admitted, barrier, clock, check) =
                (&limiter, &keys, &admitted, &barrier, &clock, &check);
            scope.spawn(move || {
                let mut state = 0x9e37_79b9 ^ ((seed + 1) * 0x1234_5678_9abc);
                for _ in 0..rounds {
                    barrier.wait();
                    // Every thread decides this round at the same instant.
                    let now = clock.now();
                    for _ in 0..64 {
                        let key = (next(&mut state) % KEYS) as usize;
                        let cost = 1 + next(&mut state) % 2;
                        if check(limiter, &keys[key], cost, now) {
                            admitted[key].fetch_add(cost, Ordering::Relaxed);
                        }
                    }
                    barrier.wait();
                }
            });
        }
        for _ in 0..rounds {
            barrier.wait();
            barrier.wait();
            clock.advance(std::time::Duration::from_nanos(step_ns));
        }
    });
    let elapsed = clock.now() - START_NS;
    assert_within_quota(&admitted, per_second, burst, elapsed);
    assert!(limiter.full_table_events() > 0, "capacity never ran out");
}

trait Now {
    fn now(&self) -> u64;
}

impl Now for ManualClock {
    fn now(&self) -> u64 {
        floodgate::Clock::now_ns(self)
    }
}

#[test]
fn racing_u64_keys_are_never_over_admitted() {
    run::<u64>(Box::new, |limiter, key, cost, now| {
        limiter.check_at(key, cost, now).is_admitted()
    });
}

#[test]
fn racing_string_keys_are_never_over_admitted() {
    run::<str>(
        |key| format!("token-{key}").into_boxed_str(),
        |limiter, key, cost, now| limiter.check_at(key, cost, now).unwrap().is_admitted(),
    );
}
