//! The four published policies in ../shared/seeds/, expressed with floodgate
//! and checked number by number on a manual clock.

use floodgate::{
    Headers, KeyedInFlight, KeyedLimiter, LayerKey, ManualClock, Outcome, Plans, Policy, Quota,
    Scope, Suspensions, TierLimits,
};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

const SECOND: u64 = 1_000_000_000;

/// 001: GenieOS, per-key token bucket + per-workspace sliding window, tiers.
mod genieos {
    use super::*;

    fn plans(clock: &ManualClock) -> Plans<str, u64, ManualClock> {
        floodgate::presets::genieos::plans()
            .unwrap()
            .key_capacity(1_000)
            .workspace_capacity(100)
            .clock(clock.clone())
            .build()
            .unwrap()
    }

    #[test]
    fn a_hobby_key_bursts_60_then_waits_a_thirtieth_of_a_second() {
        let clock = ManualClock::new();
        let plans = plans(&clock);
        let hobby = plans.tier("hobby").unwrap();
        for _ in 0..60 {
            assert!(plans
                .check(hobby, "gos_live_1", &1, 1)
                .unwrap()
                .is_admitted());
        }
        let denied = plans.check(hobby, "gos_live_1", &1, 1).unwrap();
        assert_eq!(denied.decision().outcome(), Outcome::Denied);
        assert_eq!(denied.scope(), Scope::Key);
        assert_eq!(denied.decision().retry_after_ns(), 33_333_334);
        // The 429 a client reads.
        let headers = Headers::new().render_at(&denied.decision(), denied.scope(), 0);
        assert_eq!(headers.get("Retry-After"), Some("0.1"));
        assert_eq!(headers.get("X-RateLimit-Scope"), Some("key"));
        assert_eq!(headers.get("X-RateLimit-Remaining"), Some("0"));
        let body = floodgate::presets::genieos::key_body().render(
            &denied.decision(),
            denied.scope(),
            "req_1",
        );
        assert!(body.contains(r#""code":"key_rate_limit""#));
        assert!(body.contains(r#""retry_after_seconds":0.1"#));
        // Exactly one more after 1/30 s.
        clock.set_ns(33_333_334);
        assert!(plans
            .check(hobby, "gos_live_1", &1, 1)
            .unwrap()
            .is_admitted());
        assert!(!plans
            .check(hobby, "gos_live_1", &1, 1)
            .unwrap()
            .is_admitted());
    }

    #[test]
    fn twenty_five_hobby_keys_share_the_600_per_minute_workspace_window() {
        let clock = ManualClock::new();
        let plans = plans(&clock);
        let hobby = plans.tier("hobby").unwrap();
        let keys: Vec<String> = (0..25).map(|i| format!("gos_live_{i}")).collect();
        for key in &keys {
            for _ in 0..24 {
                assert!(plans.check(hobby, key, &9, 1).unwrap().is_admitted());
            }
        }
        // 600 admitted; every key still has 36 of its 60 left.
        let denied = plans.check(hobby, &keys[0], &9, 1).unwrap();
        assert_eq!(denied.decision().outcome(), Outcome::Denied);
        assert_eq!(denied.scope(), Scope::Workspace);
        assert_eq!(denied.decision().limit(), 600);
        let body = floodgate::presets::genieos::workspace_body().render(
            &denied.decision(),
            denied.scope(),
            "r",
        );
        assert!(body.contains(r#""code":"workspace_rate_limit""#));
        // The denial charged no key bucket.
        assert_eq!(plans.counters(hobby).unwrap().denied, 1);
        // Another workspace is unaffected.
        assert!(plans.check(hobby, &keys[0], &10, 1).unwrap().is_admitted());
    }

    #[test]
    fn sandbox_keys_skip_both_limits_and_tiers_follow_the_table() {
        let clock = ManualClock::new();
        let plans = plans(&clock);
        let sandbox = plans.tier("sandbox").unwrap();
        for _ in 0..10_000 {
            assert!(plans
                .check(sandbox, "gos_test_1", &1, 1)
                .unwrap()
                .is_admitted());
        }
        for (tier, burst, window) in [("pro", 120, 1_800), ("scale", 240, 6_000)] {
            let id = plans.tier(tier).unwrap();
            let first = plans.check(id, "k", &2, 1).unwrap().decision();
            assert_eq!(first.limit(), burst.min(window), "{tier}");
        }
    }

    #[test]
    fn a_key_denial_reports_the_workspace_wait_under_the_tier_own_limit() {
        let clock = ManualClock::new();
        let plans = plans(&clock);
        let (hobby, pro) = (plans.tier("hobby").unwrap(), plans.tier("pro").unwrap());
        // Workspace 4 uses Pro's whole 1,800 for this minute.
        for i in 0..15 {
            assert!(plans
                .check(pro, &format!("p{i}"), &4, 120)
                .unwrap()
                .is_admitted());
        }
        // A Hobby key, emptied elsewhere, is refused by its own bucket first;
        // the workspace, probed under Hobby's 600 (not the 1,800 it last
        // ran under), would refuse far longer, and the verdict says so:
        // 1,800 * (1 - e/60 s) <= 599 once 40.03 s into the next minute.
        assert!(plans.check(hobby, "h", &5, 60).unwrap().is_admitted());
        let verdict = plans.check(hobby, "h", &4, 1).unwrap();
        assert_eq!(verdict.scope(), Scope::Workspace);
        let wait = verdict.decision().retry_after().unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait < Duration::from_secs(101),
            "{wait:?}"
        );
    }

    #[test]
    fn upgrading_a_workspace_takes_effect_on_its_next_check() {
        let clock = ManualClock::new();
        let plans = plans(&clock);
        let (hobby, pro) = (plans.tier("hobby").unwrap(), plans.tier("pro").unwrap());
        let keys: Vec<String> = (0..10).map(|i| format!("key_{i}")).collect();
        for key in &keys {
            assert!(plans.check(hobby, key, &3, 60).unwrap().is_admitted());
        }
        assert!(!plans.check(hobby, &keys[0], &3, 1).unwrap().is_admitted()); // 600 used
                                                                              // On Pro the same workspace window allows 1,800, counts kept.
        let upgraded = plans.check(pro, "key_new", &3, 1).unwrap();
        assert!(upgraded.is_admitted());
        assert_eq!(upgraded.decision().limit(), 120); // the key bucket is tighter
    }

    #[test]
    fn the_batch_endpoint_is_one_hit_with_four_in_flight_per_workspace() {
        let clock = ManualClock::new();
        let plans = plans(&clock);
        let hobby = plans.tier("hobby").unwrap();
        let batches: KeyedInFlight<u64> = KeyedInFlight::builder(4).capacity(100).build().unwrap();
        let mut held = Vec::new();
        for _ in 0..4 {
            // 1,000 recipients, one rate-limit hit.
            assert!(plans.check(hobby, "k", &5, 1).unwrap().is_admitted());
            held.push(batches.try_acquire(&5).unwrap().permit().unwrap());
        }
        assert!(!batches.try_acquire(&5).unwrap().is_granted());
        assert_eq!(batches.in_flight(&5), 4);
        drop(held);
        assert_eq!(batches.in_flight(&5), 0);
        assert_eq!(
            plans
                .check(hobby, "k", &5, 0)
                .unwrap()
                .decision()
                .remaining(),
            56
        );
    }

    #[test]
    fn hammering_during_the_cooldown_extends_the_lockout() {
        let clock = ManualClock::new();
        let quota = Quota::per_second(30)
            .unwrap()
            .with_burst(60)
            .unwrap()
            .with_lockout(Duration::from_secs(10))
            .unwrap();
        let keys: KeyedLimiter<str, ManualClock> = KeyedLimiter::<str>::builder(quota)
            .clock(clock.clone())
            .build()
            .unwrap();
        keys.check("k", 60).unwrap();
        let polite = keys.check("k", 1).unwrap().retry_after_ns();
        for _ in 0..100 {
            keys.check("k", 1).unwrap();
        }
        let hammered = keys.check("k", 1).unwrap().retry_after_ns();
        assert!(hammered > polite);
        // Bounded: never more than the lockout plus one interval.
        for _ in 0..10_000 {
            keys.check("k", 1).unwrap();
        }
        assert_eq!(
            keys.check("k", 1).unwrap().retry_after_ns(),
            10 * SECOND + 33_333_334
        );
    }

    #[test]
    fn the_warning_zone_starts_at_20_percent_remaining() {
        let clock = ManualClock::new();
        let plans = plans(&clock);
        let hobby = plans.tier("hobby").unwrap();
        let first = plans.check(hobby, "k", &1, 47).unwrap().decision(); // 13 of 60 left
        assert!(!first.in_warning_zone(floodgate::presets::genieos::WARNING_ZONE_PERCENT));
        let next = plans.check(hobby, "k", &1, 1).unwrap().decision(); // 12 = 20 %
        assert!(next.in_warning_zone(floodgate::presets::genieos::WARNING_ZONE_PERCENT));
    }

    #[test]
    fn the_sdk_honours_retry_after_else_backs_off_250ms_doubling_five_times() {
        let policy =
            floodgate::presets::genieos::retry_policy().with_jitter(floodgate::Jitter::None);
        assert_eq!(
            policy.delay(0, Some(Duration::from_millis(600))),
            Some(Duration::from_millis(600))
        );
        let waits: Vec<_> = (0..6).map(|attempt| policy.delay(attempt, None)).collect();
        assert_eq!(
            waits,
            [250, 500, 1_000, 2_000, 4_000]
                .map(|ms| Some(Duration::from_millis(ms)))
                .into_iter()
                .chain([None])
                .collect::<Vec<_>>()
        );
    }
}

/// 002: Clarifai, 15 requests per second for every user, custom per customer.
mod clarifai {
    use super::*;

    #[test]
    fn fifteen_per_second_by_default_custom_limits_per_customer() {
        let clock = ManualClock::new();
        let users: KeyedLimiter<str, ManualClock> =
            KeyedLimiter::<str>::builder(Quota::per_second(15).unwrap())
                .clock(clock.clone())
                .build()
                .unwrap();
        users
            .set_quota("big_customer", Quota::per_second(100).unwrap())
            .unwrap();
        for _ in 0..15 {
            assert!(users.check("user_a", 1).unwrap().is_admitted());
        }
        let throttled = users.check("user_a", 1).unwrap();
        assert_eq!(throttled.outcome(), Outcome::Denied);
        assert_eq!(
            users.check("big_customer", 100).unwrap().outcome(),
            Outcome::Admitted
        );
        let body = floodgate::presets::clarifai::error_body(
            "exceeded limit of {limit} requests per second",
        )
        .unwrap()
        .render(&throttled, Scope::Key, "req_9");
        assert_eq!(
            body,
            r#"{"status":{"code":"CONN_THROTTLED","description":"Making too many requests","details":"exceeded limit of 15 requests per second","req_id":"req_9"}}"#
        );
        let numeric = floodgate::presets::clarifai::error_body(
            "exceeded limit of {limit} requests per second",
        )
        .unwrap()
        .field_number("code", 11005)
        .render(&throttled, Scope::Key, "req_9");
        assert!(numeric.starts_with(r#"{"status":{"code":11005,"#));
        // One fifteenth of a second later, one more.
        clock.set_ns(SECOND / 15 + 1);
        assert!(users.check("user_a", 1).unwrap().is_admitted());
    }
}

/// 000: Genera, each customer sets its own rate, throttled or delayed,
/// suspension for non-compliance.
mod genera {
    use super::*;

    /// Customers at 10 per second unless they set their own rate.
    fn customers(clock: &ManualClock) -> KeyedLimiter<str, ManualClock> {
        KeyedLimiter::<str>::builder(Quota::per_second(10).unwrap())
            .clock(clock.clone())
            .build()
            .unwrap()
    }

    #[test]
    fn customers_change_their_own_limit_and_see_it_on_the_next_request() {
        let clock = ManualClock::new();
        let customers = customers(&clock);
        customers
            .set_quota("acme", Quota::per_second(20).unwrap())
            .unwrap();
        assert!(customers.check("acme", 15).unwrap().is_admitted());
        // Raised through the API: the 15 used carry over.
        customers
            .set_quota("acme", Quota::per_second(50).unwrap())
            .unwrap();
        assert_eq!(customers.peek("acme").unwrap().remaining(), 35);
        // Lowered below what was used: nothing left until it refills.
        customers
            .set_quota("acme", Quota::per_second(5).unwrap())
            .unwrap();
        assert_eq!(customers.peek("acme").unwrap().remaining(), 0);
        clock.set_ns(SECOND / 5);
        assert!(customers.check("acme", 1).unwrap().is_admitted());
    }

    #[test]
    fn excess_is_delayed_up_to_a_bound_then_rejected() {
        let clock = ManualClock::new();
        let customers = customers(&clock);
        customers.check("acme", 10).unwrap();
        let delayed = customers
            .reserve("acme", 1, Duration::from_millis(500))
            .unwrap();
        assert!(delayed.is_admitted());
        assert_eq!(delayed.delay(), Duration::from_millis(100));
        let later = customers
            .reserve("acme", 4, Duration::from_millis(500))
            .unwrap();
        assert_eq!(later.delay(), Duration::from_millis(500));
        let refused = customers
            .reserve("acme", 1, Duration::from_millis(500))
            .unwrap();
        assert_eq!(refused.outcome(), Outcome::Denied);
        // A cancelled reservation is refunded.
        customers.refund("acme", 4).unwrap();
        assert!(customers
            .reserve("acme", 1, Duration::from_millis(500))
            .unwrap()
            .is_admitted());
    }

    #[test]
    fn a_suspended_customer_is_refused_as_suspended_not_rate_limited() {
        let clock = ManualClock::new();
        let suspensions = Arc::new(
            Suspensions::<str>::builder()
                .capacity(100)
                .clock(clock.clone())
                .build()
                .unwrap(),
        );
        let customers = Arc::new(customers(&clock));
        let policy = Policy::builder()
            .layer(Scope::Named("suspension"), suspensions.clone())
            .layer(Scope::Key, customers.clone())
            .clock(clock.clone())
            .build()
            .unwrap();
        let keys = [LayerKey::from("acme"), LayerKey::from("acme")];
        assert!(policy.check(&keys, 1).unwrap().is_admitted());
        suspensions.suspend_until("acme", None).unwrap();
        let refused = policy.check(&keys, 1).unwrap();
        assert_eq!(refused.decision().outcome(), Outcome::Suspended);
        assert_eq!(refused.decision().retry_after(), None);
        assert_eq!(policy.counters().suspended, 1);
        // The bucket was left alone: 9 of 10 remain when access returns.
        suspensions.lift("acme").unwrap();
        assert_eq!(policy.check(&keys, 0).unwrap().decision().remaining(), 9);
    }
}

/// 003: the license-key API, per source IP and per access token at once,
/// stricter limits on validation and activation, exponential backoff.
mod license_api {
    use super::*;

    struct Api {
        general: Policy<ManualClock>,
        critical: Policy<ManualClock>,
    }

    fn api(clock: &ManualClock) -> Api {
        let per_ip = Arc::new(
            KeyedLimiter::<IpAddr>::builder(
                Quota::per_minute(120).unwrap().with_burst(20).unwrap(),
            )
            .clock(clock.clone())
            .build()
            .unwrap(),
        );
        let per_token = Arc::new(
            KeyedLimiter::<str>::builder(Quota::per_minute(60).unwrap().with_burst(10).unwrap())
                .clock(clock.clone())
                .build()
                .unwrap(),
        );
        let critical =
            KeyedLimiter::<str>::builder(Quota::per_minute(6).unwrap().with_burst(3).unwrap())
                .clock(clock.clone())
                .build()
                .unwrap();
        Api {
            general: Policy::builder()
                .layer(Scope::Ip, per_ip.clone())
                .layer(Scope::Token, per_token.clone())
                .clock(clock.clone())
                .build()
                .unwrap(),
            critical: Policy::builder()
                .layer(Scope::Ip, per_ip)
                .layer(Scope::Token, per_token)
                .layer(Scope::Named("license-validation"), critical)
                .clock(clock.clone())
                .build()
                .unwrap(),
        }
    }

    #[test]
    fn ip_and_token_limits_apply_together_and_validation_is_stricter() {
        let clock = ManualClock::new();
        let api = api(&clock);
        let ip = LayerKey::from(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
        let token = LayerKey::from("tok_1");
        for _ in 0..3 {
            assert!(api
                .critical
                .check(&[ip, token, token], 1)
                .unwrap()
                .is_admitted());
        }
        let refused = api.critical.check(&[ip, token, token], 1).unwrap();
        assert_eq!(refused.scope(), Scope::Named("license-validation"));
        assert_eq!(
            refused.decision().retry_after(),
            Some(Duration::from_secs(10))
        );
        // Ordinary endpoints still work for the same token: 7 of its 10 left.
        for _ in 0..7 {
            assert!(api.general.check(&[ip, token], 1).unwrap().is_admitted());
        }
        let refused = api.general.check(&[ip, token], 1).unwrap();
        assert_eq!(refused.scope(), Scope::Token);
        // Other tokens from the same IP share the IP's 20 (10 used so far).
        let (second, third) = (LayerKey::from("tok_2"), LayerKey::from("tok_3"));
        for token in [second, third] {
            for _ in 0..5 {
                assert!(api.general.check(&[ip, token], 1).unwrap().is_admitted());
            }
        }
        let refused = api.general.check(&[ip, third], 1).unwrap();
        assert_eq!(refused.scope(), Scope::Ip);
        assert_eq!(
            refused.decision().retry_after(),
            Some(Duration::from_millis(500))
        );
    }

    #[test]
    fn clients_back_off_one_two_four_eight_seconds() {
        let policy =
            floodgate::presets::license_api::retry_policy().with_jitter(floodgate::Jitter::None);
        let waits: Vec<_> = (0..4)
            .map(|attempt| policy.delay(attempt, None).unwrap())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8].map(Duration::from_secs));
    }

    #[test]
    fn tier_limits_can_be_renegotiated_at_runtime() {
        let clock = ManualClock::new();
        let plans: Plans<str, u64, ManualClock> =
            Plans::<str, u64>::builder(Duration::from_secs(60))
                .tier(
                    "enterprise",
                    TierLimits {
                        per_key: Some(Quota::per_second(500).unwrap()),
                        per_workspace: Some(20_000),
                    },
                )
                .clock(clock.clone())
                .build()
                .unwrap();
        let enterprise = plans.tier("enterprise").unwrap();
        let key_remaining = || {
            let peek = plans.check(enterprise, "k", &1, 0).unwrap();
            peek.decision().remaining()
        };
        assert!(plans.check(enterprise, "k", &1, 400).unwrap().is_admitted());
        plans
            .reconfigure_tier(
                enterprise,
                TierLimits {
                    per_key: Some(Quota::per_second(1_000).unwrap()),
                    per_workspace: Some(50_000),
                },
            )
            .unwrap();
        assert_eq!(key_remaining(), 600);
        // A contract with no workspace allowance is refused whole: the key
        // quota stays as it was too.
        assert_eq!(
            plans.reconfigure_tier(
                enterprise,
                TierLimits {
                    per_key: Some(Quota::per_second(5).unwrap()),
                    per_workspace: Some(0),
                },
            ),
            Err(floodgate::Error::ZeroLimit)
        );
        assert_eq!(key_remaining(), 600);
    }
}
