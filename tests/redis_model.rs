//! Redis mode decides as the local engine does: the same decisions, field
//! for field, for the same quota and microsecond-aligned arrivals; layered
//! checks charge all layers or none; the script survives SCRIPT FLUSH.

mod redis_common;

use floodgate::store::{OnFailure, RedisLayers, RedisLimiter, RedisStore};
use floodgate::{KeyedLimiter, ManualClock, Outcome, Quota, Scope};
use proptest::prelude::*;
use redis_common::model::{quotas, replay, replay_layers, step};
use redis_common::{fresh_prefix, shared_store, RedisServer, BASE_US};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One server for the whole binary; each case uses keys of its own.
fn server() -> &'static RedisServer {
    RedisServer::shared()
}

/// A limiter that must decide exactly: a generous deadline for a loaded
/// machine, and a failure would show as a closed-policy denial counted
/// in `failed_closed`, which every test checks is zero.
fn limiter(store: &RedisStore, quota: Quota, deny_cache: usize) -> RedisLimiter {
    RedisLimiter::builder(store, quota)
        .prefix(fresh_prefix())
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .deny_cache(deny_cache)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn redis_decisions_equal_the_engine(
        which in 0..5usize,
        deny_cache in prop_oneof![Just(0usize), Just(64usize)],
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let quota = quotas()[which];
        let store = shared_store();
        let redis = limiter(&store, quota, deny_cache);
        let local = KeyedLimiter::<str, ManualClock>::builder(quota).build().unwrap();
        replay(&redis, &local, ["a", "b", "{c}d"], steps)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// One script for all layers gives a local `Policy`'s verdicts: the
    /// same decision, scope and layer, a denial charging no layer.
    #[test]
    fn redis_layers_equal_a_local_policy(
        which in proptest::collection::vec(0..5usize, 2..4),
        steps in proptest::collection::vec(
            (prop_oneof![Just(0u64), 0..300_000u64], 0..3usize, 0..8u64), 1..40),
    ) {
        replay_layers(&shared_store(), &fresh_prefix(), &which, ["{t}"; 3], steps)?;
    }
}

#[test]
fn decisions_carry_the_engines_fields() {
    let store = shared_store();
    let quota = Quota::per_second(30).unwrap().with_burst(60).unwrap();
    let redis = limiter(&store, quota, 0);
    for i in 0..60 {
        let decision = redis.check_at("k", 1, BASE_US).unwrap();
        assert_eq!(
            (decision.outcome(), decision.remaining()),
            (Outcome::Admitted, 59 - i)
        );
    }
    let denied = redis.check_at("k", 1, BASE_US).unwrap();
    assert_eq!(denied.outcome(), Outcome::Denied);
    assert_eq!(denied.retry_after_ns(), 33_333_334);
    assert_eq!(denied.reset_after(), Duration::from_secs(2));
    let never = redis.check_at("k", 61, BASE_US).unwrap();
    assert_eq!(
        (never.outcome(), never.retry_after()),
        (Outcome::CannotFit, None)
    );
    assert_eq!(redis.counters().exact, 62);
}

#[test]
fn a_key_expires_when_its_bucket_is_full_again() {
    let store = shared_store();
    // 10 a minute: the bucket drains for 18 s, far longer than a slow run
    // (memcheck) takes to read its time to live.
    let quota = Quota::per_minute(10).unwrap();
    let redis = limiter(&store, quota, 0);
    redis.check("exp", 3).unwrap();
    let mut client = server().client();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*exp").query(&mut client).unwrap();
    let ours: Vec<_> = keys.iter().filter(|k| k.ends_with(":exp")).collect();
    assert!(!ours.is_empty());
    for key in ours {
        let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut client).unwrap();
        // 3 requests at 10 a minute drain in 18 s; the script adds at most 2 ms.
        assert!((0..=18_002).contains(&ttl), "ttl {ttl} ms");
    }
    // Refunded to full: the key is gone.
    let full = redis.refund("exp", 3).unwrap();
    assert_eq!(full.remaining(), 10);
}

#[test]
fn the_script_reloads_itself_after_script_flush() {
    let store = shared_store();
    // 10 a minute: no token comes back between the two checks, however
    // slowly the test runs (memcheck).
    let redis = limiter(&store, Quota::per_minute(10).unwrap(), 0);
    assert!(redis.check("flush", 1).unwrap().is_admitted());
    let mut client = server().client();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut client)
        .unwrap();
    let after = redis.check("flush", 1).unwrap();
    assert!(after.is_admitted());
    assert_eq!(after.remaining(), 8);
    let counters = redis.counters();
    assert_eq!(
        (counters.exact, counters.errors, counters.failed_closed),
        (2, 0, 0)
    );
}

