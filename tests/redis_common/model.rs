//! What the Redis model tests of a standalone server and of a cluster
//! share: the quotas they run and the random steps they take.

use floodgate::store::{OnFailure, RedisLayers, RedisLimiter, RedisStore};
use floodgate::{KeyedLimiter, LayerKey, ManualClock, Policy, Quota, Scope};
use proptest::prelude::*;
use std::time::Duration;

use super::BASE_US;

pub fn quotas() -> Vec<Quota> {
    vec![
        Quota::per_second(30).unwrap().with_burst(60).unwrap(),
        Quota::new(7, Duration::from_secs(3))
            .unwrap()
            .with_burst(5)
            .unwrap(),
        // Rounded: 1/32 ns ticks.
        Quota::per_second(1_000_003)
            .unwrap()
            .with_burst(10)
            .unwrap(),
        Quota::per_second(10)
            .unwrap()
            .with_lockout(Duration::from_millis(1_500))
            .unwrap(),
        Quota::per_period(1, Duration::from_nanos(999_999_999), 3).unwrap(),
    ]
}

#[derive(Debug, Clone)]
pub enum Step {
    Check { key: usize, cost: u64 },
    Peek { key: usize },
    Refund { key: usize, amount: u64 },
}

pub fn step() -> impl Strategy<Value = (u64, Step)> {
    let gap = prop_oneof![Just(0u64), 0..2_000u64, 0..400_000u64, 0..5_000_000u64];
    let step = prop_oneof![
        6 => (0..3usize, 0..13u64).prop_map(|(key, cost)| Step::Check { key, cost }),
        1 => (0..3usize).prop_map(|key| Step::Peek { key }),
        1 => (0..3usize, 0..4u64).prop_map(|(key, amount)| Step::Refund { key, amount }),
    ];
    (gap, step)
}

/// Takes `steps` on `keys` through `redis` (at [`BASE_US`] on) and `local`
/// (at 0 on): every decision must be the same, and Redis must have made
/// each one.
pub fn replay(
    redis: &RedisLimiter,
    local: &KeyedLimiter<str, ManualClock>,
    keys: [&str; 3],
    steps: Vec<(u64, Step)>,
) -> Result<(), TestCaseError> {
    let mut now_us = 0u64;
    for (index, (gap, step)) in steps.into_iter().enumerate() {
        now_us += gap;
        let (remote, engine) = match step {
            Step::Check { key, cost } => (
                redis.check_at(keys[key], cost, BASE_US + now_us).unwrap(),
                local.check_at(keys[key], cost, now_us * 1_000).unwrap(),
            ),
            Step::Peek { key } => (
                redis.peek_at(keys[key], BASE_US + now_us).unwrap(),
                local.peek_at(keys[key], now_us * 1_000).unwrap(),
            ),
            Step::Refund { key, amount } => (
                redis
                    .refund_at(keys[key], amount, BASE_US + now_us)
                    .unwrap(),
                local.refund_at(keys[key], amount, now_us * 1_000).unwrap(),
            ),
        };
        prop_assert_eq!(remote, engine, "step {} at {} us", index, now_us);
    }
    prop_assert_eq!(redis.counters().failed_closed, 0);
    Ok(())
}

/// Checks `steps` (gap in us, key, cost) through layers of `quotas()[which[i]]`
/// on `store` (keys under `prefix`) and through a local `Policy` of the same
/// layers: the same decision, scope and layer every time, and every one
/// decided by Redis. Layer 0 is keyed by one of three keys after `tags[0]`,
/// layer `i > 0` by `tags[i]` alone.
pub fn replay_layers(
    store: &RedisStore,
    prefix: &str,
    which: &[usize],
    tags: [&str; 3],
    steps: Vec<(u64, usize, u64)>,
) -> Result<(), TestCaseError> {
    let scopes = [Scope::Key, Scope::Workspace, Scope::Endpoint];
    let mut remote = RedisLayers::builder(store)
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed);
    let mut local = Policy::builder();
    for (layer, &quota) in which.iter().enumerate() {
        let quota = quotas()[quota];
        remote = remote.layer(scopes[layer], format!("{prefix}{layer}:"), quota);
        local = local.layer(
            scopes[layer],
            KeyedLimiter::<str, ManualClock>::builder(quota)
                .build()
                .unwrap(),
        );
    }
    let (remote, local) = (remote.build().unwrap(), local.build().unwrap());
    let mut now_us = 0;
    for (index, (gap, key, cost)) in steps.into_iter().enumerate() {
        now_us += gap;
        let keys: Vec<String> = (0..which.len())
            .map(|layer| match layer {
                0 => format!("{}{key}", tags[0]),
                _ => tags[layer].to_owned(),
            })
            .collect();
        let local_keys: Vec<LayerKey<'_>> = keys.iter().map(|k| LayerKey::Str(k)).collect();
        let verdict = remote.check_at(&keys, cost, BASE_US + now_us).unwrap();
        let expected = local.check_at(&local_keys, cost, now_us * 1_000).unwrap();
        prop_assert_eq!(verdict, expected, "step {} at {} us", index, now_us);
    }
    prop_assert_eq!(remote.counters().failed_closed, 0);
    Ok(())
}
