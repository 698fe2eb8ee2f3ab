//! A Redis Cluster decides as one server does: the engine's decisions for
//! keys on every master's slots, layers across slots charged all or none,
//! the script sent again to whichever node lost it. A master that stops or
//! dies is answered by the failure policy for its own slots only, and once
//! its replica is promoted its slots are decided exactly again.

mod redis_common;

use floodgate::store::{OnFailure, RedisLayers, RedisLimiter, RedisStore};
use floodgate::{KeyedLimiter, ManualClock, Outcome, Quota, Scope};
use proptest::prelude::*;
use redis_common::model::{quotas, replay, replay_layers, step};
use redis_common::RedisCluster;
use redis_common::{fresh_prefix, BASE_US};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The shared cluster's store, and a hash tag on each of its masters.
fn shared() -> &'static (RedisStore, Vec<String>) {
    static SHARED: OnceLock<(RedisStore, Vec<String>)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let cluster = RedisCluster::shared();
        let tags = cluster
            .masters()
            .into_iter()
            .map(|master| cluster.tag_on(master))
            .collect::<Vec<_>>();
        assert_eq!(tags.len(), 3);
        (RedisStore::cluster(&cluster.urls()).unwrap(), tags)
    })
}

/// A limiter that must decide exactly (see `redis_model.rs`).
fn exact(store: &RedisStore, quota: Quota, prefix: &str) -> RedisLimiter {
    RedisLimiter::builder(store, quota)
        .prefix(prefix)
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .deny_cache(0)
        .build()
        .unwrap()
}

fn engine(quota: Quota) -> KeyedLimiter<str, ManualClock> {
    KeyedLimiter::<str, ManualClock>::builder(quota)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Three keys, one on each master: the engine's decisions, field for field.
    #[test]
    fn every_masters_decisions_equal_the_engine(
        which in 0..5usize,
        deny_cache in prop_oneof![Just(0usize), Just(64usize)],
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let (store, tags) = shared();
        let quota = quotas()[which];
        let redis = RedisLimiter::builder(store, quota)
            .prefix(fresh_prefix())
            .deadline(Duration::from_secs(10))
            .on_failure(OnFailure::Closed)
            .deny_cache(deny_cache)
            .build()
            .unwrap();
        let keys: Vec<String> = tags.iter().map(|tag| format!("{tag}k")).collect();
        replay(&redis, &engine(quota), [&keys[0], &keys[1], &keys[2]], steps)?;
    }

    /// Layers in two or three slots, on different masters: a local
    /// policy's verdicts, the slots that admitted refunded when another
    /// refused. (Lockouts are left out: each refusing slot charges its own.)
    #[test]
    fn layers_across_slots_equal_a_local_policy(
        which in proptest::collection::vec(prop::sample::select(vec![0usize, 1, 2, 4]), 2..4),
        pair_first_two in any::<bool>(),
        steps in proptest::collection::vec(
            (prop_oneof![Just(0u64), 0..300_000u64], 0..3usize, 0..8u64), 1..40),
    ) {
        let (store, tags) = shared();
        let second = if pair_first_two { &tags[0] } else { &tags[1] };
        replay_layers(store, &fresh_prefix(), &which, [&tags[0], second, &tags[2]], steps)?;
    }
}

#[test]
fn a_denial_across_slots_leaves_the_admitted_slot_as_it_was() {
    let (store, tags) = shared();
    let prefix = fresh_prefix();
    let (key_quota, workspace_quota) = (
        Quota::per_minute(1).unwrap().with_burst(3).unwrap(),
        Quota::per_minute(1).unwrap().with_burst(5).unwrap(),
    );
    let layers = RedisLayers::builder(store)
        .layer(Scope::Key, format!("{prefix}key:"), key_quota)
        .layer(Scope::Workspace, format!("{prefix}ws:"), workspace_quota)
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    let keys = exact(store, key_quota, &format!("{prefix}key:"));
    let workspaces = exact(store, workspace_quota, &format!("{prefix}ws:"));
    // Each layer's key on its own master.
    let (a, b, c, workspace) = (
        format!("{}a", tags[0]),
        format!("{}b", tags[0]),
        format!("{}c", tags[2]),
        tags[1].clone(),
    );
    for _ in 0..3 {
        assert!(layers.check(&[&a, &workspace], 1).unwrap().is_admitted());
    }
    // Key a refuses; the workspace's slot admitted and is refunded.
    let denied = layers.check(&[&a, &workspace], 1).unwrap();
    assert_eq!((denied.is_admitted(), denied.scope()), (false, Scope::Key));
    assert_eq!(workspaces.peek(&workspace).unwrap().remaining(), 2);
    for _ in 0..2 {
        assert!(layers.check(&[&b, &workspace], 1).unwrap().is_admitted());
    }
    // The workspace refuses; key c's slot admitted and is refunded.
    let denied = layers.check(&[&c, &workspace], 1).unwrap();
    assert_eq!(
        (denied.is_admitted(), denied.scope()),
        (false, Scope::Workspace)
    );
    assert_eq!(keys.peek(&c).unwrap().remaining(), 3);
    assert_eq!(keys.peek(&a).unwrap().remaining(), 0);
    assert_eq!(layers.counters().failed_closed, 0);
}

