//! Issue 15: what shared mode costs a check, and how it scales across
//! processes, in one run:
//!
//! * a check of a limiter built `.shared(..)` (its tables in a segment in
//!   /dev/shm) next to the same limiter on the heap: one key, and 1M `u64`
//!   keys walked in a fixed random order; with a supplied time (the engine
//!   alone) and with each one's default clock (the heap one reads the TSC,
//!   the shared one `CLOCK_MONOTONIC`, the machine-wide timeline it needs);
//! * checks per second of one process, then of two processes at once, each
//!   walking its own keys of one shared 1M-key table for a fixed time.
//!
//! Rows are interleaved rounds (see `common/rounds.rs`): the machine is
//! shared and noisy, so ratios within a row are what to read.
//!
//! `cargo bench --bench shared` (a row filter may follow `--`)

#![allow(missing_docs)]

#[path = "common/keys.rs"]
mod keys;
#[path = "common/rounds.rs"]
mod rounds;

use floodgate::{Clock, KeyedLimiter, Limiter, ManualClock, Quota, SharedMemory};
use rounds::{race, repeat, Walk};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEYS: usize = 1_000_000;
/// Set in a child process of the scaling row: `<segment path> <first key> <keys> <until ns>`.
const CHILD_ENV: &str = "FLOODGATE_BENCH_CHILD";
/// How long each process of the scaling row checks.
const SCALING_RUN: Duration = Duration::from_millis(1_500);

/// GenieOS's key limit: hammered keys are denied, as under attack.
fn quota() -> Quota {
    Quota::per_second(30).unwrap().with_burst(60).unwrap()
}

fn segment(name: &str) -> SharedMemory {
    let shared = SharedMemory::named(&format!("bench-{name}-{}", std::process::id())).unwrap();
    shared.remove().unwrap();
    shared
}

fn keyed_on_heap() -> KeyedLimiter<u64> {
    KeyedLimiter::<u64>::builder(quota())
        .capacity(KEYS + KEYS / 4)
        .build()
        .unwrap()
}

fn keyed_shared(shared: &SharedMemory) -> KeyedLimiter<u64> {
    KeyedLimiter::<u64>::builder(quota())
        .capacity(KEYS + KEYS / 4)
        .shared(shared.clone())
        .build()
        .unwrap()
}

fn one_key(filter: &Option<String>) {
    let shared = segment("one-key");
    let heap = Limiter::builder(quota()).clock(ManualClock::new()).build();
    let in_segment = Limiter::builder(quota())
        .shared(shared.clone())
        .build()
        .unwrap();
    race(
        filter,
        "one key, supplied time",
        "in-process",
        vec![
            (
                "shared",
                Box::new(|n| repeat(n, || in_segment.check_at(1, 1).is_admitted())),
            ),
            (
                "in-process",
                Box::new(|n| repeat(n, || heap.check_at(1, 1).is_admitted())),
            ),
        ],
    );
    let heap = Limiter::builder(quota()).build();
    race(
        filter,
        "one key, default clock",
        "in-process",
        vec![
            (
                "shared",
                Box::new(|n| repeat(n, || in_segment.check(1).is_admitted())),
            ),
            (
                "in-process",
                Box::new(|n| repeat(n, || heap.check(1).is_admitted())),
            ),
        ],
    );
    shared.remove().unwrap();
}