#[test]
fn the_deny_cache_answers_until_the_key_fits() {
    let store = shared_store();
    let quota = Quota::per_second(10).unwrap().with_burst(2).unwrap();
    let redis = limiter(&store, quota, 16);
    let local = KeyedLimiter::<str, ManualClock>::builder(quota)
        .build()
        .unwrap();
    for t in [0u64, 0, 0, 50_000, 99_999, 100_000, 100_000, 150_000] {
        let remote = redis.check_at("dc", 1, BASE_US + t).unwrap();
        assert_eq!(
            remote,
            local.check_at("dc", 1, t * 1_000).unwrap(),
            "at {t} us"
        );
    }
    // Redis denied the third at 0 and the second at 100 ms; the cache, at
    // 50 ms, 99.999 ms and 150 ms.
    let counters = redis.counters();
    assert_eq!(counters.cached, 3);
    assert_eq!(counters.exact, 5);
}

fn layers(store: &RedisStore, prefix: &str) -> RedisLayers {
    RedisLayers::builder(store)
        .layer(
            Scope::Key,
            format!("{prefix}key:"),
            Quota::per_second(1).unwrap().with_burst(3).unwrap(),
        )
        .layer(
            Scope::Workspace,
            format!("{prefix}ws:"),
            Quota::per_second(1).unwrap().with_burst(5).unwrap(),
        )
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap()
}

#[test]
fn a_layered_denial_charges_no_layer() {
    let store = shared_store();
    let prefix = fresh_prefix();
    let policy = layers(&store, &prefix);
    let workspace = "{ws1}";
    // Key a takes 3 of the workspace's 5, key b takes 2 more: full.
    for _ in 0..3 {
        assert!(policy
            .check_at(&["{ws1}a", workspace], 1, BASE_US)
            .unwrap()
            .is_admitted());
    }
    let denied = policy.check_at(&["{ws1}a", workspace], 1, BASE_US).unwrap();
    assert_eq!(
        (denied.is_admitted(), denied.scope(), denied.layer()),
        (false, Scope::Key, 0)
    );
    for _ in 0..2 {
        let admitted = policy.check_at(&["{ws1}b", workspace], 1, BASE_US).unwrap();
        assert!(admitted.is_admitted());
    }
    // The tightest layer is named when admitted: the workspace had 0 left.
    let denied = policy.check_at(&["{ws1}c", workspace], 1, BASE_US).unwrap();
    assert_eq!(
        (denied.is_admitted(), denied.scope()),
        (false, Scope::Workspace)
    );
    // Key c was not charged by that denial: alone it still has its 3.
    let alone = RedisLimiter::builder(&store, Quota::per_second(1).unwrap().with_burst(3).unwrap())
        .prefix(format!("{prefix}key:"))
        .deadline(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(alone.peek_at("{ws1}c", BASE_US).unwrap().remaining(), 3);
    assert_eq!(policy.counters().failed_closed, 0);
}

#[test]
fn layered_checks_from_many_threads_never_overcharge() {
    let store = shared_store();
    let prefix = fresh_prefix();
    let policy = layers(&store, &prefix);
    let admitted = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let (policy, admitted) = (&policy, &admitted);
            scope.spawn(move || {
                for i in 0..20 {
                    let key = format!("{{ws2}}k{}", (thread * 20 + i) % 3);
                    if policy
                        .check_at(&[key.as_str(), "{ws2}"], 1, BASE_US)
                        .unwrap()
                        .is_admitted()
                    {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    // At one instant: the workspace's burst of 5, exactly, whatever the interleaving.
    assert_eq!(admitted.load(Ordering::Relaxed), 5);
    let workspace =
        RedisLimiter::builder(&store, Quota::per_second(1).unwrap().with_burst(5).unwrap())
            .prefix(format!("{prefix}ws:"))
            .deadline(Duration::from_secs(10))
            .build()
            .unwrap();
    assert_eq!(workspace.peek_at("{ws2}", BASE_US).unwrap().remaining(), 0);
    assert_eq!(policy.counters().failed_closed, 0);
}

#[test]
fn the_async_api_decides_alike() {
    let store = shared_store();
    // 10 a minute: the third check is denied however slowly the test runs.
    let redis = limiter(
        &store,
        Quota::per_minute(10).unwrap().with_burst(2).unwrap(),
        0,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcomes: Vec<bool> = runtime.block_on(async {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(redis.check_async("async", 1).await.unwrap().is_admitted());
        }
        seen
    });
    assert_eq!(outcomes, [true, true, false]);
}

#[test]
fn caller_timed_buckets_outlive_the_servers_clock() {
    let store = shared_store();
    // One request drains in 10 ms of the caller's time; 30 ms of the
    // server's pass before the caller's clock moves at all.
    let redis = limiter(&store, Quota::per_second(100).unwrap(), 0);
    assert_eq!(redis.check_at("slow", 1, BASE_US).unwrap().remaining(), 99);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(redis.check_at("slow", 1, BASE_US).unwrap().remaining(), 98);
}
