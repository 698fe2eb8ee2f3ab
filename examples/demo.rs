//! The GenieOS per-key policy (../shared/seeds/001: 30 requests per second
//! per API key, bursts of 60) driven by many threads at once.
//!
//! `cargo run --release --example demo`
//!
//! One `KeyedLimiter` holds a bucket per API key. Eight threads fire checks
//! for two seconds of real time at 16 busy keys (shared by every thread) and
//! at a stream of fresh keys (the long tail); the demo prints admitted and
//! denied counts per busy key, checks that no key got more than
//! `60 + 30 * elapsed`, shows one denial as the 429 a client would read, and
//! reports checks per second.
//!
//! Then the same limit across worker processes, as gunicorn or Node's
//! cluster run a service: the demo starts four copies of itself, each
//! building the limiter `.shared(..)` in one segment in /dev/shm, and each
//! hammers one API key for two seconds with two threads; it prints each
//! process's admitted count and the total next to `60 + 30 * elapsed`.

use floodgate::{
    Clock, Decision, Headers, KeyedLimiter, MonotonicClock, Outcome, Quota, Scope, SharedMemory,
};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

const THREADS: usize = 8;
const BUSY_KEYS: usize = 16;
const RUN_FOR: Duration = Duration::from_secs(2);
const PROCESSES: usize = 4;
/// Set in a worker process: the segment's path and when to stop (machine clock, ns).
const WORKER_ENV: &str = "FLOODGATE_DEMO_WORKER";

fn main() -> Result<(), floodgate::Error> {
    if let Ok(task) = std::env::var(WORKER_ENV) {
        return worker_process(&task);
    }
    threads()?;
    processes()
}

fn quota() -> Result<Quota, floodgate::Error> {
    Quota::per_second(30)?.with_burst(60)
}

/// The GenieOS key limit in `shared`, as every worker process builds it.
fn shared_limiter(shared: SharedMemory) -> Result<KeyedLimiter<str>, floodgate::Error> {
    KeyedLimiter::<str>::builder(quota()?)
        .capacity(100_000)
        .shared(shared)
        .build()
}

/// One worker process: two threads check one key until `until_ns`; prints
/// `admitted first_ns last_ns` (the span of its checks on the machine clock).
fn worker_process(task: &str) -> Result<(), floodgate::Error> {
    let (path, until) = task.split_once(' ').expect("path and deadline");
    let until_ns: u64 = until.parse().expect("a deadline in ns");
    let limiter = shared_limiter(SharedMemory::at(path))?;
    let spans = thread::scope(|scope| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| -> Result<(u64, u64, u64), floodgate::Error> {
                    let (mut admitted, mut first, mut last) = (0, u64::MAX, 0);
                    loop {
                        let now = limiter.clock().now_ns();
                        if now >= until_ns {
                            return Ok((admitted, first, last));
                        }
                        (first, last) = (first.min(now), now);
                        admitted +=
                            u64::from(limiter.check_at("gos_live_shared", 1, now)?.is_admitted());
                    }
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().expect("checking thread"))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let admitted: u64 = spans.iter().map(|span| span.0).sum();
    let first = spans.iter().map(|span| span.1).min().unwrap_or(0);
    let last = spans.iter().map(|span| span.2).max().unwrap_or(0);
    println!("{admitted} {first} {last}");
    Ok(())
}

/// The same limit across `PROCESSES` worker processes on one segment.
fn processes() -> Result<(), floodgate::Error> {
    let shared = SharedMemory::named(&format!("demo-{}", std::process::id()))?;
    let limiter = shared_limiter(shared.clone())?;
    let until = limiter.clock().now_ns() + RUN_FOR.as_nanos() as u64;
    println!(
        "
{PROCESSES} worker processes x 2 threads on one key, one segment ({}), {RUN_FOR:?}",
        shared.path().display()
    );
    let me = std::env::current_exe().expect("the demo's own path");
    let workers: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&me)
                .env(WORKER_ENV, format!("{} {until}", shared.path().display()))
                .stdout(Stdio::piped())
                .spawn()
                .expect("a worker process")
        })
        .collect();
    let (mut total, mut first, mut last) = (0, u64::MAX, 0);
    for (number, worker) in workers.into_iter().enumerate() {
        let output = worker.wait_with_output().expect("a worker's output");
        let text = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<u64> = text
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [admitted, from, to] = fields[..] else {
            panic!("worker {number} failed: {text}");
        };
        println!("process {number}: admitted {admitted}");
        (total, first, last) = (total + admitted, first.min(from), last.max(to));
    }
    let quota = quota()?;
    let bound = quota.burst() + (last - first) * quota.count() / quota.period_ns();
    println!(
        "total admitted {total}, bound burst + rate x elapsed = {bound} over {:.3} s \
         (per-process tables would have let each process admit up to that)",
        (last - first) as f64 / 1e9
    );
    assert!(total <= bound, "{total} admitted > {bound}");
    shared.remove()
}

