//! What a Redis-backed limiter does when the server stops answering
//! (SIGSTOP, CLIENT PAUSE) or dies and comes back (SIGKILL, restart): the
//! deadline ends each call, the failure policy decides and is counted, the
//! breaker stops waiting, and the first probe after Redis returns decides
//! exactly again.

mod redis_common;

use floodgate::store::{OnFailure, RedisLimiter, RedisStore, StoreCounters};
use floodgate::{Decision, Outcome, Quota};
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

/// Checks until Redis decides again: the time from `since` it took, and
/// Redis's decision. Also how a test first connects, so that a slow first
/// connection (a loaded machine, valgrind) is not mistaken for a fault.
fn recovery(limiter: &RedisLimiter, since: Instant) -> (Duration, Decision) {
    let exact = limiter.counters().exact;
    loop {
        let decision = limiter.check("k", 1).unwrap();
        if limiter.counters().exact > exact {
            return (since.elapsed(), decision);
        }
        assert!(
            since.elapsed() < GIVE_UP,
            "no exact decision {GIVE_UP:?} after the fault ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The counts since `before`, field by field.
fn since(limiter: &RedisLimiter, before: StoreCounters) -> StoreCounters {
    let now = limiter.counters();
    StoreCounters {
        exact: now.exact - before.exact,
        cached: now.cached - before.cached,
        failed_open: now.failed_open - before.failed_open,
        failed_closed: now.failed_closed - before.failed_closed,
        local_admitted: now.local_admitted - before.local_admitted,
        local_denied: now.local_denied - before.local_denied,
        timeouts: now.timeouts - before.timeouts,
        errors: now.errors - before.errors,
        skipped: now.skipped - before.skipped,
        breaker_opened: now.breaker_opened - before.breaker_opened,
    }
}

#[test]
fn a_stopped_server_is_answered_by_the_policy_and_a_continued_one_decides_again() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let closed = limiter(&store, OnFailure::Closed);
    let open = limiter(&store, OnFailure::Open);
    assert!(recovery(&closed, Instant::now()).1.is_admitted());
    assert!(recovery(&open, Instant::now()).1.is_admitted());
    let (closed_before, open_before) = (closed.counters(), open.counters());

    server.signal(libc::SIGSTOP);
    let denied = closed.check("k", 1).unwrap();
    assert_eq!(denied.outcome(), Outcome::Denied);
    assert_eq!(denied.retry_after(), Some(COOL_DOWN));
    // The breaker is open: answered without waiting (or, on a machine
    // slow enough to pass the cool-down, by a probe that times out too).
    assert!(!closed.check("k", 1).unwrap().is_admitted());
    let counters = since(&closed, closed_before);
    assert!((1..=2).contains(&counters.timeouts));
    assert_eq!(counters.breaker_opened, counters.timeouts);
    assert_eq!(counters.skipped, 2 - counters.timeouts);
    assert_eq!(
        (counters.exact, counters.errors, counters.failed_closed),
        (0, 0, 2)
    );
    assert!(open.check("k", 1).unwrap().is_admitted());
    let counters = since(&open, open_before);
    assert_eq!(
        (counters.exact, counters.timeouts, counters.failed_open),
        (0, 1, 1)
    );

    server.signal(libc::SIGCONT);
    let resumed = Instant::now();
    let (took, _) = recovery(&closed, resumed);
    println!("exact again {took:?} after SIGCONT (cool-down {COOL_DOWN:?})");
    recovery(&open, resumed);
}

#[test]
fn a_killed_and_restarted_server_is_reconnected() {
    let mut server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let closed = limiter(&store, OnFailure::Closed);
    recovery(&closed, Instant::now());
    let before = closed.counters();
    server.kill();
    assert_eq!(closed.check("k", 1).unwrap().outcome(), Outcome::Denied);
    let counters = since(&closed, before);
    assert_eq!(counters.errors + counters.timeouts, 1);
    assert_eq!((counters.exact, counters.failed_closed), (0, 1));
    server.restart();
    let (took, decision) = recovery(&closed, Instant::now());
    println!("exact again {took:?} after the restart");
    // Without persistence the restarted server starts with full buckets.
    assert_eq!(decision.remaining(), 99);
}

#[test]
fn a_paused_server_is_answered_by_the_policy_until_the_pause_ends() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let closed = limiter(&store, OnFailure::Closed);
    recovery(&closed, Instant::now());
    let before = closed.counters();
    let pause = Duration::from_millis(1_500);
    server.pause(pause);
    let paused = Instant::now();
    let decision = closed.check("k", 1).unwrap();
    // Only the pause's doing if the pause outlasted the call (it does
    // unless the machine stalled this thread for most of it).
    if paused.elapsed() < pause {
        assert_eq!(decision.outcome(), Outcome::Denied);
        let counters = since(&closed, before);
        assert_eq!(
            (counters.exact, counters.timeouts, counters.failed_closed),
            (0, 1, 1)
        );
    }
    let (took, _) = recovery(&closed, paused);
    println!("exact again {took:?} after CLIENT PAUSE {pause:?}");
}

#[test]
fn a_flushed_script_is_sent_again_and_the_next_check_is_exact() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let closed = limiter(&store, OnFailure::Closed);
    recovery(&closed, Instant::now());
    let before = closed.counters();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut server.client())
        .unwrap();
    // Functions (FUNCTION FLUSH, Redis 7) are another library store: the
    // limiters send scripts, never FCALL, so flushing functions changes
    // nothing for them and is not tested.
    let flushed = Instant::now();
    let decision = closed.check("k", 1).unwrap();
    println!(
        "first check after SCRIPT FLUSH decided in {:?}",
        flushed.elapsed()
    );
    assert!(decision.is_admitted());
    let counters = since(&closed, before);
    assert_eq!(
        (counters.exact, counters.errors, counters.failed_closed),
        (1, 0, 0)
    );
}

#[test]
fn a_lone_blocking_call_makes_its_own_round_trip_and_one_arriving_meanwhile_shares_the_pipeline() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let limiter = RedisLimiter::builder(&store, Quota::per_second(100).unwrap())
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    // The first lone check opens the store's own connection in the
    // background, and goes the multiplexed way meanwhile: the server then
    // has the two connections of the store's and the one listing them.
    assert!(limiter.check("warm", 1).unwrap().is_admitted());
    let give_up = Instant::now() + GIVE_UP;
    while clients(&server).lines().count() < 3 {
        assert!(Instant::now() < give_up, "{}", clients(&server));
        std::thread::sleep(Duration::from_millis(10));
    }
    let pause = Duration::from_millis(1_500);
    server.pause(pause);
    // The first call waits out the pause alone, on the store's own
    // synchronous connection; the second, begun while it waits, goes on
    // the multiplexed connection. Whichever boards first is the lone one.
    let decisions: Vec<Decision> = std::thread::scope(|scope| {
        let first = scope.spawn(|| limiter.check("first", 1).unwrap());
        std::thread::sleep(pause / 5);
        let second = scope.spawn(|| limiter.check("second", 1).unwrap());
        vec![first.join().unwrap(), second.join().unwrap()]
    });
    assert!(decisions.iter().all(Decision::is_admitted));
    assert_eq!(limiter.counters().exact, 3);
    let listed = clients(&server);
    let scripted = listed
        .lines()
        .filter(|client| client.contains(" cmd=eval"))
        .count();
    assert_eq!(scripted, 2, "{listed}");
}

/// The server's `CLIENT LIST`, one line a connection (the asking one too).
fn clients(server: &RedisServer) -> String {
    redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut server.client())
        .unwrap()
}
