//! Issue 17: what a leased check costs, against an exact one, on a
//! redis-server of the bench's own (no persistence, 127.0.0.1, a free port):
//!
//! * a leased check's latency, p50 and p99, for a key checked flat out and
//!   for one at 50 r/s (both above 10 r/s), and an exact check's;
//! * Redis calls per admission against `admitted / c + give-backs`, `c`
//!   being the largest lease;
//! * three stores (three connections, as three processes have) x 2
//!   threads on one key for a few seconds: admitted against
//!   `burst + rate x elapsed`, leased and exact.
//!
//! `cargo bench --features redis --bench lease`

#![allow(missing_docs)]

#[path = "../tests/redis_common/mod.rs"]
mod redis_common;

use floodgate::store::{LeasedLimiter, OnFailure, RedisLimiter, RedisStore};
use floodgate::{Clock, MonotonicClock, Quota};
use redis_common::RedisServer;
use std::hint::black_box;
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(2);

/// A quota the flat-out key does not exhaust in a run.
fn roomy() -> Quota {
    Quota::per_second(10_000_000)
        .unwrap()
        .with_burst(10_000_000)
        .unwrap()
}

fn leased(store: &RedisStore, quota: Quota, prefix: &str, hosts: u64) -> LeasedLimiter {
    LeasedLimiter::builder(store, quota)
        .prefix(prefix)
        .fleet_size(hosts)
        .deadline(Duration::from_secs(1))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap()
}

fn exact(store: &RedisStore, quota: Quota, prefix: &str) -> RedisLimiter {
    RedisLimiter::builder(store, quota)
        .prefix(prefix)
        .deadline(Duration::from_secs(1))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap()
}

/// p50 and p99 in ns of `check` called every `pace` (flat out when zero)
/// for `RUN`, each timed by two reads of the engine's own clock (quanta).
fn percentiles<T>(pace: Duration, mut check: impl FnMut() -> T) -> (u64, u64, usize) {
    let clock = MonotonicClock::new();
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < RUN {
        let begun = clock.now_ns();
        black_box(check());
        samples.push(clock.now_ns() - begun);
        if !pace.is_zero() {
            std::thread::sleep(pace);
        }
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99), samples.len())
}

fn latency(store: &RedisStore) {
    let (timer, _, _) = percentiles(Duration::ZERO, || ());
    println!("the timer alone (two clock reads): p50 {timer} ns");
    for (name, pace) in [
        ("flat out", Duration::ZERO),
        ("50 r/s", Duration::from_millis(20)),
    ] {
        let limiter = leased(store, roomy(), &format!("bench-lease-{name}:"), 1);
        // Past the key's first two leases (of its cost, then sized by its
        // rate), which every new key waits for.
        for _ in 0..2 {
            limiter.check("latency", 1).unwrap();
        }
        let (p50, p99, n) = percentiles(pace, || limiter.check("latency", 1).unwrap());
        let counts = limiter.lease_counters();
        println!(
            "leased check, {name}: p50 {p50} ns, p99 {p99} ns ({n} checks, {} waited on a lease)",
            counts.waited
        );
        let calls = counts.leases + counts.give_backs + counts.exact;
        let c = limiter.largest_lease();
        println!(
            "  Redis calls {calls} (leases {}, give-backs {}, exact {}); admitted / c + give-backs = {} (c = {c})",
            counts.leases,
            counts.give_backs,
            counts.exact,
            counts.local / c + counts.give_backs
        );
    }
    let limiter = exact(store, roomy(), "bench-exact:");
    let (p50, p99, n) = percentiles(Duration::ZERO, || limiter.check("latency", 1).unwrap());
    println!("exact check, flat out: p50 {p50} ns, p99 {p99} ns ({n} checks)");
}

/// Three stores x 2 threads on one key: admitted and the bound.
fn fleet(url: &str, server: &RedisServer, lease: bool) {
    let (rate, burst) = (1_000, 200);
    let quota = Quota::per_second(rate).unwrap().with_burst(burst).unwrap();
    let prefix = if lease {
        "fleet-lease:"
    } else {
        "fleet-exact:"
    };
    let time = || {
        let (s, us): (u64, u64) = redis::cmd("TIME").query(&mut server.client()).unwrap();
        s * 1_000_000 + us
    };
    let stores: Vec<_> = (0..3).map(|_| RedisStore::open(url).unwrap()).collect();
    let before = time();
    let admitted: u64 = std::thread::scope(|scope| {
        let hosts: Vec<_> = stores
            .iter()
            .map(|store| {
                scope.spawn(move || {
                    let check: Box<dyn Fn() -> bool + Sync> = if lease {
                        let limiter = leased(store, quota, prefix, 3);
                        Box::new(move || limiter.check("one", 1).unwrap().is_admitted())
                    } else {
                        let limiter = exact(store, quota, prefix);
                        Box::new(move || limiter.check("one", 1).unwrap().is_admitted())
                    };
                    let start = Instant::now();
                    std::thread::scope(|threads| {
                        let workers: Vec<_> = (0..2)
                            .map(|_| {
                                threads.spawn(|| {
                                    let mut n = 0u64;
                                    while start.elapsed() < RUN {
                                        n += u64::from(check());
                                    }
                                    n
                                })
                            })
                            .collect();
                        workers.into_iter().map(|w| w.join().unwrap()).sum::<u64>()
                    })
                })
            })
            .collect();
        hosts.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let elapsed = time() - before;
    let bound = burst + rate * elapsed / 1_000_000;
    println!(
        "{} fleet, 3 x 2 threads: admitted {admitted} of bound {bound} ({:.1}%)",
        if lease { "leased" } else { "exact" },
        100.0 * admitted as f64 / bound as f64
    );
}

fn main() {
    let server = RedisServer::start();
    let url = server.url();
    let store = RedisStore::open(&url).unwrap();
    latency(&store);
    fleet(&url, &server, true);
    fleet(&url, &server, false);
}
