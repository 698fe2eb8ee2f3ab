//! The keyed limiter next to governor 0.10's keyed limiter (DashMap store),
//! same run, same workloads, both reading their default quanta clock:
//!
//! * u64 keys: one key; 1M keys in random order (every key inserted first);
//! * 100k API-key-like strings (`sk_live_` + 24 alphanumerics) in random order;
//! * 1M u64 keys from 1 thread and from 2 threads on distinct halves (time
//!   per check = wall time / all checks, so 2 threads ideally halve it);
//! * memory per key (resident bytes / keys) at 1M u64 keys and 100k string
//!   keys, each measured in a fresh child process from /proc/self/statm.
//!
//! Every check is admitted and writes: many-key workloads use 1/minute with
//! a burst of 100k, so every bucket stays in debt (live, never reclaimed); the
//! one-key workload uses 100M/s. floodgate tables are built for 1.25x the keys.
//!
//! `cargo bench --bench keyed`

#![allow(missing_docs)] // criterion_group! generates undocumented items

#[path = "common/keys.rs"]
mod keys;

use criterion::{black_box, criterion_group, Criterion};
use floodgate::{KeyedLimiter, Quota};
use governor::{DefaultKeyedRateLimiter, Quota as GovernorQuota, RateLimiter};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

const U64_KEYS: usize = 1_000_000;
const STRING_KEYS: usize = 100_000;
/// Set in a child process to measure one memory case (see `memory_report`).
const MEMORY_CASE: &str = "FLOODGATE_KEYED_MEMORY_CASE";

/// A quota in both libraries' terms.
#[derive(Clone, Copy)]
struct Rate {
    floodgate: fn() -> Quota,
    governor: fn() -> GovernorQuota,
}

/// Many-key workloads: 1 per minute with a burst of 100k keeps every key's
/// bucket in debt for the whole run (so no slot is reclaimed and every key
/// stays live) while every check is admitted and writes.
const ACTIVE: Rate = Rate {
    floodgate: || Quota::per_minute(1).unwrap().with_burst(100_000).unwrap(),
    governor: || {
        GovernorQuota::per_minute(NonZeroU32::new(1).unwrap())
            .allow_burst(NonZeroU32::new(100_000).unwrap())
    },
};

/// The one-key workload: fast enough that the hammered key is admitted.
const ROOMY: Rate = Rate {
    floodgate: || {
        Quota::per_second(100_000_000)
            .unwrap()
            .with_burst(1_000)
            .unwrap()
    },
    governor: || {
        GovernorQuota::per_second(NonZeroU32::new(100_000_000).unwrap())
            .allow_burst(NonZeroU32::new(1_000).unwrap())
    },
};

fn floodgate_u64(capacity: usize, rate: Rate) -> KeyedLimiter<u64> {
    KeyedLimiter::builder((rate.floodgate)())
        .capacity(capacity)
        .build()
        .unwrap()
}

fn floodgate_str(capacity: usize) -> KeyedLimiter<str> {
    KeyedLimiter::builder((ACTIVE.floodgate)())
        .capacity(capacity)
        .build()
        .unwrap()
}

fn governor<K: Hash + Eq + Clone>(rate: Rate) -> DefaultKeyedRateLimiter<K> {
    RateLimiter::keyed((rate.governor)())
}

fn capacity_for(keys: usize) -> usize {
    keys + keys / 4
}

/// Times `iters` calls of `check` walking `keys` cyclically from `start`.
fn walk<K>(keys: &[K], start: usize, iters: u64, check: impl Fn(&K) -> bool) -> Duration {
    let began = Instant::now();
    let mut index = start;
    for _ in 0..iters {
        black_box(check(&keys[index]));
        index += 1;
        if index == keys.len() {
            index = 0;
        }
    }
    began.elapsed()
}

/// Like `walk` split over `threads` threads, each on its own slice of `keys`;
/// returns wall time for all `iters` checks.
fn walk_threads<K: Sync>(
    keys: &[K],
    threads: usize,
    iters: u64,
    check: impl Fn(&K) -> bool + Sync,
) -> Duration {
    let share = keys.len() / threads;
    let began = Instant::now();
    thread::scope(|scope| {
        for part in keys.chunks(share).take(threads) {
            let check = &check;
            scope.spawn(move || walk(part, 0, iters / threads as u64, check));
        }
    });
    began.elapsed()
}

fn one_u64_key(c: &mut Criterion) {
    let mut group = c.benchmark_group("keyed/u64 1 key");
    let floodgate = floodgate_u64(1024, ROOMY);
    group.bench_function("floodgate", |b| {
        b.iter(|| floodgate.check(black_box(&42), 1).is_admitted())
    });
    let governor = governor::<u64>(ROOMY);
    group.bench_function("governor", |b| {
        b.iter(|| governor.check_key(black_box(&42)).is_ok())
    });
    group.finish();
}

