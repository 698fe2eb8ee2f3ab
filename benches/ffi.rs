//! The C ABI's overhead: the same check through `fg_limiter_*` and
//! `fg_keyed_limiter_check_u64_at` (called as C
//! calls it: an out-of-line `extern "C"` function, pointer checks, panic
//! guard, decision written through a pointer) and through the Rust API, in one
//! run. Run: `cargo bench --features capi --bench ffi`.
//!
//! A Rust `Decision` computes its figures (remaining, reset, retry-after) only
//! when read, while `fg_decision` carries them all, so the Rust baseline reads
//! every figure: the same information a C caller gets.
//!
//! The machine is shared and its load drifts between criterion's runs of two
//! functions, so each workload also has a paired measurement: Rust and C ABI
//! calls alternate in chunks of 256 inside one sample, and the sample reports
//! the C ABI's extra time (clamped at 0, which only overstates it).
#![allow(missing_docs)] // criterion_group! generates undocumented public functions

use criterion::{criterion_group, criterion_main, Criterion};
use floodgate::ffi::{
    fg_keyed_limiter_check_u64_at, fg_keyed_limiter_free, fg_keyed_limiter_new, fg_limiter_check,
    fg_limiter_check_at, fg_limiter_free, fg_limiter_new, FgDecision, FgKeyedConfig,
    FgKeyedLimiter, FgLimiter, FgOutcome, FgQuota, FgStatus, FG_KEY_U64,
};
use floodgate::{Decision, KeyedLimiter, Limiter, Quota};
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

/// One unit per nanosecond with a large burst: advancing the supplied time by
/// 1 ns per check keeps every check admitted, so each one charges the bucket.
const FAST_COUNT: u64 = 1_000_000_000;
const FAST_BURST: u64 = 1_000_000;

/// A limiter owned through the C ABI, freed on drop.
struct CLimiter(*mut FgLimiter);

impl CLimiter {
    fn new(count: u64, burst: u64) -> Self {
        let quota = FgQuota {
            struct_size: std::mem::size_of::<FgQuota>(),
            count,
            period_ns: 1_000_000_000,
            burst,
            lockout_ns: 0,
        };
        let mut handle = std::ptr::null_mut();
        // SAFETY: both pointers are to live locals of the right types.
        let status = unsafe { fg_limiter_new(&quota, &mut handle) };
        assert_eq!(status, FgStatus::Ok);
        Self(handle)
    }
}

impl Drop for CLimiter {
    fn drop(&mut self) {
        // SAFETY: created by fg_limiter_new, freed once, no other user left.
        unsafe { fg_limiter_free(self.0) }
    }
}

/// A keyed limiter owned through the C ABI, freed on drop.
struct CKeyed(*mut FgKeyedLimiter);

impl CKeyed {
    fn new(count: u64, burst: u64, capacity: u64) -> Self {
        let config = FgKeyedConfig {
            struct_size: std::mem::size_of::<FgKeyedConfig>(),
            key_kind: FG_KEY_U64,
            on_full: 0,
            capacity,
            max_overrides: 0,
        };
        let quota = FgQuota {
            struct_size: std::mem::size_of::<FgQuota>(),
            count,
            period_ns: 1_000_000_000,
            burst,
            lockout_ns: 0,
        };
        let mut handle = std::ptr::null_mut();
        // SAFETY: all three pointers are to live locals of the right types.
        let status = unsafe { fg_keyed_limiter_new(&config, &quota, &mut handle) };
        assert_eq!(status, FgStatus::Ok);
        Self(handle)
    }
}

impl Drop for CKeyed {
    fn drop(&mut self) {
        // SAFETY: created by fg_keyed_limiter_new, freed once, no other user left.
        unsafe { fg_keyed_limiter_free(self.0) }
    }
}

/// Everything `fg_decision` carries, read from a Rust decision.
fn read_all(decision: Decision) -> (bool, u64, u64, u64, u64) {
    (
        decision.is_admitted(),
        decision.limit(),
        decision.remaining(),
        decision.reset_after_ns(),
        decision.retry_after_ns(),
    )
}

/// Benchmarks one workload three ways: Rust, C ABI, and their paired difference.
fn compare(c: &mut Criterion, workload: &str, mut rust: impl FnMut(), mut c_abi: impl FnMut()) {
    let mut group = c.benchmark_group(format!("c_abi/{workload}"));
    group.bench_function("floodgate (Rust)", |b| b.iter(&mut rust));
    group.bench_function("floodgate (C ABI)", |b| b.iter(&mut c_abi));
    group.bench_function("difference (paired)", |b| {
        b.iter_custom(|iterations| {
            const CHUNK: u64 = 256;
            let (mut rust_time, mut c_time) = (Duration::ZERO, Duration::ZERO);
            let mut left = iterations;
            while left > 0 {
                let chunk = left.min(CHUNK);
                let start = Instant::now();
                (0..chunk).for_each(|_| rust());
                rust_time += start.elapsed();
                let start = Instant::now();
                (0..chunk).for_each(|_| c_abi());
                c_time += start.elapsed();
                left -= chunk;
            }
            c_time.saturating_sub(rust_time)
        })
    });
    group.finish();
}

