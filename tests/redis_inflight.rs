//! In-flight caps in Redis: never more than the cap held at once by hosts
//! hammering one key; a dead host's permit comes back when its lease ends,
//! and not before; a released or dropped permit is back at once.

mod redis_common;

use floodgate::store::{OnFailure, RedisInFlight, RedisPermit, RedisStore};
use floodgate::Error;
use redis_common::{fresh_prefix, shared_store, RedisServer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A cap that must decide exactly: a generous deadline for a loaded
/// machine, and a failure would show as a refusal counted in
/// `failed_closed`, which every test checks is zero.
fn cap(store: &RedisStore, prefix: &str, limit: u64, lease: Duration) -> RedisInFlight {
    RedisInFlight::builder(store, limit)
        .prefix(prefix)
        .lease(lease)
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap()
}

/// The server's clock in microseconds.
fn server_time() -> u64 {
    let (seconds, micros): (u64, u64) = redis::cmd("TIME")
        .query(&mut RedisServer::shared().client())
        .unwrap();
    seconds * 1_000_000 + micros
}

/// The permit granted to `cap` for `key`; fails the test if refused.
fn granted(cap: &RedisInFlight, key: &str) -> RedisPermit {
    cap.try_acquire(key).unwrap().permit().expect("granted")
}

#[test]
fn three_hosts_never_hold_more_than_the_cap() {
    const LIMIT: u64 = 2;
    const HOSTS: usize = 3;
    const ATTEMPTS: usize = 150;
    let prefix = fresh_prefix();
    let held = AtomicU64::new(0);
    let (peak, grants) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|scope| {
        for _ in 0..HOSTS {
            let (prefix, held, peak, grants) = (&prefix, &held, &peak, &grants);
            scope.spawn(move || {
                // A host: its own store, connection and cap.
                let store = shared_store();
                let cap = cap(&store, prefix, LIMIT, Duration::from_secs(60));
                for _ in 0..ATTEMPTS {
                    let Some(permit) = cap.try_acquire("one-key").unwrap().permit() else {
                        continue;
                    };
                    // Counted from the grant to before the release, so the
                    // count never exceeds the permits Redis has out.
                    let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                    assert!(now <= LIMIT, "{now} permits held at once");
                    peak.fetch_max(now, Ordering::SeqCst);
                    grants.fetch_add(1, Ordering::SeqCst);
                    std::thread::yield_now();
                    held.fetch_sub(1, Ordering::SeqCst);
                    assert!(permit.release().unwrap().is_some());
                }
                assert_eq!(cap.counters().failed_closed, 0);
            });
        }
    });
    let (grants, peak) = (grants.load(Ordering::SeqCst), peak.load(Ordering::SeqCst));
    println!(
        "{grants} grants of {} attempts, at most {peak} held at once",
        HOSTS * ATTEMPTS
    );
    assert!(grants > 0);
    assert!(peak <= LIMIT);
    // Every permit went back: the cap is empty again.
    let store = shared_store();
    let check = cap(&store, &prefix, LIMIT, Duration::from_secs(60));
    assert_eq!(granted(&check, "one-key").in_flight(), 1);
}

#[test]
fn a_dead_hosts_permit_is_held_until_its_lease_ends() {
    let store = shared_store();
    let prefix = fresh_prefix();
    // A host takes the only permit and dies: it never releases or renews
    // it (held here until the end, so nothing leaks).
    let long = cap(&store, &prefix, 1, Duration::from_secs(600));
    let _dead = granted(&long, "k");
    let refusal = long.try_acquire("k").unwrap().refusal().expect("full");
    assert_eq!((refusal.in_flight(), refusal.limit()), (1, 1));
    assert_eq!(long.counters().failed_closed, 0);
}