fn many_u64_keys(c: &mut Criterion) {
    let keys = keys::random_words(U64_KEYS, 1);
    let mut group = c.benchmark_group("keyed/u64 1M keys random");
    let floodgate = floodgate_u64(capacity_for(U64_KEYS), ACTIVE);
    keys.iter()
        .for_each(|key| assert!(floodgate.check(key, 1).is_admitted()));
    group.bench_function("floodgate", |b| {
        b.iter_custom(|iters| walk(&keys, 0, iters, |key| floodgate.check(key, 1).is_admitted()))
    });
    group.bench_function("floodgate 2 threads", |b| {
        b.iter_custom(|iters| {
            walk_threads(&keys, 2, iters, |key| floodgate.check(key, 1).is_admitted())
        })
    });
    drop(floodgate);
    let governor = governor::<u64>(ACTIVE);
    keys.iter()
        .for_each(|key| assert!(governor.check_key(key).is_ok()));
    group.bench_function("governor", |b| {
        b.iter_custom(|iters| walk(&keys, 0, iters, |key| governor.check_key(key).is_ok()))
    });
    group.bench_function("governor 2 threads", |b| {
        b.iter_custom(|iters| walk_threads(&keys, 2, iters, |key| governor.check_key(key).is_ok()))
    });
    group.finish();
}

fn string_keys(c: &mut Criterion) {
    let keys = keys::api_keys(STRING_KEYS);
    let mut group = c.benchmark_group("keyed/100k string keys random");
    let floodgate = floodgate_str(capacity_for(STRING_KEYS));
    keys.iter()
        .for_each(|key| assert!(floodgate.check(key, 1).unwrap().is_admitted()));
    group.bench_function("floodgate", |b| {
        b.iter_custom(|iters| {
            walk(&keys, 0, iters, |key| {
                floodgate.check(key, 1).is_ok_and(|d| d.is_admitted())
            })
        })
    });
    let governor = governor::<String>(ACTIVE);
    keys.iter()
        .for_each(|key| assert!(governor.check_key(key).is_ok()));
    group.bench_function("governor", |b| {
        b.iter_custom(|iters| walk(&keys, 0, iters, |key| governor.check_key(key).is_ok()))
    });
    group.finish();
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Runs in a child process: builds one limiter, checks every key once,
/// prints resident bytes gained per key.
fn measure_memory(case: &str) {
    let (bytes, held) = match case {
        "floodgate u64" => {
            let keys = keys::random_words(U64_KEYS, 1);
            let base = resident_bytes();
            let limiter = floodgate_u64(capacity_for(U64_KEYS), ACTIVE);
            keys.iter()
                .for_each(|key| assert!(limiter.check(key, 1).is_admitted()));
            (resident_bytes() - base, limiter.len())
        }
        "governor u64" => {
            let keys = keys::random_words(U64_KEYS, 1);
            let base = resident_bytes();
            let limiter = governor::<u64>(ACTIVE);
            keys.iter()
                .for_each(|key| assert!(limiter.check_key(key).is_ok()));
            (resident_bytes() - base, limiter.len())
        }
        "floodgate string" => {
            let keys = keys::api_keys(STRING_KEYS);
            let base = resident_bytes();
            let limiter = floodgate_str(capacity_for(STRING_KEYS));
            keys.iter()
                .for_each(|key| assert!(limiter.check(key, 1).unwrap().is_admitted()));
            (resident_bytes() - base, limiter.len())
        }
        "governor string" => {
            let keys = keys::api_keys(STRING_KEYS);
            let base = resident_bytes();
            let limiter = governor::<String>(ACTIVE);
            // governor stores its own String per key: clone as a caller would.
            keys.iter()
                .for_each(|key| assert!(limiter.check_key(&key.clone()).is_ok()));
            (resident_bytes() - base, limiter.len())
        }
        other => panic!("unknown memory case {other}"),
    };
    println!("{bytes} {held}");
}

/// Prints memory per key for every case, each from a fresh child process.
fn memory_report() {
    let exe = std::env::current_exe().expect("bench executable");
    println!("memory per key (resident bytes gained / keys held):");
    for case in [
        "floodgate u64",
        "governor u64",
        "floodgate string",
        "governor string",
    ] {
        let output = Command::new(&exe)
            .env(MEMORY_CASE, case)
            .output()
            .expect("memory child");
        let text = String::from_utf8_lossy(&output.stdout);
        let mut fields = text
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        let (bytes, held) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
        println!(
            "  {case:17} {:>6.1} B/key ({bytes} bytes, {held} keys)",
            bytes as f64 / held.max(1) as f64
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = one_u64_key, many_u64_keys, string_keys
}

fn main() {
    if let Ok(case) = std::env::var(MEMORY_CASE) {
        measure_memory(&case);
        return;
    }
    if !std::env::args().any(|arg| arg == "--list") {
        memory_report();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
