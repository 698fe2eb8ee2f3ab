//! Leased limiters on a real redis-server: local decisions, refills in the
//! background, give-backs on drop, layers that charge nothing on a denial,
//! and three processes x 2 threads on one key admitting at most
//! `burst + rate x elapsed` (and, printed, how near it: 95.6% to 99.3% over
//! twelve runs, BENCHMARKS.md "Issue 17").

#[path = "common/child.rs"]
mod child;
mod redis_common;

use floodgate::store::{LeasedLayers, LeasedLimiter, OnFailure, RedisLimiter, RedisStore};
use floodgate::{Quota, Scope};
use redis_common::RedisServer;
use std::time::{Duration, Instant};

fn store() -> RedisStore {
    RedisStore::open(&RedisServer::shared().url()).unwrap()
}

/// A limiter whose every decision is Redis's or a lease's: a slow call
/// waits rather than degrading. Sized for one host: the tests' stores
/// share a server, whose default fleet counts them all.
fn leased(store: &RedisStore, quota: Quota, prefix: &str) -> LeasedLimiter {
    LeasedLimiter::builder(store, quota)
        .prefix(prefix)
        .fleet_size(1)
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap()
}

/// The fleet's bucket as an exact limiter sees it.
fn remaining(store: &RedisStore, quota: Quota, prefix: &str, key: &str) -> u64 {
    RedisLimiter::builder(store, quota)
        .prefix(prefix)
        .deadline(Duration::from_secs(10))
        .build()
        .unwrap()
        .peek(key)
        .unwrap()
        .remaining()
}

/// Polls `done` until it holds, for at most 20 s.
fn eventually(mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "never happened");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_leased_key_admits_its_burst_then_denies_locally() {
    let store = store();
    // One request a minute: nothing refills while the test runs.
    let quota = Quota::per_minute(1).unwrap().with_burst(10).unwrap();
    let limiter = leased(&store, quota, "lease-burst:");
    let mut admitted = 0;
    let denial = loop {
        let decision = limiter.check("k", 1).unwrap();
        if !decision.is_admitted() {
            break decision;
        }
        admitted += 1;
        assert!(admitted <= 10, "admitted past the burst");
    };
    // One host alone gets every token of the fleet's bucket.
    assert_eq!(admitted, 10);
    let wait = denial.retry_after().unwrap();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    // Denied again without a round trip.
    let before = limiter.lease_counters();
    assert!(!limiter.check("k", 1).unwrap().is_admitted());
    let after = limiter.lease_counters();
    assert_eq!(after.local, before.local + 1);
    assert_eq!(after.leases, before.leases);
    assert!(after.local >= 1, "{after:?}");
    assert_eq!(limiter.counters().failed_closed, 0);
    // Bad keys are refused before anything is sent.
    assert_eq!(limiter.check("", 1), Err(floodgate::Error::EmptyKey));
}

#[test]
fn a_steady_key_is_refilled_in_the_background() {
    let store = store();
    let quota = Quota::per_second(100_000)
        .unwrap()
        .with_burst(1_000)
        .unwrap();
    let limiter = leased(&store, quota, "lease-steady:");
    for _ in 0..600 {
        assert!(limiter.check("k", 1).unwrap().is_admitted());
        // About 2000 a second: the low-water quarter of a lease lasts 60 ms,
        // many pump turns.
        std::thread::sleep(Duration::from_micros(500));
    }
    let counts = limiter.lease_counters();
    println!(
        "600 admitted, {} lease calls ({} waited on), {} give-backs, largest lease {}",
        counts.leases,
        counts.waited,
        counts.give_backs,
        limiter.largest_lease()
    );
    // Every admission was local, and some leases landed with no check
    // waiting on them.
    assert_eq!(counts.local, 600);
    assert!(counts.leases > counts.waited, "{counts:?}");
    assert_eq!(counts.exact, 0);
}

#[test]
fn dropping_a_limiter_gives_its_unspent_tokens_back() {
    let store = store();
    // One request a minute: the bucket's figures stay put for the test.
    let quota = Quota::per_minute(1).unwrap().with_burst(60).unwrap();
    let limiter = leased(&store, quota, "lease-drop:");
    // The first check leases one token; the second, coming soon after,
    // leases the largest size (a burst of 60 over 2 x 1 host).
    for _ in 0..2 {
        assert!(limiter.check("k", 1).unwrap().is_admitted());
    }
    assert_eq!(limiter.largest_lease(), 30);
    assert_eq!(limiter.lease_counters().granted, 31);
    assert_eq!(remaining(&store, quota, "lease-drop:", "k"), 29);
    drop(limiter);
    // Only the two requests spent are still charged.
    assert_eq!(remaining(&store, quota, "lease-drop:", "k"), 58);
}

