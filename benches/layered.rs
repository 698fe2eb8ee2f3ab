//! A layered check (GenieOS Hobby: key bucket + workspace window) next to a
//! single keyed check, same run. Target: the two layers cost at most twice
//! the single check.
//!
//! `cargo bench --bench layered`

#![allow(missing_docs)] // criterion_main! generates an undocumented `pub fn main`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use floodgate::{KeyedLimiter, ManualClock, Plans, Quota};
use std::time::Duration;

const KEYS: usize = 1_000;

fn layered(c: &mut Criterion) {
    let clock = ManualClock::new();
    // 100/s with a huge burst: a key revisited 1 ms later is still in debt
    // (so it keeps its slot) and never runs out during the run, so every
    // check is admitted and charged: the path that writes both layers.
    let quota = Quota::per_second(100)
        .unwrap()
        .with_burst(10_000_000)
        .unwrap();
    let keyed: KeyedLimiter<str, ManualClock> = KeyedLimiter::<str>::builder(quota)
        .capacity(4 * KEYS)
        .clock(clock.clone())
        .build()
        .unwrap();
    let plans: Plans<str, u64, ManualClock> = floodgate::presets::genieos::plans()
        .unwrap()
        .tier(
            "bench",
            floodgate::TierLimits {
                per_key: Some(quota),
                per_workspace: Some(floodgate::MAX_WINDOW_LIMIT),
            },
        )
        .key_capacity(4 * KEYS)
        .clock(clock.clone())
        .build()
        .unwrap();
    let tier = plans.tier("bench").unwrap();
    let names: Vec<String> = (0..KEYS).map(|i| format!("gos_live_{i:08}")).collect();

    let mut group = c.benchmark_group("layered");
    let mut now = 0u64;
    let mut next = 0usize;
    group.bench_function("single keyed check (str key)", |b| {
        b.iter(|| {
            now += 1_000;
            next = (next + 1) % KEYS;
            black_box(keyed.check_at(&names[next], 1, now).unwrap().is_admitted())
        })
    });
    group.bench_function("two layers: key bucket + workspace window", |b| {
        b.iter(|| {
            now += 1_000;
            next = (next + 1) % KEYS;
            let workspace = (next % 16) as u64;
            black_box(
                plans
                    .check_at(tier, &names[next], &workspace, 1, now)
                    .unwrap()
                    .is_admitted(),
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
    targets = layered
}
criterion_main!(benches);
