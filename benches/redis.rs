//! Issue 16: what a check of the Redis store costs, on a redis-server of
//! the bench's own (no persistence, 127.0.0.1, a free port):
//!
//! * the deny cache's answer for a key Redis denied (no round trip);
//! * an exact check's latency from one caller, p50 and p99;
//! * exact checks per second from 1, 8 and 64 threads sharing one
//!   multiplexed connection, each thread on keys of its own.
//!
//! `cargo bench --features redis --bench redis`

#![allow(missing_docs)]

#[path = "../tests/redis_common/mod.rs"]
mod redis_common;

use floodgate::store::{OnFailure, RedisLimiter, RedisStore};
use floodgate::Quota;
use redis_common::RedisServer;
use std::hint::black_box;
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(2);

fn limiter(store: &RedisStore, quota: Quota) -> RedisLimiter {
    RedisLimiter::builder(store, quota)
        .deadline(Duration::from_secs(1))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap()
}

/// A quota no bench key exhausts: every exact check is a full round trip
/// that charges.
fn roomy() -> Quota {
    Quota::per_second(1_000_000)
        .unwrap()
        .with_burst(1_000_000)
        .unwrap()
}

fn deny_cache(store: &RedisStore) {
    let limiter = limiter(store, Quota::per_hour(1).unwrap());
    limiter.check("denied", 1).unwrap();
    assert!(!limiter.check("denied", 1).unwrap().is_admitted());
    let rounds = 2_000_000u32;
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(limiter.check(black_box("denied"), 1).unwrap());
    }
    let per_check = start.elapsed() / rounds;
    assert_eq!(limiter.counters().cached, u64::from(rounds));
    println!("deny cache: {per_check:?} per denied check");
}

fn latency(store: &RedisStore) {
    let limiter = limiter(store, roomy());
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < RUN {
        let begun = Instant::now();
        black_box(limiter.check("latency", 1).unwrap());
        samples.push(begun.elapsed());
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "exact check, 1 caller: p50 {:?}, p99 {:?} ({} checks)",
        at(0.5),
        at(0.99),
        samples.len()
    );
    assert_eq!(limiter.counters().failed_closed, 0);
}

fn throughput(store: &RedisStore, threads: usize) {
    let limiter = limiter(store, roomy());
    let start = Instant::now();
    let checks: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let limiter = &limiter;
                scope.spawn(move || {
                    let key = format!("t{thread}");
                    let mut checks = 0u64;
                    while start.elapsed() < RUN {
                        black_box(limiter.check(key.as_str(), 1).unwrap());
                        checks += 1;
                    }
                    checks
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let per_second = checks as f64 / start.elapsed().as_secs_f64();
    println!("exact checks, {threads} threads: {per_second:.0}/s");
    assert_eq!(limiter.counters().failed_closed, 0);
}

fn main() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    deny_cache(&store);
    latency(&store);
    for threads in [1, 8, 64] {
        throughput(&store, threads);
    }
}
