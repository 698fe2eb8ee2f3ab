//! The policy pieces next to the single GCRA limiter and governor, same run:
//! a sliding-window check (allowed and denied), an in-flight acquire plus
//! release (next to a mutex-guarded counter, the naive way), and rendering
//! a 429's headers and body.
//!
//! `cargo bench --bench policies`

#![allow(missing_docs)] // criterion_main! generates an undocumented `pub fn main`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use floodgate::{
    Headers, InFlight, Limiter, ManualClock, Quota, RateLimitPolicy, Scope, SlidingWindow,
    MAX_WINDOW_LIMIT,
};
use governor::clock::FakeRelativeClock;
use governor::{Quota as GovernorQuota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

const NOW: u64 = 1_000_000_000;
/// Caller time advances this much per check: 10^6 checks per second of
/// timeline, within every limit below, so the allowed paths stay allowed.
const STEP_NS: u64 = 1_000;

fn checks(c: &mut Criterion) {
    let mut group = c.benchmark_group("policies");

    // Allowed: each iteration checks one unit, moving caller time forward.
    let window = SlidingWindow::builder(MAX_WINDOW_LIMIT, Duration::from_secs(1))
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let mut now = NOW;
    group.bench_function("floodgate/window check allowed", |b| {
        b.iter(|| {
            now += STEP_NS;
            black_box(window.check_at(black_box(1), now).is_admitted())
        })
    });
    let bucket = Limiter::builder(
        Quota::per_second(1_000_000)
            .unwrap()
            .with_burst(1_000)
            .unwrap(),
    )
    .clock(ManualClock::new())
    .build();
    let mut now = NOW;
    group.bench_function("floodgate/bucket check allowed", |b| {
        b.iter(|| {
            now += STEP_NS;
            black_box(bucket.check_at(black_box(1), now).is_admitted())
        })
    });
    let clock = FakeRelativeClock::default();
    let governor = RateLimiter::direct_with_clock(
        GovernorQuota::per_second(NonZeroU32::new(1_000_000).unwrap())
            .allow_burst(NonZeroU32::new(1_000).unwrap()),
        clock.clone(),
    );
    group.bench_function("governor/direct check allowed", |b| {
        b.iter(|| {
            clock.advance(Duration::from_nanos(STEP_NS));
            black_box(governor.check().is_ok())
        })
    });

    // Denied: a full window / bucket at a fixed time.
    let full_window = SlidingWindow::builder(600, Duration::from_secs(60))
        .clock(ManualClock::new())
        .build()
        .unwrap();
    full_window.check_at(600, NOW);
    group.bench_function("floodgate/window check denied", |b| {
        b.iter(|| {
            black_box(
                full_window
                    .check_at(black_box(1), black_box(NOW))
                    .retry_after_ns(),
            )
        })
    });
    let full_bucket = Limiter::builder(Quota::per_second(30).unwrap().with_burst(60).unwrap())
        .clock(ManualClock::new())
        .build();
    full_bucket.check_at(60, NOW);
    group.bench_function("floodgate/bucket check denied", |b| {
        b.iter(|| {
            black_box(
                full_bucket
                    .check_at(black_box(1), black_box(NOW))
                    .retry_after_ns(),
            )
        })
    });
    let full_governor = RateLimiter::direct_with_clock(
        GovernorQuota::per_second(NonZeroU32::new(30).unwrap())
            .allow_burst(NonZeroU32::new(60).unwrap()),
        FakeRelativeClock::default(),
    );
    while full_governor.check().is_ok() {}
    group.bench_function("governor/direct check denied", |b| {
        b.iter(|| black_box(full_governor.check().is_err()))
    });

    // In flight: acquire then release, uncontended.
    let cap = InFlight::builder(4).build().unwrap();
    group.bench_function("floodgate/inflight acquire+release", |b| {
        b.iter(|| black_box(cap.try_acquire().permit().map(|permit| permit.in_flight())))
    });
    let naive = Mutex::new(0u64);
    group.bench_function("mutex counter/acquire+release", |b| {
        b.iter(|| {
            let admitted = {
                let mut out = naive.lock().unwrap();
                let admitted = *out < 4;
                if admitted {
                    *out += 1;
                }
                admitted
            };
            if admitted {
                *naive.lock().unwrap() -= 1;
            }
            black_box(admitted)
        })
    });
    let token_cap = InFlight::builder(4).build().unwrap();
    group.bench_function("floodgate/inflight token acquire+release", |b| {
        b.iter(|| {
            let token = token_cap.try_acquire().permit().unwrap().into_token();
            black_box(token_cap.release(token).unwrap())
        })
    });
    group.finish();
}

fn rendering(c: &mut Criterion) {
    let mut group = c.benchmark_group("policies");
    let window = SlidingWindow::builder(600, Duration::from_secs(60))
        .clock(ManualClock::new())
        .build()
        .unwrap();
    window.check_at(600, NOW);
    let denied = window.check_at(1, NOW);
    let headers = Headers::new()
        .with_policy(RateLimitPolicy::new("workspace", 600, Duration::from_secs(60)).unwrap());
    let now_unix_ns = 1_776_688_380_000_000_000;
    group.bench_function("floodgate/render 429 headers", |b| {
        b.iter(|| {
            black_box(
                headers
                    .render_at(black_box(&denied), Scope::Workspace, now_unix_ns)
                    .len(),
            )
        })
    });
    let body = floodgate::presets::genieos::workspace_body();
    group.bench_function("floodgate/render 429 body", |b| {
        b.iter(|| {
            black_box(
                body.render(black_box(&denied), Scope::Workspace, "req_01JABCDEFGH")
                    .len(),
            )
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = checks, rendering
}
criterion_main!(benches);