#[test]
fn a_key_seen_once_costs_one_call() {
    let store = store();
    let limiter = leased(&store, Quota::per_second(100).unwrap(), "lease-once:");
    assert!(limiter.check("k", 1).unwrap().is_admitted());
    std::thread::sleep(Duration::from_millis(50));
    let counts = limiter.lease_counters();
    assert_eq!(
        (counts.leases, counts.granted, counts.give_backs),
        (1, 1, 0)
    );
}

#[test]
fn a_slow_key_leases_a_token_per_request_and_holds_none() {
    let store = store();
    let limiter = LeasedLimiter::builder(&store, Quota::per_second(100).unwrap())
        .prefix("lease-slow:")
        .lease_time(Duration::from_millis(20))
        .deadline(Duration::from_secs(10))
        .build()
        .unwrap();
    // One request per 2 lease times: each lease is of one token.
    for _ in 0..3 {
        assert!(limiter.check("k", 1).unwrap().is_admitted());
        std::thread::sleep(Duration::from_millis(40));
    }
    // Every lease is of one token: a key this slow holds nothing ahead
    // (the defect this guards against leased 78 tokens for 3 requests and
    // gave 2 leases back). A machine slow enough (valgrind) to stretch a
    // check past the next request's time may lease once more, one token.
    let counts = limiter.lease_counters();
    assert_eq!(counts.granted, counts.leases, "{counts:?}");
    assert!((3..=4).contains(&counts.leases), "{counts:?}");
    assert_eq!(counts.give_backs, 0, "{counts:?}");
}

#[test]
fn an_idle_key_gives_its_tokens_back() {
    let store = store();
    let quota = Quota::per_minute(1).unwrap().with_burst(60).unwrap();
    let limiter = LeasedLimiter::builder(&store, quota)
        .prefix("lease-idle:")
        .fleet_size(1)
        .lease_time(Duration::from_millis(20))
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    for _ in 0..2 {
        assert!(limiter.check("k", 1).unwrap().is_admitted());
    }
    assert_eq!(limiter.lease_counters().granted, 31);
    // Unused for two sweeps (one lease time apart), the 29 go back.
    eventually(|| remaining(&store, quota, "lease-idle:", "k") == 58);
    // Counted once the refund's reply is read, after Redis applied it.
    eventually(|| limiter.lease_counters().returned == 29);
    // The key leases again when it comes back.
    assert!(limiter.check("k", 1).unwrap().is_admitted());
}

#[test]
fn a_layer_that_denies_charges_no_other_layer() {
    let store = store();
    let workspace = Quota::per_hour(1_000).unwrap();
    let key = Quota::per_hour(1).unwrap().with_burst(2).unwrap();
    let layers = LeasedLayers::builder(&store)
        .layer(Scope::Workspace, "lease-ws:", workspace)
        .layer(Scope::Key, "lease-key:", key)
        .fleet_size(1)
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    let verdicts: Vec<_> = (0..3)
        .map(|_| layers.check(&["ws", "k"], 1).unwrap())
        .collect();
    assert!(verdicts[0].is_admitted() && verdicts[1].is_admitted());
    assert!(!verdicts[2].is_admitted());
    assert_eq!(verdicts[2].scope(), Scope::Key);
    assert_eq!(
        layers.check(&["ws"], 1).err(),
        Some(floodgate::Error::LayerKeyCount)
    );
    drop(layers);
    // Given back on drop: the workspace is charged the two admitted only.
    assert_eq!(remaining(&store, workspace, "lease-ws:", "ws"), 998);
}

#[test]
fn leases_outlive_a_redis_failure_then_the_failure_policy_answers() {
    let mut server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let quota = Quota::per_minute(1).unwrap().with_burst(60).unwrap();
    let limiter = LeasedLimiter::builder(&store, quota)
        .prefix("lease-fail:")
        .fleet_size(1)
        .deadline(Duration::from_millis(200))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    for _ in 0..2 {
        assert!(limiter.check("k", 1).unwrap().is_admitted());
    }
    assert_eq!(limiter.lease_counters().granted, 31);
    server.kill();
    // The 29 tokens held stay good with Redis gone...
    for _ in 0..29 {
        assert!(limiter.check("k", 1).unwrap().is_admitted());
    }
    // ...and then the failure policy answers.
    assert!(!limiter.check("k", 1).unwrap().is_admitted());
    assert!(limiter.counters().failed_closed >= 1);
    assert_eq!(limiter.lease_counters().local, 31);
}

