//! Many threads hammer one limiter; whatever the interleaving, the total
//! admitted never exceeds `burst + floor(rate * elapsed)`.

use floodgate::{Clock, Limiter, ManualClock, MonotonicClock, Quota};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const THREADS: u64 = 8;

fn bound(quota: &Quota, elapsed_ns: u64) -> u64 {
    let earned = u128::from(elapsed_ns) * u128::from(quota.count()) / u128::from(quota.period_ns());
    quota.burst() + earned as u64
}

#[test]
fn real_clock_never_over_admits() {
    let quota = Quota::per_second(1_000_000)
        .unwrap()
        .with_burst(500)
        .unwrap();
    let clock = MonotonicClock::new();
    let limiter = Arc::new(Limiter::builder(quota).clock(clock.clone()).build());
    let start = clock.now_ns();
    let admitted: u64 = thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let limiter = &limiter;
                scope.spawn(move || {
                    (0..50_000)
                        .filter(|_| limiter.check(1).is_admitted())
                        .count() as u64
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let elapsed = clock.now_ns() - start;
    assert!(admitted > 0);
    assert!(
        admitted <= bound(&quota, elapsed),
        "admitted {admitted} in {elapsed} ns, bound {}",
        bound(&quota, elapsed)
    );
}

#[test]
fn manual_clock_ticking_underneath_never_over_admits() {
    // 30/s burst 60 (GenieOS per key), time advancing 1 ms at a time while
    // eight threads check with mixed costs.
    let quota = Quota::per_second(30).unwrap().with_burst(60).unwrap();
    let clock = ManualClock::new();
    let limiter = Limiter::builder(quota).clock(clock.clone()).build();
    let stop = AtomicBool::new(false);
    let admitted_units = AtomicU64::new(0);
    thread::scope(|scope| {
        for worker in 0..THREADS {
            let (limiter, stop, admitted_units) = (&limiter, &stop, &admitted_units);
            scope.spawn(move || {
                let cost = worker % 3 + 1;
                loop {
                    // Once the clock has stopped, drain: leave only when
                    // this worker's cost no longer fits.
                    let stopped = stop.load(Ordering::Acquire);
                    if limiter.check(cost).is_admitted() {
                        admitted_units.fetch_add(cost, Ordering::Relaxed);
                    } else if stopped {
                        break;
                    } else {
                        // Nothing fits until the clock moves: let the thread
                        // that moves it run (under valgrind's one-at-a-time
                        // scheduler it would otherwise wait behind eight
                        // spinning workers).
                        thread::yield_now();
                    }
                }
            });
        }
        for _ in 0..1_000 {
            clock.advance(Duration::from_millis(1));
            thread::yield_now();
        }
        // Release: a worker that sees the flag sees the clock's last value.
        stop.store(true, Ordering::Release);
    });
    let admitted = admitted_units.load(Ordering::Relaxed);
    let limit = bound(&quota, clock.now_ns());
    assert!(admitted <= limit, "admitted {admitted}, bound {limit}");
    // However the threads were scheduled, the cost-1 worker left only on a
    // denial at the final time: the bucket that started full ended empty.
    assert!(
        admitted >= quota.burst(),
        "admitted {admitted}, bound {limit}"
    );
    assert_eq!(limiter.peek().remaining(), 0);
}

#[test]
fn reconfiguring_under_load_keeps_each_quota() {
    let narrow = Quota::per_second(10).unwrap();
    let wide = Quota::per_second(1_000).unwrap().with_burst(100).unwrap();
    let clock = ManualClock::new();
    let limiter = Limiter::builder(narrow).clock(clock.clone()).build();
    thread::scope(|scope| {
        for _ in 0..4 {
            let limiter = &limiter;
            scope.spawn(move || {
                for _ in 0..5_000 {
                    let decision = limiter.check(1);
                    assert!(decision.limit() == 10 || decision.limit() == 100);
                    assert!(decision.remaining() < decision.limit());
                }
            });
        }
        for round in 0..500 {
            limiter.reconfigure(if round % 2 == 0 { wide } else { narrow });
        }
    });
    // At time 0, every unit charged under either quota stays charged.
    let end = limiter.peek();
    assert_eq!(limiter.quota(), narrow);
    assert_eq!(end.remaining(), 0);
}
