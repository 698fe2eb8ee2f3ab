//! The single limiter next to governor's direct limiter, same run, same
//! workloads. Each iteration hands `black_box` what a caller branches on:
//! floodgate's verdict, governor's `Result::is_ok`. Every admitted-path
//! workload starts each batch from a fresh limiter with a burst larger than
//! the batch, so all its checks are admitted.
//!
//! `cargo bench --bench core`

#![allow(missing_docs)] // criterion_main! generates an undocumented `pub fn main`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use floodgate::{Clock, Limiter, ManualClock, MonotonicClock, Quota};
use governor::clock::FakeRelativeClock;
use governor::{Quota as GovernorQuota, RateLimiter};
use std::num::NonZeroU32;
use std::thread;
use std::time::{Duration, Instant};

const BATCH: u64 = 200_000;
const NOW: u64 = 1_000_000_000;

fn roomy_quota() -> Quota {
    Quota::per_second(1_000_000)
        .unwrap()
        .with_burst(BATCH)
        .unwrap()
}

fn roomy_governor_quota() -> GovernorQuota {
    GovernorQuota::per_second(NonZeroU32::new(1_000_000).unwrap())
        .allow_burst(NonZeroU32::new(BATCH as u32).unwrap())
}

/// Times `iters` calls of `check` split into batches, each on a fresh limiter
/// made (untimed) by `fresh`.
fn batched<L>(iters: u64, fresh: impl Fn() -> L, check: impl Fn(&L)) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        let limiter = fresh();
        let start = Instant::now();
        for _ in 0..n {
            check(&limiter);
        }
        total += start.elapsed();
        left -= n;
    }
    total
}

/// Like `batched`, with two threads sharing each fresh limiter.
fn batched_two_threads<L: Sync>(
    iters: u64,
    fresh: impl Fn() -> L,
    check: impl Fn(&L) + Sync,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        let limiter = fresh();
        let start = Instant::now();
        thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    for _ in 0..n / 2 {
                        check(&limiter);
                    }
                });
            }
        });
        total += start.elapsed();
        left -= n;
    }
    total
}

fn single_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("direct");

    group.bench_function("floodgate/check supplied time", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                || {
                    Limiter::builder(roomy_quota())
                        .clock(ManualClock::new())
                        .build()
                },
                |l| {
                    black_box(l.check_at(black_box(1), black_box(NOW)).is_admitted());
                },
            )
        })
    });
    group.bench_function("governor/check fake clock", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                || {
                    RateLimiter::direct_with_clock(
                        roomy_governor_quota(),
                        FakeRelativeClock::default(),
                    )
                },
                |l| {
                    black_box(l.check().is_ok());
                },
            )
        })
    });

    group.bench_function("floodgate/check clock", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                || Limiter::builder(roomy_quota()).build(),
                |l| {
                    black_box(l.check(black_box(1)).is_admitted());
                },
            )
        })
    });
    group.bench_function("governor/check clock", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                || RateLimiter::direct(roomy_governor_quota()),
                |l| {
                    black_box(l.check().is_ok());
                },
            )
        })
    });

    let peeked = Limiter::builder(roomy_quota())
        .clock(ManualClock::new())
        .build();
    peeked.check_at(7, NOW);
    group.bench_function("floodgate/peek supplied time", |b| {
        b.iter(|| black_box(peeked.peek_at(black_box(NOW)).remaining()))
    });

    let exhausted = Limiter::builder(Quota::per_second(1).unwrap())
        .clock(ManualClock::new())
        .build();
    exhausted.check_at(1, NOW);
    group.bench_function("floodgate/denied supplied time", |b| {
        b.iter(|| {
            black_box(
                exhausted
                    .check_at(black_box(1), black_box(NOW))
                    .is_admitted(),
            )
        })
    });
    let governor_exhausted = RateLimiter::direct_with_clock(
        GovernorQuota::per_second(NonZeroU32::new(1).unwrap()),
        FakeRelativeClock::default(),
    );
    let _ = governor_exhausted.check();
    group.bench_function("governor/denied fake clock", |b| {
        b.iter(|| black_box(governor_exhausted.check().is_err()))
    });
    group.finish();
}

fn two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("direct, 2 threads on one limiter");
    group.bench_function("floodgate/check clock", |b| {
        b.iter_custom(|iters| {
            batched_two_threads(
                iters,
                || Limiter::builder(roomy_quota()).build(),
                |l| {
                    black_box(l.check(black_box(1)).is_admitted());
                },
            )
        })
    });
    group.bench_function("governor/check clock", |b| {
        b.iter_custom(|iters| {
            batched_two_threads(
                iters,
                || RateLimiter::direct(roomy_governor_quota()),
                |l| {
                    black_box(l.check().is_ok());
                },
            )
        })
    });
    group.finish();
}

/// What any CAS-based limiter pays at least: one load and one CAS.
fn floor(c: &mut Criterion) {
    let word = std::sync::atomic::AtomicU64::new(0);
    c.bench_function("floor/atomic load + CAS", |b| {
        b.iter(|| {
            let current = word.load(std::sync::atomic::Ordering::Acquire);
            black_box(
                word.compare_exchange_weak(
                    current,
                    current + 1,
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Acquire,
                )
                .is_ok(),
            )
        })
    });
}

fn clocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock");
    let quanta = MonotonicClock::new();
    group.bench_function("quanta (MonotonicClock)", |b| {
        b.iter(|| black_box(quanta.now_ns()))
    });
    let origin = Instant::now();
    group.bench_function("std Instant", |b| {
        b.iter(|| black_box(origin.elapsed().as_nanos() as u64))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = single_thread, two_threads, floor, clocks
}
criterion_main!(benches);
