//! Failing local: the fleet's size counted by heartbeats in Redis (three
//! processes join, one is killed, one leaves), kept while the server is
//! stopped; and with the server stopped, `OnFailure::Local` admitting
//! exactly this host's share, `burst / N + rate / N x elapsed`, counted as
//! local, until Redis decides again; the next outage divides by the count
//! as it is then. Sliding windows and in-flight caps alike: `limit / N`
//! per window, `cap / N` held at once, locally.

#[path = "common/child.rs"]
mod child;
mod redis_common;

use floodgate::store::{
    Fleet, OnFailure, RedisInFlight, RedisLayers, RedisLimiter, RedisPermit, RedisStore,
    RedisWindow, StoreCounters,
};
use floodgate::{ManualClock, Outcome, Quota, Scope};
use redis_common::RedisServer;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout};
use std::time::{Duration, Instant};

const CHILD_URL: &str = "FLOODGATE_FAIL_LOCAL_URL";
const CHILD_FLEET: &str = "FLOODGATE_FAIL_LOCAL_FLEET";
/// The line a child prints once it has joined: `<READY> <member id>`.
const READY: &str = "floodgate-fleet-member";
/// The key whose existence tells a child to leave the fleet.
const LEAVE: &str = "floodgate-test:leave:";
/// How long a test waits for a count or a recovery before failing.
const GIVE_UP: Duration = Duration::from_secs(30);
/// Each call's deadline: long for a loaded machine's round trip, short
/// next to the faults.
const DEADLINE: Duration = Duration::from_millis(400);
const COOL_DOWN: Duration = Duration::from_millis(200);

/// Polls `done` until it holds; fails after [`GIVE_UP`]. Returns how long it took.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < GIVE_UP, "{what}: not within {GIVE_UP:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

/// A member process of `the_fleet_counts_three_processes_...`; nothing in a
/// normal run. Joins the fleet, says so, and leaves when told.
#[test]
fn child_joins_the_fleet() {
    let (Ok(url), Ok(name)) = (std::env::var(CHILD_URL), std::env::var(CHILD_FLEET)) else {
        return;
    };
    let store = RedisStore::open(&url).unwrap();
    let fleet = store.fleet(&name);
    println!("{READY} {}", fleet.member());
    let mut client = redis::Client::open(url).unwrap().get_connection().unwrap();
    let leave = format!("{LEAVE}{}", fleet.member());
    wait_for("the parent's word to leave", || {
        redis::cmd("EXISTS")
            .arg(&leave)
            .query::<bool>(&mut client)
            .unwrap()
    });
    // Leaving removes this member's entry before the process ends.
    drop(fleet);
    drop(store);
}

/// A child that joined, the rest of its output (kept open, so that its
/// last lines have somewhere to go), and its member id.
fn join(server: &RedisServer, name: &str) -> (Child, BufReader<ChildStdout>, String) {
    let mut child = child::spawn_test(
        "child_joins_the_fleet",
        &[(CHILD_URL, server.url()), (CHILD_FLEET, name.to_owned())],
    );
    let mut output = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let member = loop {
        line.clear();
        assert!(
            output.read_line(&mut line).unwrap() > 0,
            "the child ended before joining"
        );
        // The harness's "test ... " may share the line.
        if let Some((_, id)) = line.split_once(READY) {
            break id.trim().to_owned();
        }
    };
    (child, output, member)
}

/// Three processes: this one and two children, one store each (a process
/// is what a fleet counts, and only a killed process leaves an entry to
/// expire).
#[test]
fn the_fleet_counts_three_processes_keeps_the_count_while_redis_is_stopped_and_drops_the_dead() {
    let server = RedisServer::start();
    let name = "processes";
    let key = format!("floodgate:fleet:{name}");
    let store = RedisStore::open(&server.url()).unwrap();
    let fleet = store.fleet(name);
    let (mut killed, _, _) = join(&server, name);
    let (mut leaving, mut leaving_output, leaving_member) = join(&server, name);
    wait_for("a count of 3", || fleet.size() == 3);

    // The heartbeats stall, time out, and the last count stands.
    server.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(fleet.size(), 3);
    server.signal(libc::SIGCONT);
    wait_for("a count of 3 after SIGCONT", || fleet.size() == 3);

    // A killed host leaves its entry behind; it expires.
    killed.kill().unwrap();
    killed.wait().unwrap();
    let took = wait_for("a count of 2 after a member was killed", || {
        fleet.size() == 2
    });
    println!("a killed member stopped counting after {took:?}");

    // A host that leaves takes its entry with it.
    let mut client = server.client();
    let _: () = redis::cmd("SET")
        .arg(format!("{LEAVE}{leaving_member}"))
        .arg(1)
        .query(&mut client)
        .unwrap();
    let mut rest = String::new();
    leaving_output.read_to_string(&mut rest).unwrap();
    assert!(leaving.wait().unwrap().success());
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(&key)
        .arg(&leaving_member)
        .query(&mut client)
        .unwrap();
    assert_eq!(score, None, "a member that left is removed at once");
    wait_for("a count of 1", || fleet.size() == 1);
}

