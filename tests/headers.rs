//! Response metadata on the seeds' numbers: GenieOS headers and bodies,
//! Clarifai's body, the IETF draft fields.

use floodgate::{
    Error, ErrorBody, Headers, Limiter, ManualClock, Outcome, Quota, RateLimitPolicy,
    RetryAfterFormat, Scope, SlidingWindow,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2026-04-20T12:33:00Z.
const NOW_UNIX_NS: u64 = 1_776_688_380_000_000_000;

#[test]
fn genieos_workspace_window_denies_the_601st_with_scope_workspace() {
    let workspace = SlidingWindow::builder(600, Duration::from_secs(60))
        .clock(ManualClock::new())
        .build()
        .unwrap();
    for _ in 0..600 {
        assert!(workspace.check(1).is_admitted());
    }
    let denied = workspace.check(1);
    assert_eq!(denied.outcome(), Outcome::Denied);
    let headers = Headers::new().render_at(&denied, Scope::Workspace, NOW_UNIX_NS);
    assert_eq!(headers.get("retry-after"), Some("60.1"));
    assert_eq!(headers.get("X-RateLimit-Limit"), Some("600"));
    assert_eq!(headers.get("X-RateLimit-Remaining"), Some("0"));
    assert_eq!(headers.get("X-RateLimit-Scope"), Some("workspace"));
    // The 600 slide out completely two minutes after the window began.
    assert_eq!(
        headers.get("X-RateLimit-Reset"),
        Some("2026-04-20T12:35:00Z")
    );

    let body = floodgate::presets::genieos::workspace_body().render(
        &denied,
        Scope::Workspace,
        "req_01JABC",
    );
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        parsed,
        json!({"error": {
            "type": "rate_limit_exceeded",
            "code": "workspace_rate_limit",
            "message": "Workspace exceeded its rate limit. Retry after 60.1s.",
            "retry_after_seconds": 60.1,
            "request_id": "req_01JABC",
        }})
    );
}

#[test]
fn genieos_key_body_says_retry_after_0_6() {
    // 5 per 3 s, burst 1: the second request waits exactly 0.6 s.
    let limiter = Limiter::builder(
        Quota::new(5, Duration::from_secs(3))
            .unwrap()
            .with_burst(1)
            .unwrap(),
    )
    .clock(ManualClock::new())
    .build();
    assert!(limiter.check(1).is_admitted());
    let denied = limiter.check(1);
    assert_eq!(denied.retry_after(), Some(Duration::from_millis(600)));
    let headers = Headers::new().render_at(&denied, Scope::Key, NOW_UNIX_NS);
    assert_eq!(headers.get("Retry-After"), Some("0.6"));
    assert_eq!(headers.get("X-RateLimit-Scope"), Some("key"));
    assert_eq!(
        headers.get("X-RateLimit-Reset"),
        Some("2026-04-20T12:33:01Z")
    );
    let body = floodgate::presets::genieos::key_body().render(&denied, Scope::Key, "req_01JABC...");
    assert_eq!(
        body,
        r#"{"error":{"type":"rate_limit_exceeded","code":"key_rate_limit","message":"API key exceeded its rate limit. Retry after 0.6s.","retry_after_seconds":0.6,"request_id":"req_01JABC..."}}"#
    );
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed["error"]["retry_after_seconds"], json!(0.6));
}

#[test]
fn retry_after_is_never_zero_while_denied() {
    let limiter = Limiter::builder(Quota::per_second(1_000_000_000).unwrap())
        .clock(ManualClock::new())
        .build();
    limiter.check(1_000_000_000);
    let denied = limiter.check(1);
    assert_eq!(denied.retry_after_ns(), 1);
    for format in [
        RetryAfterFormat::WholeSeconds,
        RetryAfterFormat::Fractional { decimals: 1 },
        RetryAfterFormat::Fractional { decimals: 9 },
    ] {
        let headers =
            Headers::new()
                .with_retry_after_format(format)
                .render_at(&denied, Scope::Key, 0);
        let value: f64 = headers.get("Retry-After").unwrap().parse().unwrap();
        assert!(value > 0.0, "{format:?}");
    }
}