#[test]
fn a_dead_hosts_permit_comes_back_after_its_lease() {
    let store = shared_store();
    let prefix = fresh_prefix();
    let lease = Duration::from_millis(300);
    // Two hosts share a cap of 2: one with long leases holds a permit
    // throughout (so the key outlives the short lease); the other takes
    // one with a short lease and dies.
    let alive = cap(&store, &prefix, 2, Duration::from_secs(600));
    let dying = cap(&store, &prefix, 2, lease);
    let _held = granted(&alive, "k");
    let dead = granted(&dying, "k");
    let dead_end = dead.lease_end_us().unwrap();
    // The dying host never renews or releases it; it is dropped (and its
    // release refused, the lease being over) only at the end of the test,
    // so nothing leaks.
    let started = Instant::now();
    let back = loop {
        if let Some(permit) = dying.try_acquire("k").unwrap().permit() {
            break permit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the dead host's permit never came back"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Granted at the server's microsecond its lease began: not before the
    // dead host's lease ended, and beside the live host's permit.
    let granted_at = back.lease_end_us().unwrap() - lease.as_micros() as u64;
    assert!(granted_at >= dead_end, "{granted_at} < {dead_end}");
    assert_eq!(back.in_flight(), 2);
    assert_eq!(dying.counters().failed_closed, 0);
    drop(dead);
}

#[test]
fn release_and_drop_give_the_permit_back_at_once() {
    let store = shared_store();
    let prefix = fresh_prefix();
    let cap = cap(&store, &prefix, 1, Duration::from_secs(600));
    let permit = granted(&cap, "k");
    assert_eq!((permit.in_flight(), permit.remaining()), (1, 0));
    assert!(!cap.try_acquire("k").unwrap().is_granted());
    assert_eq!(permit.release(), Ok(Some(0)));
    let permit = granted(&cap, "k");
    drop(permit);
    assert!(cap.try_acquire("k").unwrap().is_granted());
    // Another key has its own cap.
    let (_a, _b) = (granted(&cap, "x"), granted(&cap, "y"));
    assert_eq!(cap.counters().failed_closed, 0);
}

#[test]
fn renew_extends_a_live_lease_and_refuses_an_ended_one() {
    let store = shared_store();
    let prefix = fresh_prefix();
    let lease = Duration::from_millis(200);
    let cap = cap(&store, &prefix, 1, lease);
    let mut permit = granted(&cap, "k");
    let first_end = permit.lease_end_us().unwrap();
    assert_eq!(permit.renew(), Ok(true));
    assert!(permit.lease_end_us().unwrap() >= first_end);
    // Let the lease end on the server's clock.
    let end = permit.lease_end_us().unwrap();
    while server_time() <= end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(permit.renew(), Err(Error::PermitAlreadyReleased));
    // Nothing is left to give back.
    assert_eq!(permit.release(), Ok(None));
    let mut lapsed = granted(&cap, "k");
    let end = lapsed.lease_end_us().unwrap();
    while server_time() <= end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let other = granted(&cap, "k");
    assert_eq!(lapsed.renew(), Err(Error::PermitAlreadyReleased));
    assert_eq!(other.release(), Ok(Some(0)));
    assert_eq!(cap.counters().failed_closed, 0);
}

#[test]
fn the_async_api_acquires_and_releases_alike() {
    let store = shared_store();
    let prefix = fresh_prefix();
    let cap = cap(&store, &prefix, 1, Duration::from_secs(600));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut permit = cap.try_acquire_async("k").await.unwrap().permit().unwrap();
        assert!(!cap.try_acquire_async("k").await.unwrap().is_granted());
        assert_eq!(permit.renew_async().await, Ok(true));
        assert_eq!(permit.release_async().await, Ok(Some(0)));
        let dropped = cap.try_acquire_async("k").await.unwrap().permit().unwrap();
        // Dropped inside a runtime: given back in the background.
        drop(dropped);
    });
    // The background release went before the store's next call... or the
    // lease would hold the permit for 600 s: wait for it, boundedly.
    let started = Instant::now();
    while !cap.try_acquire("k").unwrap().is_granted() {
        assert!(started.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(cap.counters().failed_closed, 0);
}

#[test]
fn a_server_that_is_away_gets_the_failure_policy() {
    // Nothing listens on port 1: every call fails at once.
    let store = RedisStore::open("redis://127.0.0.1:1/").unwrap();
    let build = |on_failure| {
        RedisInFlight::builder(&store, 3)
            .deadline(Duration::from_secs(2))
            .on_failure(on_failure)
            .build()
            .unwrap()
    };
    let open = build(OnFailure::Open);
    let mut permit = granted(&open, "k");
    assert_eq!(
        (permit.in_flight(), permit.lease_end_us()),
        (1, None),
        "a permit Redis does not count"
    );
    assert_eq!(permit.renew(), Ok(false));
    assert_eq!(permit.release(), Ok(None));
    let closed = build(OnFailure::Closed);
    let refusal = closed.try_acquire("k").unwrap().refusal().unwrap();
    assert_eq!((refusal.in_flight(), refusal.limit()), (3, 3));
    assert_eq!(closed.counters().failed_closed, 1);
    assert_eq!(open.counters().failed_open, 1);
}

#[test]
fn a_server_that_is_away_leaves_a_lone_host_its_whole_cap_held_locally() {
    let store = RedisStore::open("redis://127.0.0.1:1/").unwrap();
    // The store's fleet never reaches Redis: it counts this host alone.
    let cap = RedisInFlight::builder(&store, 3)
        .deadline(Duration::from_secs(2))
        .on_failure(OnFailure::Local)
        .build()
        .unwrap();
    let mut held: Vec<RedisPermit> = (0..3).map(|_| granted(&cap, "k")).collect();
    assert_eq!(
        held.iter().map(RedisPermit::in_flight).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(held[0].lease_end_us(), None, "Redis does not count it");
    let refusal = cap.try_acquire("k").unwrap().refusal().unwrap();
    assert_eq!((refusal.in_flight(), refusal.limit()), (3, 3));
    assert!(cap.try_acquire("other").unwrap().is_granted());
    assert_eq!(held[0].renew(), Ok(false));
    // Given back to the share, not to Redis: the unit is free again.
    assert_eq!(held.pop().unwrap().release(), Ok(None));
    drop(held.pop());
    let two_free: Vec<RedisPermit> = (0..2).map(|_| granted(&cap, "k")).collect();
    assert!(!cap.try_acquire("k").unwrap().is_granted());
    drop((held, two_free));
    let counters = cap.counters();
    assert_eq!((counters.local_admitted, counters.local_denied), (6, 2));
    assert_eq!(
        (counters.failed_open, counters.failed_closed, counters.exact),
        (0, 0, 0)
    );
}
