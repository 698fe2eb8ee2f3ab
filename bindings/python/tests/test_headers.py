"""Headers, RateLimitPolicy and ErrorBody: the engine's rendering, reached from Python."""

import json

import pytest

from floodgate import ErrorBody, FloodgateError, Headers, Limiter, ManualClock, RateLimitPolicy, Quota

NOW_UNIX_NS = 1_776_688_439_500_000_000  # 2026-04-20T12:33:59.5Z


def denied_hobby_decision():
    limiter = Limiter(Quota.per_second(30, burst=60), clock=ManualClock())
    limiter.check(60)
    return limiter.check()


def test_genieos_headers_for_a_denied_hobby_key():
    fields = dict(Headers().render(denied_hobby_decision(), "key", NOW_UNIX_NS))
    assert fields == {
        "Retry-After": "0.1",
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "2026-04-20T12:34:02Z",
        "X-RateLimit-Scope": "key",
    }


def test_retry_after_precision_and_whole_seconds():
    decision = denied_hobby_decision()
    assert dict(Headers(retry_after_decimals=3).render(decision))["Retry-After"] == "0.034"
    assert dict(Headers(retry_after_decimals=None).render(decision))["Retry-After"] == "1"
    with pytest.raises(ValueError, match="retry_after_decimals must be None or between 0 and 9"):
        Headers(retry_after_decimals=10)
    with pytest.raises(ValueError, match="retry_after_decimals must be between"):
        Headers(retry_after_decimals=-1)


def test_admitted_decision_has_no_retry_after_and_named_scopes_work():
    decision = Limiter(Quota.per_second(15)).check()
    names = [name for name, _ in Headers().render(decision, "license-activation", 0)]
    assert "Retry-After" not in names
    assert dict(Headers().render(decision, "license-activation", 0))["X-RateLimit-Scope"] == (
        "license-activation"
    )


def test_draft_fields_only():
    policy = RateLimitPolicy("default", 100, 60)
    assert policy.field == '"default";q=100;w=60'
    fields = Headers(policy=policy, legacy=False).render(denied_hobby_decision(), "key", 0)
    assert [name for name, _ in fields] == ["Retry-After", "RateLimit-Policy", "RateLimit"]
    with pytest.raises(FloodgateError, match="printable ASCII"):
        RateLimitPolicy("bad\n", 1, 1)


def test_genieos_and_clarifai_bodies():
    decision = denied_hobby_decision()
    body = json.loads(ErrorBody.genieos_key().render(decision, "key", "req_01JABC"))
    assert body["error"]["retry_after_seconds"] == 0.1
    assert body["error"]["request_id"] == "req_01JABC"
    limiter = Limiter(Quota.per_second(15), clock=ManualClock())
    limiter.check(15)
    clarifai = ErrorBody.clarifai("exceeded limit of {limit} requests per second")
    rendered = json.loads(clarifai.with_numeric_code(11005).render(limiter.check(), "key", "abc"))
    assert rendered == {
        "status": {
            "code": 11005,
            "description": "Making too many requests",
            "details": "exceeded limit of 15 requests per second",
            "req_id": "abc",
        }
    }


def test_body_builders_and_bad_templates():
    body = (
        ErrorBody.genieos("ip_rate_limit", "Slow down ({scope}).")
        .with_type("throttled")
        .with_code("ip_limit")
        .with_retry_after_decimals(None)
    )
    rendered = json.loads(body.render(denied_hobby_decision(), "ip", "r1"))["error"]
    assert (rendered["type"], rendered["code"], rendered["message"]) == (
        "throttled",
        "ip_limit",
        "Slow down (ip).",
    )
    assert rendered["retry_after_seconds"] == 1
    with pytest.raises(FloodgateError, match="template"):
        ErrorBody.genieos("x", "{oops}")
    with pytest.raises(FloodgateError, match="template"):
        ErrorBody.genieos_key().with_message("{")