#[test]
fn clarifai_body_with_name_or_number() {
    let limiter = Limiter::builder(Quota::per_second(15).unwrap())
        .clock(ManualClock::new())
        .build();
    limiter.check(15);
    let denied = limiter.check(1);
    let body =
        floodgate::presets::clarifai::error_body("exceeded limit of {limit} requests per second")
            .unwrap();
    let named: Value = serde_json::from_str(&body.render(&denied, Scope::Key, "r1")).unwrap();
    assert_eq!(
        named,
        json!({"status": {
            "code": "CONN_THROTTLED",
            "description": "Making too many requests",
            "details": "exceeded limit of 15 requests per second",
            "req_id": "r1",
        }})
    );
    let numbered = body
        .field_number("code", 11005)
        .render(&denied, Scope::Key, "r1");
    let numbered: Value = serde_json::from_str(&numbered).unwrap();
    assert_eq!(numbered["status"]["code"], json!(11005));
}

#[test]
fn bodies_escape_whatever_they_are_given() {
    let limiter = Limiter::builder(Quota::per_second(1).unwrap())
        .clock(ManualClock::new())
        .build();
    limiter.check(1);
    let denied = limiter.check(1);
    let hostile = "\"}\\\n\u{0}é🦀";
    let body =
        floodgate::presets::genieos::error_body(hostile, "{scope}: {{\"{remaining}\"}} {limit}")
            .unwrap()
            .field_text("type", hostile)
            .render(&denied, Scope::Named("a\"b"), hostile);
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed["error"]["code"], json!(hostile));
    assert_eq!(parsed["error"]["type"], json!(hostile));
    assert_eq!(parsed["error"]["request_id"], json!(hostile));
    assert_eq!(parsed["error"]["message"], json!("a\"b: {\"0\"} 1"));
}

#[test]
fn cannot_fit_has_no_retry_after() {
    let limiter = Limiter::builder(Quota::per_second(10).unwrap())
        .clock(ManualClock::new())
        .build();
    let decision = limiter.check(11);
    assert_eq!(decision.outcome(), Outcome::CannotFit);
    let headers = Headers::new().render_at(&decision, Scope::Endpoint, 0);
    assert_eq!(headers.get("Retry-After"), None);
    let body = floodgate::presets::genieos::key_body().render(&decision, Scope::Endpoint, "r");
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed["error"]["retry_after_seconds"], Value::Null);
}

#[test]
fn ietf_draft_fields() {
    let window = SlidingWindow::builder(100, Duration::from_secs(60))
        .clock(ManualClock::new())
        .build()
        .unwrap();
    window.check(58);
    let decision = window.check_at(0, 43_000_000_000);
    let policy = RateLimitPolicy::new("default", 100, Duration::from_secs(60)).unwrap();
    let headers = Headers::new()
        .without_legacy_fields()
        .with_policy(policy)
        .render_at(&decision, Scope::Workspace, NOW_UNIX_NS);
    let names: Vec<_> = headers.iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["RateLimit-Policy", "RateLimit"]);
    assert_eq!(
        headers.get("RateLimit-Policy"),
        Some("\"default\";q=100;w=60")
    );
    assert_eq!(headers.get("RateLimit"), Some("\"default\";r=42;t=77"));
    let odd = RateLimitPolicy::new("a\"b\\c", 5, Duration::from_millis(1_500)).unwrap();
    assert_eq!(odd.field(), r#""a\"b\\c";q=5;w=2"#);
    assert_eq!(
        RateLimitPolicy::new("é", 1, Duration::from_secs(1)),
        Err(Error::InvalidPolicyName)
    );
}