/// Compiles only for what threads may share.
fn shared<T: Send + Sync>(_: &T) {}

/// The counts since `before`, field by field.
fn since(now: StoreCounters, before: StoreCounters) -> StoreCounters {
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

/// Three stores in this process, each its own member (one process cannot
/// stop the server under children's limiters and read their counts), so
/// `N` is 3; the local decisions are timed by a manual clock, so their
/// count is exact.
#[test]
fn with_redis_stopped_local_admits_exactly_the_share_and_redis_decides_again_after() {
    let server = RedisServer::start();
    let stores: Vec<RedisStore> = (0..3)
        .map(|_| RedisStore::open(&server.url()).unwrap())
        .collect();
    let mut fleets: Vec<Fleet> = stores.iter().map(|store| store.fleet("stores")).collect();
    let fleet = fleets[0].clone();
    wait_for("a count of 3", || fleet.size() == 3);

    // 30/s with a burst of 60: each of 3 hosts keeps 10/s and 20.
    let quota = Quota::per_second(30).unwrap().with_burst(60).unwrap();
    let clock = ManualClock::new();
    let limiter = RedisLimiter::builder(&stores[0], quota)
        .prefix("local:")
        .deadline(DEADLINE)
        .breaker(1, COOL_DOWN)
        .on_failure(OnFailure::Local)
        .fleet(&fleet)
        .deny_cache(0)
        .clock(clock.clone())
        .build()
        .unwrap();
    // Two layers, the second tighter: 9/s with a burst of 9, 3/s and 3 each.
    let layers = RedisLayers::builder(&stores[0])
        .layer(Scope::Key, "local-key:", quota)
        .layer(Scope::Workspace, "local-ws:", Quota::per_second(9).unwrap())
        .deadline(DEADLINE)
        .breaker(1, COOL_DOWN)
        .on_failure(OnFailure::Local)
        .fleet(&fleet)
        .build()
        .unwrap();
    shared(&limiter);
    shared(&layers);
    shared(&fleet);
    wait_for("a first exact decision", || {
        limiter.check("k", 1).unwrap();
        limiter.counters().exact > 0
    });
    wait_for("a first exact layered decision", || {
        layers.check(&["k", "ws"], 1).unwrap();
        layers.counters().exact > 0
    });
    let (limiter_before, layers_before) = (limiter.counters(), layers.counters());

    server.signal(libc::SIGSTOP);
    let mut admitted = 0;
    for _ in 0..40 {
        admitted += u64::from(limiter.check("k", 1).unwrap().is_admitted());
    }
    assert_eq!(admitted, 20, "the burst's share, 60 / 3");
    clock.advance(Duration::from_secs(1));
    for _ in 0..20 {
        admitted += u64::from(limiter.check("k", 1).unwrap().is_admitted());
    }
    assert_eq!(admitted, 20 + 10, "burst / 3 + rate / 3 x 1 s");
    let denied = limiter.check("k", 1).unwrap();
    assert_eq!(denied.outcome(), Outcome::Denied);
    assert_eq!(denied.limit(), 20, "the share's burst");
    let counters = since(limiter.counters(), limiter_before);
    assert_eq!(
        (counters.local_admitted, counters.local_denied),
        (30, 61 - 30)
    );
    assert_eq!(
        (counters.exact, counters.failed_open, counters.failed_closed),
        (0, 0, 0)
    );
    assert!(counters.timeouts >= 1);

    // Layered, at the caller's time: the workspace's share (3) runs out first.
    let start_us = 1_000_000_000;
    let verdicts: Vec<_> = (0..5)
        .map(|_| layers.check_at(&["k", "ws"], 1, start_us).unwrap())
        .collect();
    assert_eq!(verdicts.iter().filter(|v| v.is_admitted()).count(), 3);
    assert_eq!(verdicts[4].scope(), Scope::Workspace);
    let later = layers
        .check_at(&["k", "ws"], 1, start_us + 333_334)
        .unwrap();
    assert!(later.is_admitted(), "one request a third of a second later");
    let counters = since(layers.counters(), layers_before);
    assert_eq!(
        (
            counters.local_admitted,
            counters.local_denied,
            counters.exact
        ),
        (4, 2, 0)
    );

    server.signal(libc::SIGCONT);
    let exact = limiter.counters().exact;
    let took = wait_for("an exact decision after SIGCONT", || {
        let decision = limiter.check("k", 1).unwrap();
        limiter.counters().exact > exact && decision.limit() == 60
    });
    println!("exact again {took:?} after SIGCONT (cool-down {COOL_DOWN:?})");
    let exact = layers.counters().exact;
    wait_for("an exact layered decision after SIGCONT", || {
        layers.check(&["k", "ws"], 1).unwrap();
        layers.counters().exact > exact
    });

    // One store leaves: the next outage's share is a half (30/s x 2 = 60,
    // 15/s each), read from the new count.
    drop(fleets.pop());
    wait_for("a count of 2", || fleet.size() == 2);
    server.signal(libc::SIGSTOP);
    let mut admitted = 0;
    for _ in 0..40 {
        admitted += u64::from(limiter.check("k2", 1).unwrap().is_admitted());
    }
    clock.advance(Duration::from_millis(200));
    for _ in 0..10 {
        admitted += u64::from(limiter.check("k2", 1).unwrap().is_admitted());
    }
    server.signal(libc::SIGCONT);
    assert_eq!(admitted, 30 + 3, "burst / 2 + rate / 2 x 200 ms");
}

/// Three stores in this process, as above: their fleet, once it counts 3,
/// and the fleets (to drop one).
fn three_stores(server: &RedisServer) -> (Vec<RedisStore>, Vec<Fleet>) {
    let stores: Vec<RedisStore> = (0..3)
        .map(|_| RedisStore::open(&server.url()).unwrap())
        .collect();
    let fleets: Vec<Fleet> = stores.iter().map(|store| store.fleet("stores")).collect();
    wait_for("a count of 3", || fleets[0].size() == 3);
    (stores, fleets)
}

/// How many of `count` checks of `key` at `now_us` `window` admits.
fn admitted_at(window: &RedisWindow, key: &str, count: usize, now_us: u64) -> usize {
    (0..count)
        .filter(|_| window.check_at(key, 1, now_us).unwrap().is_admitted())
        .count()
}

#[test]
fn with_redis_stopped_a_window_admits_exactly_its_share_per_window() {
    let server = RedisServer::start();
    let (stores, mut fleets) = three_stores(&server);
    let fleet = fleets[0].clone();
    // 30 per second: each of 3 hosts keeps 10 per window.
    let window = RedisWindow::builder(&stores[0], 30, Duration::from_secs(1))
        .prefix("local-window:")
        .deadline(DEADLINE)
        .breaker(1, COOL_DOWN)
        .on_failure(OnFailure::Local)
        .fleet(&fleet)
        .build()
        .unwrap();
    shared(&window);
    // Caller's times, whole windows apart (a window's start when aligned).
    let start_us = 1_000_000_000;
    wait_for("a first exact decision", || {
        window.check_at("warm", 1, start_us).unwrap();
        window.counters().exact > 0
    });
    let before = window.counters();

    server.signal(libc::SIGSTOP);
    assert_eq!(admitted_at(&window, "k", 15, start_us), 10, "30 / 3");
    let denied = window.check_at("k", 1, start_us + 500_000).unwrap();
    assert_eq!(denied.outcome(), Outcome::Denied);
    assert_eq!(denied.limit(), 10, "the share's limit");
    // Two windows on, the previous window is empty: a whole share again.
    assert_eq!(admitted_at(&window, "k", 15, start_us + 2_000_000), 10);
    let counters = since(window.counters(), before);
    assert_eq!((counters.local_admitted, counters.local_denied), (20, 11));
    assert_eq!(
        (counters.exact, counters.failed_open, counters.failed_closed),
        (0, 0, 0)
    );
    assert!(counters.timeouts >= 1);

    server.signal(libc::SIGCONT);
    let exact = window.counters().exact;
    wait_for("an exact decision after SIGCONT", || {
        let decision = window.check_at("k", 1, start_us + 10_000_000).unwrap();
        window.counters().exact > exact && decision.limit() == 30
    });
    // Redis counted none of the local admissions: a whole limit in Redis.
    assert_eq!(admitted_at(&window, "k2", 31, start_us + 10_000_000), 30);

    // One store leaves: the next outage's share is a half, 15.
    drop(fleets.pop());
    wait_for("a count of 2", || fleet.size() == 2);
    server.signal(libc::SIGSTOP);
    let admitted = admitted_at(&window, "k", 20, start_us + 20_000_000);
    server.signal(libc::SIGCONT);
    assert_eq!(admitted, 15, "30 / 2");
}

/// The permit granted for `key`; fails the test if refused.
fn granted(cap: &RedisInFlight, key: &str) -> RedisPermit {
    cap.try_acquire(key).unwrap().permit().expect("granted")
}

#[test]
fn with_redis_stopped_an_in_flight_cap_holds_exactly_its_share_locally() {
    let server = RedisServer::start();
    let (stores, _fleets) = three_stores(&server);
    // 9 at once: each of 3 hosts holds 3.
    let cap = RedisInFlight::builder(&stores[0], 9)
        .prefix("local-inflight:")
        .deadline(DEADLINE)
        .breaker(1, COOL_DOWN)
        .on_failure(OnFailure::Local)
        .fleet(&stores[0].fleet("stores"))
        .build()
        .unwrap();
    shared(&cap);
    wait_for("a first exact acquisition", || {
        drop(cap.try_acquire("warm").unwrap());
        cap.counters().exact > 0
    });
    let before = cap.counters();

    server.signal(libc::SIGSTOP);
    let attempts: Vec<_> = (0..5).map(|_| cap.try_acquire("k").unwrap()).collect();
    let refusal = attempts[4].refusal().expect("a full share refuses");
    assert_eq!((refusal.in_flight(), refusal.limit()), (3, 3), "9 / 3");
    let mut local: Vec<RedisPermit> = attempts.into_iter().filter_map(|a| a.permit()).collect();
    assert_eq!(
        local.iter().map(RedisPermit::in_flight).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(local.iter().all(|permit| permit.lease_end_us().is_none()));
    // A local unit goes back to the share at once, without Redis.
    assert_eq!(local.pop().unwrap().release(), Ok(None));
    local.push(granted(&cap, "k"));
    assert!(!cap.try_acquire("k").unwrap().is_granted());
    let counters = since(cap.counters(), before);
    assert_eq!((counters.local_admitted, counters.local_denied), (4, 3));
    assert_eq!(
        (counters.exact, counters.failed_open, counters.failed_closed),
        (0, 0, 0)
    );

    server.signal(libc::SIGCONT);
    // A fresh key: the acquires sent while the server was stopped, which
    // timed out here, are run by it after SIGCONT and leave leases on "k".
    let start = Instant::now();
    let first = loop {
        let attempt = cap.try_acquire("fresh").unwrap().permit();
        if let Some(permit) = attempt.filter(|permit| permit.lease_end_us().is_some()) {
            break permit;
        }
        assert!(
            start.elapsed() < GIVE_UP,
            "no lease within {GIVE_UP:?} of SIGCONT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(first.in_flight(), 1);
    let mut leased: Vec<RedisPermit> = (1..9).map(|_| granted(&cap, "fresh")).collect();
    assert!(leased.iter().all(|permit| permit.lease_end_us().is_some()));
    assert_eq!(leased.last().unwrap().in_flight(), 9);
    let full = cap
        .try_acquire("fresh")
        .unwrap()
        .refusal()
        .expect("exact again");
    assert_eq!((full.in_flight(), full.limit()), (9, 9));
    // The local units still held go back to the share, not to Redis.
    drop(local);
    assert_eq!(leased.pop().unwrap().release(), Ok(Some(8)));
    drop(first);
}