#[test]
fn async_checks_decide_as_blocking_ones_from_spawned_tasks() {
    let store = store();
    let quota = Quota::per_minute(1).unwrap().with_burst(10).unwrap();
    let limiter = leased(&store, quota, "lease-async:");
    let layers = LeasedLayers::builder(&store)
        .layer(
            Scope::Workspace,
            "lease-async-ws:",
            Quota::per_hour(1_000).unwrap(),
        )
        .layer(
            Scope::Key,
            "lease-async-key:",
            Quota::per_hour(1).unwrap().with_burst(2).unwrap(),
        )
        .fleet_size(1)
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Spawned: the futures are Send. Both limiters are dropped inside the
    // runtime, where their give-backs are spawned, not waited for.
    let (admitted, verdicts) = runtime
        .block_on(runtime.spawn(async move {
            let mut admitted = 0;
            while limiter.check_async("k", 1).await.unwrap().is_admitted() {
                admitted += 1;
                assert!(admitted <= 10, "admitted past the burst");
            }
            let mut verdicts = Vec::new();
            for _ in 0..3 {
                let verdict = layers.check_async(&["ws", "k"], 1).await.unwrap();
                verdicts.push((verdict.is_admitted(), verdict.scope()));
            }
            assert_eq!(
                layers.check_async(&["ws"], 1).await.err(),
                Some(floodgate::Error::LayerKeyCount)
            );
            (admitted, verdicts)
        }))
        .unwrap();
    assert_eq!(admitted, 10);
    assert_eq!(
        verdicts,
        [(true, Scope::Key), (true, Scope::Key), (false, Scope::Key)]
    );
}

#[test]
fn a_key_at_its_limit_reserves_its_next_lease() {
    let store = store();
    // Ten a second, leases meant to last 2 s: a lease at the limit fits
    // within one.
    let quota = Quota::per_second(10).unwrap().with_burst(20).unwrap();
    let limiter = LeasedLimiter::builder(&store, quota)
        .prefix("lease-reserve:")
        .fleet_size(1)
        .lease_time(Duration::from_secs(2))
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    let denial = loop {
        let decision = limiter.check("k", 1).unwrap();
        if !decision.is_admitted() {
            break decision;
        }
    };
    // The call that denied reserved what it asked for: charged now, and
    // spent once it fits, with no call.
    let wait = denial.retry_after().unwrap();
    assert!(wait <= Duration::from_secs(2), "{wait:?}");
    assert_eq!(remaining(&store, quota, "lease-reserve:", "k"), 0);
    let before = limiter.lease_counters();
    std::thread::sleep(wait + Duration::from_millis(2));
    assert!(limiter.check("k", 1).unwrap().is_admitted());
    let after = limiter.lease_counters();
    assert_eq!(after.leases, before.leases, "{after:?}");
    assert_eq!(after.local, before.local + 1);
}

#[test]
fn leases_are_sized_for_the_live_fleet() {
    // A server of its own: its default fleet holds this test's stores only.
    let server = RedisServer::start();
    let quota = Quota::per_minute(1).unwrap().with_burst(60).unwrap();
    let stores: Vec<_> = (0..3)
        .map(|_| RedisStore::open(&server.url()).unwrap())
        .collect();
    let build = |store: &RedisStore| {
        LeasedLimiter::builder(store, quota)
            .prefix("lease-live:")
            .deadline(Duration::from_secs(10))
            .on_failure(OnFailure::Closed)
    };
    // The stores' default fleet, and a fleet named by the builder.
    let by_default: Vec<_> = stores.iter().map(|s| build(s).build().unwrap()).collect();
    let named: Vec<_> = stores.iter().map(|s| s.fleet("lease-live")).collect();
    let by_name: Vec<LeasedLimiter> = stores
        .iter()
        .zip(&named)
        .map(|(s, fleet)| build(s).fleet(fleet).build().unwrap())
        .collect();
    eventually(|| named.iter().all(|fleet| fleet.size() == 3));
    // Three hosts: a lease is at most 60 / (2 x 3) = 10.
    eventually(|| by_default.iter().all(|l| l.largest_lease() == 10));
    assert!(by_name.iter().all(|l| l.largest_lease() == 10));
    // A leased key's grants keep to it: the first lease is the cost, the
    // next the largest (the key is checked at once again).
    for limiter in &by_name {
        for _ in 0..2 {
            assert!(limiter.check("k", 1).unwrap().is_admitted());
        }
        assert_eq!(limiter.lease_counters().granted, 11);
    }
    // An explicit size overrides the fleet's.
    let fixed = build(&stores[0]).fleet_size(1).build().unwrap();
    assert_eq!(fixed.largest_lease(), 30);
    // A host that leaves the fleet is no longer counted: leases grow.
    let (mut by_name, mut named) = (by_name, named);
    drop((by_name.pop(), named.pop()));
    eventually(|| by_name.iter().all(|l| l.largest_lease() == 15));
}

