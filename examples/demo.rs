//! The GenieOS per-key policy (../shared/seeds/001: 30 requests per second
//! per API key, bursts of 60) driven by many threads at once.
//!
//! `cargo run --release --example demo`
//!
//! Each of 8 threads owns a few API keys (one `Limiter` each, the way a
//! service holds one bucket per key) and fires checks for two seconds of real
//! time; the demo prints admitted and denied counts per key, checks that no
//! key got more than `60 + 30 * elapsed`, shows one denial with the
//! Retry-After a client would read, and reports checks per second.

use floodgate::{Clock, Decision, Limiter, MonotonicClock, Outcome, Quota};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const THREADS: usize = 8;
const KEYS: usize = 16;
const RUN_FOR: Duration = Duration::from_secs(2);

struct Key {
    name: String,
    limiter: Limiter,
    admitted: AtomicU64,
    denied: AtomicU64,
}

fn main() -> Result<(), floodgate::Error> {
    let quota = Quota::per_second(30)?.with_burst(60)?;
    let clock = MonotonicClock::new();
    let keys: Arc<Vec<Key>> = Arc::new(
        (0..KEYS)
            .map(|i| Key {
                name: format!("gos_live_{i:02}"),
                limiter: Limiter::with_clock(quota, clock.clone()),
                admitted: AtomicU64::new(0),
                denied: AtomicU64::new(0),
            })
            .collect(),
    );
    println!("floodgate demo: GenieOS per-key limit {quota}, {KEYS} keys, {THREADS} threads, {RUN_FOR:?}");

    let started_ns = clock.now_ns();
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|worker| {
            let keys = Arc::clone(&keys);
            thread::spawn(move || {
                let mut sample: Option<Decision> = None;
                let mut checks = 0u64;
                let mut key = worker;
                while started.elapsed() < RUN_FOR {
                    // Every thread cycles through every key, so keys are shared.
                    key = (key + 1) % KEYS;
                    let decision = keys[key].limiter.check(1);
                    checks += 1;
                    let counter = if decision.is_admitted() {
                        &keys[key].admitted
                    } else {
                        &keys[key].denied
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    if decision.outcome() == Outcome::Denied && sample.is_none() {
                        sample = Some(decision);
                    }
                }
                (checks, sample)
            })
        })
        .collect();

    let mut checks = 0;
    let mut sample = None;
    for worker in workers {
        let (worker_checks, worker_sample) = worker.join().expect("worker thread");
        checks += worker_checks;
        sample = sample.or(worker_sample);
    }
    let elapsed = started.elapsed();
    let elapsed_ns = clock.now_ns() - started_ns;
    let ceiling = quota.burst() + elapsed_ns * quota.count() / quota.period_ns();

    println!("\n{:<14} {:>9} {:>10}", "key", "admitted", "denied");
    let mut admitted_total = 0;
    for key in keys.iter() {
        let admitted = key.admitted.load(Ordering::Relaxed);
        admitted_total += admitted;
        println!(
            "{:<14} {:>9} {:>10}",
            key.name,
            admitted,
            key.denied.load(Ordering::Relaxed)
        );
        assert!(
            admitted <= ceiling,
            "{} admitted {admitted} > {ceiling}",
            key.name
        );
    }
    println!(
        "\nadmitted {admitted_total}, denied {}; no key above burst + rate x elapsed = {ceiling}",
        checks - admitted_total
    );
    if let Some(denial) = sample {
        println!(
            "sample denial: HTTP 429, X-RateLimit-Limit: {}, X-RateLimit-Remaining: {}, Retry-After: {:.3}s",
            denial.limit(),
            denial.remaining(),
            denial.retry_after().unwrap_or_default().as_secs_f64()
        );
    }
    println!(
        "{checks} checks in {:.2} s: {:.1} M checks/s on {THREADS} threads",
        elapsed.as_secs_f64(),
        checks as f64 / elapsed.as_secs_f64() / 1e6
    );
    Ok(())
}
