//! Three processes hammering one key through one Redis admit, in total,
//! no more than `burst + rate x elapsed`: exactly, with elapsed read from
//! the server's clock before the first check and after the last.

#[path = "common/child.rs"]
mod child;
mod redis_common;

use floodgate::store::{OnFailure, RedisLimiter, RedisStore};
use floodgate::Quota;
use redis_common::RedisServer;
use std::time::{Duration, Instant};

const CHILD_URL: &str = "FLOODGATE_REDIS_FLEET_URL";
/// The line a child ends with: its admitted and degraded counts.
const REPORT: &str = "floodgate-fleet-child";
const RATE: u64 = 200;
const BURST: u64 = 50;
const PROCESSES: usize = 3;
const THREADS: usize = 2;
const HAMMER: Duration = Duration::from_millis(1_500);

fn quota() -> Quota {
    Quota::per_second(RATE).unwrap().with_burst(BURST).unwrap()
}

/// The server's clock in microseconds.
fn server_time(server: &RedisServer) -> u64 {
    let (seconds, micros): (u64, u64) = redis::cmd("TIME").query(&mut server.client()).unwrap();
    seconds * 1_000_000 + micros
}

/// A child process of `three_processes_never_admit_more_than_the_bound`;
/// nothing in a normal run.
#[test]
fn child_hammers_one_key() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let store = RedisStore::open(&url).unwrap();
    let limiter = RedisLimiter::builder(&store, quota())
        .prefix("fleet:")
        // Every decision must be Redis's: a degraded one fails the parent.
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    let start = Instant::now();
    let admitted: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    let mut admitted = 0;
                    while start.elapsed() < HAMMER {
                        admitted += u64::from(limiter.check("one-key", 1).unwrap().is_admitted());
                    }
                    admitted
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let counters = limiter.counters();
    println!(
        "{REPORT} {admitted} {} {} {}",
        counters.failed_closed, counters.exact, counters.cached
    );
}

#[test]
fn three_processes_never_admit_more_than_the_bound() {
    let server = RedisServer::start();
    let before = server_time(&server);
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| child::spawn_test("child_hammers_one_key", &[(CHILD_URL, server.url())]))
        .collect();
    let mut admitted = 0;
    let (mut exact, mut cached) = (0, 0);
    for child in children {
        let figures = child::reported_figures(child, REPORT);
        assert_eq!(figures[1], 0, "a child's decision was not Redis's");
        admitted += figures[0];
        exact += figures[2];
        cached += figures[3];
    }
    let elapsed_us = server_time(&server) - before;
    // The bucket was full at `before`: GCRA admits at most the burst plus
    // one request per interval elapsed, floor(rate x elapsed).
    let bound = BURST + RATE * elapsed_us / 1_000_000;
    println!(
        "admitted {admitted} <= bound {bound} over {elapsed_us} us; \
         {exact} Redis decisions, {cached} cached denials"
    );
    assert!(admitted <= bound, "admitted {admitted} > {bound}");
    // The hammering lasted longer than a burst takes to refill, from full.
    assert!(admitted >= BURST);
}