fn many_keys(filter: &Option<String>) {
    let shared = segment("many-keys");
    let keys = keys::random_words(KEYS, 42);
    let heap = keyed_on_heap();
    let in_segment = keyed_shared(&shared);
    for key in &keys {
        // Drain every bucket: each visit is a denied check of a live key.
        heap.check_at(key, 60, 1);
        in_segment.check_at(key, 60, 1);
    }
    let (mut walk_shared, mut walk_heap) = (Walk::new(&keys), Walk::new(&keys));
    race(
        filter,
        "1M keys, supplied time",
        "in-process",
        vec![
            (
                "shared",
                Box::new(|n| {
                    walk_shared.run(n, |key| in_segment.check_at(key, 1, 2).is_admitted())
                }),
            ),
            (
                "in-process",
                Box::new(|n| walk_heap.run(n, |key| heap.check_at(key, 1, 2).is_admitted())),
            ),
        ],
    );
    let (mut walk_shared, mut walk_heap) = (Walk::new(&keys), Walk::new(&keys));
    let clocked = keyed_on_heap();
    for key in &keys {
        clocked.check(key, 60);
        in_segment.check(key, 60);
    }
    race(
        filter,
        "1M keys, default clock",
        "in-process",
        vec![
            (
                "shared",
                Box::new(|n| walk_shared.run(n, |key| in_segment.check(key, 1).is_admitted())),
            ),
            (
                "in-process",
                Box::new(|n| walk_heap.run(n, |key| clocked.check(key, 1).is_admitted())),
            ),
        ],
    );
    shared.remove().unwrap();
}

/// Child of the scaling row: checks its own keys of the shared table until
/// `until`, then prints its rate: checks per second over its own checking
/// time (its start-up, mapping the segment, is not the check path's).
fn scaling_child(task: &str) {
    let words: Vec<&str> = task.split(' ').collect();
    let shared = SharedMemory::at(words[0]);
    let (first, count, until): (u64, u64, u64) = (
        words[1].parse().unwrap(),
        words[2].parse().unwrap(),
        words[3].parse().unwrap(),
    );
    let limiter = keyed_shared(&shared);
    let mut checks = 0u64;
    let began = limiter.clock().now_ns();
    'run: loop {
        for key in first..first + count {
            limiter.check(&key, 1);
            checks += 1;
            if checks % 4_096 == 0 && limiter.clock().now_ns() >= until {
                break 'run;
            }
        }
    }
    let took = limiter.clock().now_ns() - began;
    println!("{}", checks as f64 / (took as f64 / 1e9));
}

/// Total checks per second of `processes` processes at once, each on its
/// own `each` keys: the sum of their rates, each over its own checking time
/// (they all stop at one deadline, so their checking overlaps but for each
/// one's start-up).
fn checks_per_second(shared: &SharedMemory, processes: u64, each: u64) -> f64 {
    let clock = floodgate::MonotonicClock::system();
    let until = clock.now_ns() + SCALING_RUN.as_nanos() as u64;
    let children: Vec<_> = (0..processes)
        .map(|i| {
            Command::new(std::env::current_exe().unwrap())
                .env(
                    CHILD_ENV,
                    format!("{} {} {each} {until}", shared.path().display(), i * each),
                )
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            String::from_utf8(output.stdout)
                .unwrap()
                .trim()
                .parse::<f64>()
                .unwrap()
        })
        .sum()
}

/// One process against two, each process on `each` keys of its own in one
/// shared 1M-key table: half of it each (the walk misses every cache), or
/// 1,000 keys each (the walk stays in each core's cache).
fn scaling(filter: &Option<String>, each: u64) {
    let row = format!("2 processes on distinct keys, {each} keys each");
    if filter.as_ref().is_some_and(|f| !row.contains(f.as_str())) {
        return;
    }
    let shared = segment("scaling");
    let _table = keyed_shared(&shared);
    // Alternating, three times each: the best of each is reported.
    let (mut one, mut two) = (0f64, 0f64);
    for _ in 0..3 {
        one = one.max(checks_per_second(&shared, 1, each));
        two = two.max(checks_per_second(&shared, 2, each));
    }
    println!(
        "{row}: | 1 process {:.1} M checks/s | 2 processes {:.1} M checks/s | 2/1 {:.2}x",
        one / 1e6,
        two / 1e6,
        two / one
    );
    shared.remove().unwrap();
}

fn main() {
    if let Ok(task) = std::env::var(CHILD_ENV) {
        return scaling_child(&task);
    }
    // `cargo bench` passes `--bench`; anything else is a row filter.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with("--"));
    let started = Instant::now();
    one_key(&filter);
    many_keys(&filter);
    scaling(&filter, KEYS as u64 / 2);
    scaling(&filter, 1_000);
    eprintln!("(run took {:.0} s)", started.elapsed().as_secs_f64());
}