#[test]
fn the_script_is_sent_again_to_whichever_node_lost_it() {
    let (store, tags) = shared();
    let redis = exact(store, Quota::per_minute(10).unwrap(), &fresh_prefix());
    for tag in tags {
        assert_eq!(redis.check(tag, 1).unwrap().remaining(), 9);
    }
    for node in &RedisCluster::shared().nodes {
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query(&mut node.client())
            .unwrap();
    }
    let flushed = Instant::now();
    for tag in tags {
        assert_eq!(redis.check(tag, 1).unwrap().remaining(), 8);
    }
    println!(
        "three masters without the script decided again in {:?}",
        flushed.elapsed()
    );
    let counters = redis.counters();
    assert_eq!(
        (counters.exact, counters.errors, counters.failed_closed),
        (6, 0, 0)
    );
}

/// The fault tests' deadline and cool-down: long for a loaded machine's
/// round trip, short next to the faults.
const DEADLINE: Duration = Duration::from_millis(1_000);
const COOL_DOWN: Duration = Duration::from_millis(200);
/// How long a fault test waits for a recovery before failing.
const GIVE_UP: Duration = Duration::from_secs(60);
const FAULT_QUOTA_PER_SECOND: u64 = 1_000;

fn faulted(store: &RedisStore) -> RedisLimiter {
    RedisLimiter::builder(store, Quota::per_second(FAULT_QUOTA_PER_SECOND).unwrap())
        .prefix("fault:")
        .deadline(DEADLINE)
        .breaker(1, COOL_DOWN)
        .on_failure(OnFailure::Closed)
        .deny_cache(0)
        .build()
        .unwrap()
}

