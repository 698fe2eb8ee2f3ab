//! The C ABI's overhead: the same check through `fg_limiter_*` (called as C
//! calls it: an out-of-line `extern "C"` function, pointer checks, panic
//! guard, decision written through a pointer) and through the Rust API, in one
//! run. Run: `cargo bench --bench ffi`.
//!
//! A Rust `Decision` computes its figures (remaining, reset, retry-after) only
//! when read, while `fg_decision` carries them all, so the Rust baseline reads
//! every figure: the same information a C caller gets. "figures unread" shows
//! the Rust check alone, for reference.
#![allow(missing_docs)] // criterion_group! generates undocumented public functions

use criterion::{criterion_group, criterion_main, Criterion};
use floodgate::ffi::{
    fg_limiter_check, fg_limiter_check_at, fg_limiter_free, fg_limiter_new, FgDecision, FgLimiter,
    FgOutcome, FgQuota, FgStatus,
};
use floodgate::Decision;
use floodgate::{Limiter, Quota};
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::time::Duration;

/// One unit per nanosecond with a large burst: advancing the supplied time by
/// 1 ns per check keeps every check admitted, so each one charges the bucket.
const COUNT: u64 = 1_000_000_000;
const BURST: u64 = 1_000_000;

/// A limiter owned through the C ABI, freed on drop.
struct CLimiter(*mut FgLimiter);

impl CLimiter {
    fn new(count: u64, burst: u64) -> Self {
        let quota = FgQuota {
            struct_size: std::mem::size_of::<FgQuota>(),
            count,
            period_ns: 1_000_000_000,
            burst,
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

fn empty_decision() -> MaybeUninit<FgDecision> {
    MaybeUninit::uninit()
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

fn check_at(c: &mut Criterion) {
    let mut group = c.benchmark_group("c_abi/check_at admitted");
    let rust = Limiter::new(Quota::per_second(COUNT).unwrap().with_burst(BURST).unwrap());
    let mut now = 0u64;
    group.bench_function("floodgate (Rust)", |b| {
        b.iter(|| {
            now += 1;
            black_box(read_all(rust.check_at(black_box(1), now)))
        })
    });
    group.bench_function("floodgate (Rust, figures unread)", |b| {
        b.iter(|| {
            now += 1;
            black_box(rust.check_at(black_box(1), now))
        })
    });
    let c_limiter = CLimiter::new(COUNT, BURST);
    let mut decision = empty_decision();
    let mut now = 0u64;
    group.bench_function("floodgate (C ABI)", |b| {
        b.iter(|| {
            now += 1;
            // SAFETY: a live handle and a writable decision.
            let status = unsafe {
                fg_limiter_check_at(c_limiter.0, black_box(1), now, decision.as_mut_ptr())
            };
            black_box((status, &decision));
        })
    });
    // SAFETY: the last check above wrote it.
    let last = unsafe { decision.assume_init() };
    assert_eq!(last.outcome, FgOutcome::Admitted);
    group.finish();
}

fn check_at_denied(c: &mut Criterion) {
    let mut group = c.benchmark_group("c_abi/check_at denied");
    let rust = Limiter::new(Quota::per_second(1).unwrap());
    rust.check_at(1, 0);
    group.bench_function("floodgate (Rust)", |b| {
        b.iter(|| black_box(read_all(rust.check_at(black_box(1), 0))))
    });
    group.bench_function("floodgate (Rust, figures unread)", |b| {
        b.iter(|| black_box(rust.check_at(black_box(1), 0)))
    });
    let c_limiter = CLimiter::new(1, 1);
    let mut decision = empty_decision();
    // SAFETY: a live handle and a writable decision.
    unsafe { fg_limiter_check_at(c_limiter.0, 1, 0, decision.as_mut_ptr()) };
    group.bench_function("floodgate (C ABI)", |b| {
        b.iter(|| {
            // SAFETY: a live handle and a writable decision.
            let status =
                unsafe { fg_limiter_check_at(c_limiter.0, black_box(1), 0, decision.as_mut_ptr()) };
            black_box((status, &decision));
        })
    });
    // SAFETY: written by the checks above.
    assert_eq!(unsafe { decision.assume_init() }.outcome, FgOutcome::Denied);
    group.finish();
}

fn check_clock(c: &mut Criterion) {
    let mut group = c.benchmark_group("c_abi/check (monotonic clock)");
    let rust = Limiter::new(Quota::per_second(COUNT).unwrap().with_burst(BURST).unwrap());
    group.bench_function("floodgate (Rust)", |b| {
        b.iter(|| black_box(read_all(rust.check(black_box(1)))))
    });
    let c_limiter = CLimiter::new(COUNT, BURST);
    let mut decision = empty_decision();
    group.bench_function("floodgate (C ABI)", |b| {
        b.iter(|| {
            // SAFETY: a live handle and a writable decision.
            let status =
                unsafe { fg_limiter_check(c_limiter.0, black_box(1), decision.as_mut_ptr()) };
            black_box((status, &decision));
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = check_at, check_at_denied, check_clock
}
criterion_main!(benches);