#[test]
fn render_reads_the_wall_clock() {
    let decision = Limiter::builder(Quota::per_second(30).unwrap())
        .build()
        .check(0);
    let at = UNIX_EPOCH + Duration::from_nanos(NOW_UNIX_NS);
    let headers = Headers::new().render(&decision, Scope::Ip, at);
    assert_eq!(
        headers.get("X-RateLimit-Reset"),
        Some("2026-04-20T12:33:00Z")
    );
    assert_eq!(headers.get("X-RateLimit-Scope"), Some("ip"));
    let now = Headers::new().render(&decision, Scope::Ip, SystemTime::now());
    assert!(now.get("X-RateLimit-Reset").unwrap().starts_with("20"));
}

/// The draft fields of a GenieOS key bucket (30/s, burst 60): the policy
/// advertises the bucket a client can spend, so the current state never
/// reads as more than the policy allows.
#[test]
fn ietf_policy_of_a_bucket_covers_its_burst() {
    let quota = Quota::per_second(30).unwrap().with_burst(60).unwrap();
    let limiter = Limiter::builder(quota).clock(ManualClock::new()).build();
    let headers = Headers::new()
        .without_legacy_fields()
        .with_policy(RateLimitPolicy::from_quota("key", &quota).unwrap());
    let first = headers.render_at(&limiter.check(1), Scope::Key, NOW_UNIX_NS);
    assert_eq!(first.get("RateLimit-Policy"), Some(r#""key";q=60;w=2"#));
    assert_eq!(first.get("RateLimit"), Some(r#""key";r=59;t=1"#));
    limiter.check(59);
    let empty = headers.render_at(&limiter.check(1), Scope::Key, NOW_UNIX_NS);
    assert_eq!(empty.get("RateLimit"), Some(r#""key";r=0;t=2"#));
    // A lockout can hold the bucket past a full refill: the window covers it.
    let locked = Quota::per_second(10)
        .unwrap()
        .with_lockout(Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        RateLimitPolicy::from_quota("key", &locked).unwrap().field(),
        r#""key";q=10;w=6"#
    );
}

/// The `(name, value)` parameters of a structured-field item `"name";a=1;b=2`.
fn parameters(field: &str) -> Vec<(String, u64)> {
    field
        .split(';')
        .skip(1)
        .map(|parameter| {
            let (name, value) = parameter.split_once('=').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// For any bucket, at any moment a check leaves it in, `RateLimit` never
    /// claims more than `RateLimit-Policy` allows: r <= q and t <= w.
    #[test]
    fn ietf_fields_of_any_bucket_stay_within_its_policy(
        (count_bits, count) in (0u32..=23, any::<u64>()),
        period_ns in prop_oneof![1u64..=10_000_000_000_000, Just(1_000_000_000)],
        burst in 1u64..=1_000,
        lockout_ns in prop_oneof![Just(0u64), 1u64..=100_000_000_000],
        steps in prop::collection::vec((0u64..=4_000_000_000, 0u64..=1_100), 1..64),
    ) {
        let count = (1 + count % (1 << count_bits)).min(period_ns);
        let quota = Quota::per_period(count, Duration::from_nanos(period_ns), burst)
            .and_then(|quota| quota.with_lockout(Duration::from_nanos(lockout_ns)));
        let Ok(quota) = quota else { return Ok(()) };
        let clock = ManualClock::new();
        let limiter = Limiter::builder(quota).clock(clock.clone()).build();
        let headers = Headers::new()
            .without_legacy_fields()
            .with_policy(RateLimitPolicy::from_quota("q", &quota).unwrap());
        let mut now = 0u64;
        for (advance, cost) in steps {
            now += advance;
            clock.set_ns(now);
            let rendered = headers.render_at(&limiter.check(cost), Scope::Key, NOW_UNIX_NS);
            let policy = parameters(rendered.get("RateLimit-Policy").unwrap());
            let state = parameters(rendered.get("RateLimit").unwrap());
            let (q, w) = (policy[0].1, policy[1].1);
            let (r, t) = (state[0].1, state[1].1);
            prop_assert_eq!((policy[0].0.as_str(), policy[1].0.as_str()), ("q", "w"));
            prop_assert_eq!((state[0].0.as_str(), state[1].0.as_str()), ("r", "t"));
            prop_assert!(r <= q && t <= w, "{:?}: r={} t={} under q={} w={}", quota, r, t, q, w);
        }
    }
}

/// Clarifai (seed 002): "exceeded limit of 15 requests per second" names the
/// rate, whatever burst the customer's bucket has.
#[test]
fn clarifai_details_print_the_rate_not_the_burst() {
    let details =
        floodgate::presets::clarifai::error_body("exceeded limit of {limit} requests per second")
            .unwrap();
    let details_for = |quota: Quota, cost: u64| {
        let limiter = Limiter::builder(quota).clock(ManualClock::new()).build();
        limiter.check(quota.burst());
        let body: Value =
            serde_json::from_str(&details.render(&limiter.check(cost), Scope::Key, "r")).unwrap();
        body["status"]["details"].as_str().unwrap().to_owned()
    };
    let fifteen = Quota::per_second(15).unwrap().with_burst(30).unwrap();
    assert_eq!(
        details_for(fifteen, 1),
        "exceeded limit of 15 requests per second"
    );
    // Fractions are cut to three significant digits, never rounded up.
    let five_per_three_seconds = Quota::new(5, Duration::from_secs(3)).unwrap();
    assert_eq!(
        details_for(five_per_three_seconds, 1),
        "exceeded limit of 1.66 requests per second"
    );
    let hourly = Quota::per_hour(30).unwrap().with_burst(60).unwrap();
    assert_eq!(
        details_for(hourly, 1),
        "exceeded limit of 0.00833 requests per second"
    );
    // A cost above the burst is explained by the burst it exceeds.
    let cannot_fit = details_for(fifteen, 31);
    assert_eq!(
        cannot_fit,
        "Request cost exceeds the key limit of 30; it can never be admitted."
    );
}

/// A preset is only the general API: the GenieOS and Clarifai bodies laid
/// out by hand are the presets' bodies.
#[test]
fn preset_bodies_are_buildable_by_hand() {
    let genieos = ErrorBody::new("error")
        .field_text("type", "rate_limit_exceeded")
        .field_text("code", "key_rate_limit")
        .field_message(
            "message",
            "API key exceeded its rate limit. Retry after {retry_after}s.",
        )
        .unwrap()
        .field_retry_after("retry_after_seconds")
        .field_request_id("request_id")
        .with_retry_after_format(RetryAfterFormat::Fractional { decimals: 1 });
    assert_eq!(genieos, floodgate::presets::genieos::key_body());
    let clarifai = ErrorBody::new("status")
        .field_text("code", "CONN_THROTTLED")
        .field_text("description", "Making too many requests")
        .field_message("details", "{limit}/s")
        .unwrap()
        .field_request_id("req_id")
        .with_limit_figure(floodgate::LimitFigure::RatePerSecond);
    assert_eq!(
        clarifai,
        floodgate::presets::clarifai::error_body("{limit}/s").unwrap()
    );
}

/// Setting a field again changes its value in place; a cost that can never
/// fit is measured against the burst whatever `{limit}` prints otherwise.
#[test]
fn fields_keep_their_place_and_cannot_fit_names_the_burst() {
    let limiter = Limiter::builder(Quota::per_second(15).unwrap().with_burst(30).unwrap())
        .clock(ManualClock::new())
        .build();
    let body = ErrorBody::new("e")
        .field_text("a", "1")
        .field_message("m", "{limit}")
        .unwrap()
        .field_number("a", 2)
        .with_limit_figure(floodgate::LimitFigure::RatePerSecond);
    assert_eq!(
        body.render(&limiter.check_at(31, 0), Scope::Key, "r"),
        r#"{"e":{"a":2,"m":"Request cost exceeds the key limit of 30; it can never be admitted."}}"#
    );
    limiter.check_at(30, 0);
    assert_eq!(
        body.render(&limiter.check_at(1, 0), Scope::Key, "r"),
        r#"{"e":{"a":2,"m":"15"}}"#
    );
}