fn check_at_admitted(c: &mut Criterion) {
    let rust = Limiter::builder(
        Quota::per_second(FAST_COUNT)
            .unwrap()
            .with_burst(FAST_BURST)
            .unwrap(),
    )
    .build();
    let c_limiter = CLimiter::new(FAST_COUNT, FAST_BURST);
    let mut decision = MaybeUninit::<FgDecision>::uninit();
    let (mut rust_now, mut c_now) = (0u64, 0u64);
    compare(
        c,
        "check_at admitted",
        || {
            rust_now += 1;
            black_box(read_all(rust.check_at(black_box(1), rust_now)));
        },
        || {
            c_now += 1;
            // SAFETY: a live handle and a writable decision.
            let status = unsafe {
                fg_limiter_check_at(c_limiter.0, black_box(1), c_now, decision.as_mut_ptr())
            };
            black_box((status, &decision));
        },
    );
    // The workload is what it says: the bucket never runs dry.
    // SAFETY: a live handle and a writable decision, initialised by the call.
    let admitted = unsafe {
        fg_limiter_check_at(c_limiter.0, 1, c_now + 1, decision.as_mut_ptr());
        decision.assume_init()
    };
    assert_eq!(admitted.outcome, FgOutcome::Admitted);
}

fn check_at_denied(c: &mut Criterion) {
    let rust = Limiter::builder(Quota::per_second(1).unwrap()).build();
    rust.check_at(1, 0);
    let c_limiter = CLimiter::new(1, 1);
    let mut decision = MaybeUninit::<FgDecision>::uninit();
    // SAFETY: a live handle and a writable decision.
    unsafe { fg_limiter_check_at(c_limiter.0, 1, 0, decision.as_mut_ptr()) };
    compare(
        c,
        "check_at denied",
        || {
            black_box(read_all(rust.check_at(black_box(1), 0)));
        },
        || {
            // SAFETY: a live handle and a writable decision.
            let status =
                unsafe { fg_limiter_check_at(c_limiter.0, black_box(1), 0, decision.as_mut_ptr()) };
            black_box((status, &decision));
        },
    );
    // The workload is what it says: the bucket is empty at time 0.
    // SAFETY: a live handle and a writable decision, initialised by the call.
    let denied = unsafe {
        fg_limiter_check_at(c_limiter.0, 1, 0, decision.as_mut_ptr());
        decision.assume_init()
    };
    assert_eq!(denied.outcome, FgOutcome::Denied);
}

fn check_with_clock(c: &mut Criterion) {
    let rust = Limiter::builder(
        Quota::per_second(FAST_COUNT)
            .unwrap()
            .with_burst(FAST_BURST)
            .unwrap(),
    )
    .build();
    let c_limiter = CLimiter::new(FAST_COUNT, FAST_BURST);
    let mut decision = MaybeUninit::<FgDecision>::uninit();
    compare(
        c,
        "check (monotonic clock)",
        || {
            black_box(read_all(rust.check(black_box(1))));
        },
        || {
            // SAFETY: a live handle and a writable decision.
            let status =
                unsafe { fg_limiter_check(c_limiter.0, black_box(1), decision.as_mut_ptr()) };
            black_box((status, &decision));
        },
    );
}

/// A check by `u64` key over 64 keys (ids cycling), each admitted: the
/// keyed hot path through the ABI and through `KeyedLimiter<u64>`.
fn keyed_u64_check_at(c: &mut Criterion) {
    const KEYS: u64 = 64;
    let quota = Quota::per_second(FAST_COUNT)
        .unwrap()
        .with_burst(FAST_BURST)
        .unwrap();
    let rust = KeyedLimiter::<u64>::builder(quota)
        .capacity(4_096)
        .build()
        .unwrap();
    let c_keyed = CKeyed::new(FAST_COUNT, FAST_BURST, 4_096);
    let mut decision = MaybeUninit::<FgDecision>::uninit();
    let (mut rust_now, mut c_now) = (0u64, 0u64);
    compare(
        c,
        "keyed u64 check_at admitted",
        || {
            rust_now += 1;
            black_box(read_all(rust.check_at(
                &(rust_now % KEYS),
                black_box(1),
                rust_now,
            )));
        },
        || {
            c_now += 1;
            // SAFETY: a live handle and a writable decision.
            let status = unsafe {
                fg_keyed_limiter_check_u64_at(
                    c_keyed.0,
                    c_now % KEYS,
                    black_box(1),
                    c_now,
                    decision.as_mut_ptr(),
                )
            };
            black_box((status, &decision));
        },
    );
    // The workload is what it says: every key's bucket keeps room.
    // SAFETY: a live handle and a writable decision, initialised by the call.
    let admitted = unsafe {
        fg_keyed_limiter_check_u64_at(c_keyed.0, 7, 1, c_now + 1, decision.as_mut_ptr());
        decision.assume_init()
    };
    assert_eq!(admitted.outcome, FgOutcome::Admitted);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = check_at_admitted, check_at_denied, check_with_clock, keyed_u64_check_at
}
criterion_main!(benches);
