//! What a Redis-backed limiter does when the server stops answering
//! (SIGSTOP, CLIENT PAUSE) or dies and comes back (SIGKILL, restart): the
//! deadline ends each call, the failure policy decides and is counted, the
//! breaker stops waiting, and the first probe after Redis returns decides
//! exactly again.

mod redis_common;

use floodgate::store::{OnFailure, RedisLimiter, RedisStore};
use floodgate::{Outcome, Quota};
use redis_common::RedisServer;
use std::time::{Duration, Instant};

/// Each call's deadline here: long for a loaded machine's round trip,
/// short next to the faults.
const DEADLINE: Duration = Duration::from_millis(400);
const COOL_DOWN: Duration = Duration::from_millis(200);
/// How long a test waits for a recovery before failing.
const GIVE_UP: Duration = Duration::from_secs(10);

fn limiter(store: &RedisStore, on_failure: OnFailure) -> RedisLimiter {
    RedisLimiter::builder(store, Quota::per_second(100).unwrap())
        .prefix(format!("{on_failure:?}:"))
        .deadline(DEADLINE)
        .breaker(1, COOL_DOWN)
        .on_failure(on_failure)
        .deny_cache(0)
        .build()
        .unwrap()
}

/// Checks until Redis decides again; the time from `since` it took.
fn recovery(limiter: &RedisLimiter, since: Instant) -> Duration {
    let exact = limiter.counters().exact;
    loop {
        limiter.check("k", 1).unwrap();
        if limiter.counters().exact > exact {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < GIVE_UP,
            "no exact decision {GIVE_UP:?} after the fault ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stopped_server_is_answered_by_the_policy_and_a_continued_one_decides_again() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let closed = limiter(&store, OnFailure::Closed);
    let open = limiter(&store, OnFailure::Open);
    assert!(closed.check("k", 1).unwrap().is_admitted());
    assert!(open.check("k", 1).unwrap().is_admitted());

    server.signal(libc::SIGSTOP);
    let denied = closed.check("k", 1).unwrap();
    assert_eq!(denied.outcome(), Outcome::Denied);
    assert_eq!(denied.retry_after(), Some(COOL_DOWN));
    // The breaker is open: answered without waiting (or, on a machine
    // slow enough to pass the cool-down, by a probe that times out too).
    assert!(!closed.check("k", 1).unwrap().is_admitted());
    let counters = closed.counters();
    assert!((1..=2).contains(&counters.timeouts));
    assert_eq!(counters.breaker_opened, counters.timeouts);
    assert_eq!(counters.skipped, 2 - counters.timeouts);
    assert_eq!((counters.exact, counters.failed_closed), (1, 2));
    assert!(open.check("k", 1).unwrap().is_admitted());
    assert_eq!(open.counters().failed_open, 1);

    server.signal(libc::SIGCONT);
    let resumed = Instant::now();
    let took = recovery(&closed, resumed);
    println!("exact again {took:?} after SIGCONT (cool-down {COOL_DOWN:?})");
    recovery(&open, resumed);
}

#[test]
fn a_killed_and_restarted_server_is_reconnected() {
    let mut server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let closed = limiter(&store, OnFailure::Closed);
    assert!(closed.check("k", 1).unwrap().is_admitted());
    server.kill();
    assert_eq!(closed.check("k", 1).unwrap().outcome(), Outcome::Denied);
    let counters = closed.counters();
    assert_eq!(counters.errors + counters.timeouts, 1);
    assert_eq!(counters.failed_closed, 1);
    server.restart();
    let restarted = Instant::now();
    let took = recovery(&closed, restarted);
    println!("exact again {took:?} after the restart");
    // Without persistence the restarted server starts with full buckets.
    assert_eq!(closed.peek("k").unwrap().remaining(), 99);
}

#[test]
fn a_paused_server_is_answered_by_the_policy_until_the_pause_ends() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let closed = limiter(&store, OnFailure::Closed);
    assert!(closed.check("k", 1).unwrap().is_admitted());
    let mut client = server.client();
    let pause = Duration::from_millis(1_500);
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(pause.as_millis() as u64)
        .query(&mut client)
        .unwrap();
    let paused = Instant::now();
    assert_eq!(closed.check("k", 1).unwrap().outcome(), Outcome::Denied);
    // Only count this as the pause's doing if the pause was still on.
    if paused.elapsed() < pause {
        assert_eq!(closed.counters().timeouts, 1);
    }
    let took = recovery(&closed, paused);
    println!("exact again {took:?} after CLIENT PAUSE {pause:?}");
}