/// The per-key limit under `THREADS` threads of one process.
fn threads() -> Result<(), floodgate::Error> {
    let quota = quota()?;
    let clock = MonotonicClock::new();
    let limiter: Arc<KeyedLimiter<str>> = Arc::new(
        KeyedLimiter::<str>::builder(quota)
            .capacity(1 << 20)
            .clock(clock.clone())
            .build()?,
    );
    let busy: Arc<Vec<String>> =
        Arc::new((0..BUSY_KEYS).map(|i| format!("gos_live_{i:02}")).collect());
    let counts: Arc<Vec<[AtomicU64; 2]>> = Arc::new(
        (0..BUSY_KEYS)
            .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
            .collect(),
    );
    println!(
        "floodgate demo: GenieOS per-key limit {quota}, {BUSY_KEYS} busy keys + a long tail, \
         {THREADS} threads, {RUN_FOR:?}"
    );

    let started_ns = clock.now_ns();
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|worker| {
            let (limiter, busy, counts) = (limiter.clone(), busy.clone(), counts.clone());
            thread::spawn(
                move || -> Result<(u64, Option<Decision>), floodgate::Error> {
                    let mut sample = None;
                    let mut checks = 0u64;
                    let mut tail = String::new();
                    while started.elapsed() < RUN_FOR {
                        // Every thread cycles through every busy key, so keys are shared.
                        let index = (checks as usize + worker) % BUSY_KEYS;
                        let decision = limiter.check(&busy[index], 1)?;
                        counts[index][usize::from(!decision.is_admitted())]
                            .fetch_add(1, Ordering::Relaxed);
                        if decision.outcome() == Outcome::Denied && sample.is_none() {
                            sample = Some(decision);
                        }
                        // One request in eight comes from a key seen once.
                        if checks % 8 == 0 {
                            tail.clear();
                            tail.push_str("gos_tail_");
                            tail.push_str(&(checks * THREADS as u64 + worker as u64).to_string());
                            limiter.check(&tail, 1)?;
                            checks += 1;
                        }
                        checks += 1;
                    }
                    Ok((checks, sample))
                },
            )
        })
        .collect();

    let mut checks = 0;
    let mut sample = None;
    for worker in workers {
        let (worker_checks, worker_sample) = worker.join().expect("worker thread")?;
        checks += worker_checks;
        sample = sample.or(worker_sample);
    }
    let elapsed = started.elapsed();
    let elapsed_ns = clock.now_ns() - started_ns;
    let ceiling = quota.burst() + elapsed_ns * quota.count() / quota.period_ns();

    println!("\n{:<14} {:>9} {:>10}", "key", "admitted", "denied");
    for (name, [admitted, denied]) in busy.iter().zip(counts.iter()) {
        let admitted = admitted.load(Ordering::Relaxed);
        println!(
            "{name:<14} {admitted:>9} {:>10}",
            denied.load(Ordering::Relaxed)
        );
        assert!(
            admitted <= ceiling,
            "{name} admitted {admitted} > {ceiling}"
        );
    }
    println!(
        "\nno key above burst + rate x elapsed = {ceiling}; {} keys live in a table of {} slots \
         ({} full-table events)",
        limiter.len(),
        limiter.capacity(),
        limiter.full_table_events()
    );
    if let Some(denial) = sample {
        println!("\nsample denial, as the client reads it:\nHTTP/1.1 429 Too Many Requests");
        for (name, value) in Headers::new()
            .render(&denial, Scope::Key, SystemTime::now())
            .iter()
        {
            println!("{name}: {value}");
        }
        println!(
            "{}",
            floodgate::presets::genieos::key_body().render(&denial, Scope::Key, "req_demo")
        );
    }
    println!(
        "\n{checks} checks in {:.2} s: {:.1} M checks/s on {THREADS} threads",
        elapsed.as_secs_f64(),
        checks as f64 / elapsed.as_secs_f64() / 1e6
    );
    Ok(())
}
