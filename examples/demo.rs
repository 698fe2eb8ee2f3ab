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

use floodgate::{Clock, Decision, Headers, KeyedLimiter, MonotonicClock, Outcome, Quota, Scope};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

const THREADS: usize = 8;
const BUSY_KEYS: usize = 16;
const RUN_FOR: Duration = Duration::from_secs(2);

fn main() -> Result<(), floodgate::Error> {
    let quota = Quota::per_second(30)?.with_burst(60)?;
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
