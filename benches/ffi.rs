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
//! functions, so each workload also has a paired measurement, printed after
//! criterion's: many rounds, each timing a block of Rust calls and a block of
//! C ABI calls back to back (which goes first alternates), so both blocks of
//! a round see the same load. It reports the medians over rounds of each
//! side's time per call and of their difference, with the 10th to 90th
//! percentile of the difference: the C ABI's overhead and how much it moved.
//! The keyed workload adds two more pairs: Rust reading only the verdict
//! against Rust reading every figure (the part of the C ABI's cost that is
//! computing the figures `fg_decision` returns, whether the caller reads
//! them or not), and Rust against the C ABI on one table, both opening the
//! same shared segment: two keyed limiters draw different hash secrets,
//! and two tables' speeds differ by instance.
#![allow(missing_docs)] // criterion_group! generates undocumented public functions

use criterion::{criterion_group, criterion_main, Criterion};
use floodgate::ffi::{
    fg_keyed_limiter_check_u64_at, fg_keyed_limiter_free, fg_keyed_limiter_new,
    fg_keyed_limiter_new_shared, fg_limiter_check, fg_limiter_check_at, fg_limiter_free,
    fg_limiter_new, FgDecision, FgKeyedConfig, FgKeyedLimiter, FgLimiter, FgOutcome, FgQuota,
    FgSharedMemory, FgStatus, FG_KEY_U64,
};
use floodgate::{Decision, KeyedLimiter, Limiter, Quota, SharedMemory};
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
    /// On the heap.
    fn new(count: u64, burst: u64, capacity: u64) -> Self {
        Self::placed(count, burst, capacity, None)
    }

    /// In the shared segment at `path` (see `fg_keyed_limiter_new_shared`).
    fn shared(count: u64, burst: u64, capacity: u64, path: &std::path::Path) -> Self {
        let path = path.to_str().expect("a UTF-8 temporary path");
        let shared = FgSharedMemory {
            struct_size: std::mem::size_of::<FgSharedMemory>(),
            name: std::ptr::null(),
            name_len: 0,
            path: path.as_ptr().cast(),
            path_len: path.len(),
            wait_ms: 0,
        };
        Self::placed(count, burst, capacity, Some(&shared))
    }

    fn placed(count: u64, burst: u64, capacity: u64, shared: Option<&FgSharedMemory>) -> Self {
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
        // SAFETY: every pointer is to a live local of the right type, and
        // `shared`'s path to a live string of `path_len` bytes.
        let status = unsafe {
            match shared {
                None => fg_keyed_limiter_new(&config, &quota, &mut handle),
                Some(shared) => fg_keyed_limiter_new_shared(&config, &quota, shared, &mut handle),
            }
        };
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

/// Benchmarks one workload with criterion, Rust and C ABI each on its own,
/// then paired (see [`paired`]).
fn compare(c: &mut Criterion, workload: &str, mut rust: impl FnMut(), mut c_abi: impl FnMut()) {
    let mut group = c.benchmark_group(format!("c_abi/{workload}"));
    group.bench_function("floodgate (Rust)", |b| b.iter(&mut rust));
    group.bench_function("floodgate (C ABI)", |b| b.iter(&mut c_abi));
    group.finish();
    paired(workload, ["Rust", "C ABI"], rust, c_abi);
}

/// Calls per block of a paired round: enough that the two clock reads around
/// a block (some 20 ns) are under 0.1 % of it.
const BLOCK: u32 = 4_096;

/// Nanoseconds per call over one block of `run` calls (generic, so each
/// side's calls are compiled into its own loop as criterion's are).
fn per_call_ns(run: &mut impl FnMut()) -> f64 {
    let start = Instant::now();
    (0..BLOCK).for_each(|_| run());
    start.elapsed().as_secs_f64() * 1e9 / f64::from(BLOCK)
}

/// Rounds of the paired measurement under `cargo bench`; `cargo test
/// --benches` runs a few, to check that it runs.
const ROUNDS: usize = 2_001;

/// The paired measurement: [`ROUNDS`] rounds of one block of [`BLOCK`] calls
/// of each side (named by `sides`), printed as the median time per call of
/// each, and the median (10th to 90th percentile) of the per-round
/// difference, second side minus first.
fn paired(workload: &str, sides: [&str; 2], mut first: impl FnMut(), mut second: impl FnMut()) {
    // criterion's own arguments: `--bench` under `cargo bench`, then an
    // optional filter that this measurement honours as criterion does.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(filter) = args.iter().find(|arg| !arg.starts_with('-')) {
        if !format!("c_abi/{workload}/paired").contains(filter.as_str()) {
            return;
        }
    }
    let rounds = if args.iter().any(|arg| arg == "--bench") {
        ROUNDS
    } else {
        3
    };
    let (mut first_ns, mut second_ns, mut extra_ns) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = per_call_ns(&mut first);
            (a, per_call_ns(&mut second))
        } else {
            let b = per_call_ns(&mut second);
            (per_call_ns(&mut first), b)
        };
        first_ns.push(a);
        second_ns.push(b);
        extra_ns.push(b - a);
    }
    let quantile = |values: &mut Vec<f64>, q: f64| {
        values.sort_by(f64::total_cmp);
        values[((values.len() - 1) as f64 * q).round() as usize]
    };
    let [first_name, second_name] = sides;
    println!(
        "c_abi/{workload}/paired ({rounds} rounds of {BLOCK} calls each): \
         {first_name} {:.2} ns, {second_name} {:.2} ns, difference {:.2} ns \
         (10th-90th percentile {:.2} to {:.2} ns)",
        quantile(&mut first_ns, 0.5),
        quantile(&mut second_ns, 0.5),
        quantile(&mut extra_ns, 0.5),
        quantile(&mut extra_ns, 0.1),
        quantile(&mut extra_ns, 0.9),
    );
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