const CHILD_URL: &str = "FLOODGATE_LEASE_FLEET_URL";
/// The line a child ends with: admitted, degraded, first and last server µs.
const REPORT: &str = "floodgate-lease-child";
const RATE: u64 = 1_000;
/// Large enough that a child descheduled on a loaded machine for a while
/// does not let the fleet's bucket overflow (tokens past the burst are
/// lost to every mode alike).
const BURST: u64 = 200;
const PROCESSES: usize = 3;
const THREADS: usize = 2;
const HAMMER: Duration = Duration::from_millis(1_500);

fn fleet_quota() -> Quota {
    Quota::per_second(RATE).unwrap().with_burst(BURST).unwrap()
}

/// The server's clock in microseconds.
fn server_time(client: &mut redis::Connection) -> u64 {
    let (seconds, micros): (u64, u64) = redis::cmd("TIME").query(client).unwrap();
    seconds * 1_000_000 + micros
}

/// A child process of `three_processes_on_leases_admit_the_bound_and_no_more`;
/// nothing in a normal run.
#[test]
fn child_hammers_one_leased_key() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let mut client = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let store = RedisStore::open(&url).unwrap();
    let limiter = LeasedLimiter::builder(&store, fleet_quota())
        .prefix("lease-fleet:")
        .fleet_size(PROCESSES as u64)
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    let first = server_time(&mut client);
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
    let last = server_time(&mut client);
    let counts = limiter.lease_counters();
    println!(
        "{REPORT} {admitted} {} {first} {last} {} {} {}",
        limiter.counters().failed_closed,
        counts.leases,
        counts.give_backs,
        limiter.largest_lease()
    );
}

#[test]
fn three_processes_on_leases_admit_the_bound_and_no_more() {
    let server = RedisServer::start();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| child::spawn_test("child_hammers_one_leased_key", &[(CHILD_URL, server.url())]))
        .collect();
    let (mut admitted, mut calls, mut give_backs) = (0, 0, 0);
    let (mut first, mut last, mut lease) = (u64::MAX, 0, 0);
    for child in children {
        let figures = child::reported_figures(child, REPORT);
        assert_eq!(
            figures[1], 0,
            "a child's decision was not Redis's or a lease's"
        );
        admitted += figures[0];
        first = first.min(figures[2]);
        last = last.max(figures[3]);
        calls += figures[4];
        give_backs += figures[5];
        lease = figures[6];
    }
    // Every token spent was charged to the bucket, full at `first`, by a
    // lease call made after `first`, and spent before `last`.
    let elapsed_us = last - first;
    let bound = BURST + RATE * elapsed_us / 1_000_000;
    println!(
        "admitted {admitted} of bound {bound} ({:.1}%) over {elapsed_us} us; \
         {calls} lease calls, {give_backs} give-backs, largest lease {lease}: \
         {:.3} Redis calls per admission (admitted / c + give-backs = {})",
        100.0 * admitted as f64 / bound as f64,
        (calls + give_backs) as f64 / admitted as f64,
        admitted / lease + give_backs
    );
    assert!(admitted <= bound, "admitted {admitted} > {bound}");
    // Each host's grants at the limit are worthwhile leases, reserved in
    // turn, not a token a call: about `admitted / c` calls, plus a few per
    // host at the start (its first lease of its cost, a short one), with
    // room for a loaded machine's stragglers.
    let fair = admitted / lease + give_backs;
    assert!(
        calls <= 2 * fair + 4 * PROCESSES as u64,
        "{calls} lease calls for {admitted} admitted: more than twice {fair}"
    );
    // How near the bound a fleet gets depends on how often a loaded
    // machine runs its threads, which is a benchmark's question; this
    // asserts only that leases kept coming: the first leases alone are a
    // burst, far under half the bound over the run.
    assert!(
        admitted * 2 >= bound,
        "admitted {admitted} < half of {bound}: the leases stopped coming"
    );
}