/// Checks `key` until Redis decides it: how long that took from `since`.
/// Also how a test first connects, so a slow first connection is not
/// mistaken for a fault.
fn recovery(limiter: &RedisLimiter, key: &str, since: Instant) -> Duration {
    loop {
        let exact = limiter.counters().exact;
        limiter.check(key, 1).unwrap();
        if limiter.counters().exact > exact {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < GIVE_UP,
            "{key} not decided by Redis {GIVE_UP:?} after the fault ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The keys on the live masters, checked at the caller's time `now_us`:
/// the engine's decisions, each made by Redis.
fn live_masters_decide_exactly(
    limiter: &RedisLimiter,
    local: &KeyedLimiter<str, ManualClock>,
    keys: &[String],
    now_us: u64,
) {
    for key in keys {
        let exact = limiter.counters().exact;
        let remote = limiter.check_at(key, 1, BASE_US + now_us).unwrap();
        assert_eq!(remote, local.check_at(key, 1, now_us * 1_000).unwrap());
        assert_eq!(limiter.counters().exact, exact + 1, "{key} at {now_us} us");
    }
}

/// The failure policy's answer for a key on a master that is away.
fn assert_degraded(limiter: &RedisLimiter, key: &str) {
    let before = limiter.counters();
    let decision = limiter.check(key, 1).unwrap();
    assert_eq!(decision.outcome(), Outcome::Denied);
    assert_eq!(decision.retry_after(), Some(COOL_DOWN));
    let after = limiter.counters();
    assert_eq!(after.exact, before.exact);
    assert_eq!(after.failed_closed, before.failed_closed + 1);
}

#[test]
fn a_stopped_master_is_answered_by_the_policy_for_its_slots_only() {
    let cluster = RedisCluster::start(3, 0);
    let store = RedisStore::cluster(&cluster.urls()).unwrap();
    let masters = cluster.masters();
    let tags: Vec<String> = masters.iter().map(|&m| cluster.tag_on(m)).collect();
    let limiter = faulted(&store);
    let local = engine(*limiter.quota());
    for tag in &tags {
        recovery(&limiter, &format!("{tag}warm"), Instant::now());
    }
    let (stopped, live) = (
        format!("{}k", tags[0]),
        [1, 2].map(|i| format!("{}k", tags[i])),
    );

    cluster.nodes[masters[0]].signal(libc::SIGSTOP);
    // The live masters lose the script too: sending it to every node, as
    // SCRIPT LOAD on a cluster does, would wait on the stopped one.
    for &master in &masters[1..] {
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query(&mut cluster.nodes[master].client())
            .unwrap();
    }
    let mut now_us = 0;
    // Through timeouts, the breaker opening, skipped calls and failed
    // probes, and the node being marked failed: the other two masters
    // decide every check.
    let rounds = Instant::now();
    while rounds.elapsed() < Duration::from_secs(3) {
        assert_degraded(&limiter, &stopped);
        live_masters_decide_exactly(&limiter, &local, &live, now_us);
        now_us += 100;
    }
    let counters = limiter.counters();
    println!("while stopped: {counters:?}");
    // A call to the stopped master ends by our deadline or the cluster
    // client's own node timeout, whichever comes first.
    assert!(counters.timeouts + counters.errors >= 1 && counters.skipped >= 1);

    cluster.nodes[masters[0]].signal(libc::SIGCONT);
    let took = recovery(&limiter, &stopped, Instant::now());
    println!(
        "the stopped master's slots decided again {took:?} after SIGCONT (cool-down {COOL_DOWN:?})"
    );
    live_masters_decide_exactly(&limiter, &local, &live, now_us);
}

#[test]
fn a_killed_masters_slots_are_decided_again_once_its_replica_is_promoted() {
    let mut cluster = RedisCluster::start(3, 1);
    let store = RedisStore::cluster(&cluster.urls()).unwrap();
    let masters = cluster.masters();
    let replica = cluster.replica_of(masters[0]);
    let tags: Vec<String> = masters.iter().map(|&m| cluster.tag_on(m)).collect();
    let limiter = faulted(&store);
    let local = engine(*limiter.quota());
    for tag in &tags {
        recovery(&limiter, &format!("{tag}warm"), Instant::now());
    }
    let (killed, live) = (
        format!("{}k", tags[0]),
        [1, 2].map(|i| format!("{}k", tags[i])),
    );

    cluster.nodes[masters[0]].kill();
    let killed_at = Instant::now();
    let before = limiter.counters();
    let decision = limiter.check(&killed, 1).unwrap();
    // The policy's answer, unless the machine stalled this thread past
    // the whole failover (node timeout and election, seconds).
    if !cluster.is_master(replica) {
        assert_eq!(decision.outcome(), Outcome::Denied);
        let after = limiter.counters();
        assert_eq!(
            (after.exact, after.failed_closed),
            (before.exact, before.failed_closed + 1)
        );
    }
    let mut now_us = 0;
    let mut promoted = None;
    let exact_again = loop {
        live_masters_decide_exactly(&limiter, &local, &live, now_us);
        now_us += 100;
        if promoted.is_none() && cluster.is_master(replica) {
            promoted = Some(killed_at.elapsed());
        }
        let exact = limiter.counters().exact;
        limiter.check(&killed, 1).unwrap();
        if limiter.counters().exact > exact {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < GIVE_UP,
            "the killed master's slots not decided {GIVE_UP:?} after the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let promoted = promoted.unwrap_or(exact_again);
    println!(
        "after SIGKILL of a master: replica promoted within {promoted:?}, its slots decided \
         exactly again {exact_again:?} after the kill (node timeout 1 s, cool-down {COOL_DOWN:?}); {:?}",
        limiter.counters()
    );
    assert!(cluster.is_master(replica));
}

/// A master that stops answering but keeps its sockets (SIGSTOP, or a
/// partition that drops packets) draws no error the cluster client would
/// learn the new map from: the store's own map, asked again after the
/// failures, points it to the promoted replica.
#[test]
fn a_stopped_masters_slots_are_decided_again_once_its_replica_is_promoted() {
    let cluster = RedisCluster::start(3, 1);
    let store = RedisStore::cluster(&cluster.urls()).unwrap();
    let masters = cluster.masters();
    let replica = cluster.replica_of(masters[0]);
    let tags: Vec<String> = masters.iter().map(|&m| cluster.tag_on(m)).collect();
    let limiter = faulted(&store);
    for tag in &tags {
        recovery(&limiter, &format!("{tag}warm"), Instant::now());
    }
    let stopped = format!("{}k", tags[0]);
    cluster.nodes[masters[0]].signal(libc::SIGSTOP);
    let stopped_at = Instant::now();
    let mut promoted = None;
    let exact_again = loop {
        if promoted.is_none() && cluster.is_master(replica) {
            promoted = Some(stopped_at.elapsed());
        }
        let exact = limiter.counters().exact;
        limiter.check(&stopped, 1).unwrap();
        if limiter.counters().exact > exact {
            break stopped_at.elapsed();
        }
        assert!(
            stopped_at.elapsed() < GIVE_UP,
            "the stopped master's slots not decided {GIVE_UP:?} after SIGSTOP"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Decided by the replica, promoted: the old master never answered.
    assert!(cluster.is_master(replica));
    cluster.nodes[masters[0]].signal(libc::SIGCONT);
    println!(
        "after SIGSTOP of a master: replica promoted within {:?}, its slots decided exactly \
         again {exact_again:?} after the stop; {:?}",
        promoted.unwrap_or(exact_again),
        limiter.counters()
    );
}
