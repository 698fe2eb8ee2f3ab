//! Issue 16: what a check of the Redis store costs, on a redis-server of
//! the bench's own (no persistence, 127.0.0.1, a free port):
//!
//! * the deny cache's answer for a key Redis denied (no round trip);
//! * an exact check's latency from one caller, p50 and p99;
//! * exact checks per second from 1, 8 and 64 threads sharing one
//!   multiplexed connection, each thread on keys of its own;
//! * the floor beside them: `redis-benchmark` sending the very call a
//!   check sends (captured with `MONITOR`) from 1, 8 and 64 clients, each
//!   waiting for its reply before the next (no pipelining), on the same
//!   server in the same run.
//!
//! `cargo bench --features redis --bench redis`

#![allow(missing_docs)]

#[path = "../tests/redis_common/mod.rs"]
mod redis_common;

use floodgate::store::{OnFailure, RedisLimiter, RedisStore};
use floodgate::Quota;
use redis_common::RedisServer;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
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

fn throughput(store: &RedisStore, threads: usize) -> f64 {
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
    assert_eq!(limiter.counters().failed_closed, 0);
    per_second
}

/// The server's port, from its `redis://127.0.0.1:PORT/` URL.
fn port(server: &RedisServer) -> String {
    let url = server.url();
    url.trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned()
}

/// The arguments of the call one exact check of `limiter` sends, as
/// `MONITOR` shows them to another client.
fn captured_call(server: &RedisServer, limiter: &RedisLimiter) -> Vec<String> {
    let mut monitor = Command::new("redis-cli")
        .args(["-p", &port(server), "monitor"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli (Debian's redis-tools, installed with redis-server)");
    let mut lines = BufReader::new(monitor.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "OK");
    limiter.check("floor", 1).unwrap();
    let line = lines
        .map(Result::unwrap)
        .find(|line| line.contains("\"EVALSHA\""))
        .expect("the check's EVALSHA");
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    // `1733.. [0 127.0.0.1:5000] "EVALSHA" "sha" "1" "key" ...`: every
    // argument is quoted, and none of a check's has a quote inside.
    line.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Calls per second `redis-benchmark` gets with `clients` connections,
/// each sending `call` and waiting for its reply.
fn floor(server: &RedisServer, call: &[String], clients: usize) -> f64 {
    let requests = (20_000 * clients.min(4)).to_string();
    let output = Command::new("redis-benchmark")
        .args(["-p", &port(server), "-c", &clients.to_string()])
        .args(["-n", &requests, "-P", "1", "--csv"])
        .args(call)
        .output()
        .expect("redis-benchmark (Debian's redis-tools, installed with redis-server)");
    assert!(output.status.success(), "redis-benchmark failed");
    // `"test","rps",...` then `"EVALSHA ...","23909.52",...`.
    let csv = String::from_utf8(output.stdout).unwrap();
    let row = csv.lines().nth(1).expect("a result row");
    row.split('"').nth(3).unwrap().parse().expect("a rate")
}

fn main() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    deny_cache(&store);
    latency(&store);
    let call = captured_call(&server, &limiter(&store, roomy()));
    println!("| callers | floodgate checks/s | redis-benchmark calls/s | floodgate/floor |");
    println!("|---|---|---|---|");
    for callers in [1, 8, 64] {
        let ours = throughput(&store, callers);
        let floor = floor(&server, &call, callers);
        println!(
            "| {callers} | {ours:.0} | {floor:.0} | {:.2}x |",
            ours / floor
        );
    }
}