/// Ids the keyed workload cycles through.
const KEYS: u64 = 64;

/// A check by `u64` key over 64 keys (ids cycling), each admitted: the
/// keyed hot path through the ABI and through `KeyedLimiter<u64>`.
fn keyed_u64_check_at(c: &mut Criterion) {
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
    let (rust_side, c_side) = keyed_sides(&rust, &c_keyed, &mut decision);
    compare(c, "keyed u64 check_at admitted", rust_side, c_side);
    // The workload is what it says: every key's bucket keeps room (checked
    // at 2^40 ns, after every check made, when it can only have more).
    // SAFETY: a live handle and a writable decision, initialised by the call.
    let admitted = unsafe {
        fg_keyed_limiter_check_u64_at(c_keyed.0, 7, 1, 1 << 40, decision.as_mut_ptr());
        decision.assume_init()
    };
    assert_eq!(admitted.outcome, FgOutcome::Admitted);
    // What `fg_decision`'s figures cost on their own: a Rust caller that
    // reads only the verdict skips two divisions that the ABI cannot, as it
    // returns every figure. Fresh limiters, their time starting at 0 again.
    let new_limiter = || {
        KeyedLimiter::<u64>::builder(quota)
            .capacity(4_096)
            .build()
            .unwrap()
    };
    let (verdict_only, every_figure) = (new_limiter(), new_limiter());
    let (mut verdict_now, mut figures_now) = (0u64, 0u64);
    paired(
        "keyed u64 check_at admitted, figures read",
        ["Rust verdict only", "Rust every figure"],
        || {
            verdict_now += 1;
            let decision = verdict_only.check_at(&(verdict_now % KEYS), black_box(1), verdict_now);
            black_box(decision.is_admitted());
        },
        || {
            figures_now += 1;
            black_box(read_all(every_figure.check_at(
                &(figures_now % KEYS),
                black_box(1),
                figures_now,
            )));
        },
    );
    // Each keyed limiter draws its own hash secret, and two tables' speeds
    // differ by instance (the pair above differs by as much as the ABI's
    // overhead): the ABI's overhead on one table, both sides opening the
    // same shared segment, so the same keys in the same slots.
    let segment = SharedMemory::at(
        std::env::temp_dir().join(format!("floodgate-ffi-bench-{}", std::process::id())),
    );
    let rust = KeyedLimiter::<u64>::builder(quota)
        .capacity(4_096)
        .shared(segment.clone())
        .build()
        .unwrap();
    let c_keyed = CKeyed::shared(FAST_COUNT, FAST_BURST, 4_096, segment.path());
    let (rust_side, c_side) = keyed_sides(&rust, &c_keyed, &mut decision);
    paired(
        "keyed u64 check_at admitted, one table",
        ["Rust", "C ABI"],
        rust_side,
        c_side,
    );
    segment.remove().unwrap();
}

/// The keyed workload's two sides: each call checks the next of [`KEYS`]
/// ids, a nanosecond after its side's previous call, through `rust` and
/// through `c_keyed` (its decision written to `decision`).
fn keyed_sides<'a>(
    rust: &'a KeyedLimiter<u64>,
    c_keyed: &'a CKeyed,
    decision: &'a mut MaybeUninit<FgDecision>,
) -> (impl FnMut() + 'a, impl FnMut() + 'a) {
    let (mut rust_now, mut c_now) = (0u64, 0u64);
    let rust_side = move || {
        rust_now += 1;
        black_box(read_all(rust.check_at(
            &(rust_now % KEYS),
            black_box(1),
            rust_now,
        )));
    };
    let c_side = move || {
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
        black_box((status, &*decision));
    };
    (rust_side, c_side)
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
