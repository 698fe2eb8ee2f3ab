"""The middleware's key rule: a missing, empty, oversized or malformed key is
charged to the fallback key (the client address by default), or answered
400 with ``on_bad_key="reject"``; nothing a request carries makes the
middleware raise, answer 5xx or skip its limit."""

import asyncio
import json

import pytest

from floodgate import KeyedLimiter, Limiter, ManualClock, Plans, Policy, Quota
from floodgate.asgi import RateLimitMiddleware, header

HOBBY = Quota.per_hour(30, burst=60)
CLIENT = "198.51.100.4"

BAD_KEYS = [
    pytest.param([], id="missing"),
    pytest.param([(b"x-api-key", b"")], id="empty"),
    pytest.param([(b"x-api-key", b"k" * 4097)], id="4,097 bytes"),
    pytest.param([(b"x-api-key", b"k" * 65_536)], id="64 KiB"),
]


async def served(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served"})


def request(app, headers=(), client=(CLIENT, 5000)):
    """Runs one HTTP request through `app`: (status, headers dict, body)."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": list(headers), "client": client}
    asyncio.run(app(scope, receive, send))
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


@pytest.mark.parametrize("headers", BAD_KEYS)
def test_a_bad_key_is_charged_to_the_client_address(headers):
    limiter = KeyedLimiter(HOBBY, clock=ManualClock())
    app = RateLimitMiddleware(served, limiter, key=header("x-api-key"))
    status, fields, body = request(app, headers)
    assert (status, body) == (200, b"served")
    assert fields[b"x-ratelimit-remaining"] == b"59"
    assert limiter.peek(CLIENT).remaining == 59


def test_a_str_key_with_a_lone_surrogate_is_a_bad_key():
    limiter = KeyedLimiter(HOBBY, clock=ManualClock())
    app = RateLimitMiddleware(served, limiter, key=lambda scope: "\ud800")
    assert request(app)[0] == 200
    assert limiter.peek(CLIENT).remaining == 59


@pytest.mark.parametrize("headers", BAD_KEYS)
def test_reject_answers_400_invalid_key_and_charges_nothing(headers):
    limiter = KeyedLimiter(HOBBY, clock=ManualClock())
    app = RateLimitMiddleware(served, limiter, key=header("x-api-key"), on_bad_key="reject")
    status, fields, body = request(app, [*headers, (b"x-request-id", b"r1")])
    assert status == 400
    assert fields[b"content-type"] == b"application/json"
    assert json.loads(body) == {
        "error": {
            "type": "invalid_request",
            "code": "invalid_key",
            "message": "The request has no usable key.",
            "request_id": "r1",
        }
    }
    assert len(limiter) == 0


def test_no_key_and_no_fallback_is_400():
    limiter = KeyedLimiter(HOBBY, clock=ManualClock())
    app = RateLimitMiddleware(served, limiter, key=header("x-api-key"))
    status, _, body = request(app, client=None)
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_key"


def test_a_key_function_that_raises_is_reported_and_falls_back():
    limiter = KeyedLimiter(HOBBY, clock=ManualClock())
    reported = []

    def broken(scope):
        raise LookupError("no key store")

    app = RateLimitMiddleware(served, limiter, key=broken, on_error=lambda error, scope: reported.append(error))
    assert request(app)[0] == 200
    assert limiter.peek(CLIENT).remaining == 59
    assert [str(error) for error in reported] == ["no key store"]


def test_any_other_failure_is_a_400_never_a_5xx():
    limiter = Limiter(HOBBY, clock=ManualClock())
    reported = []
    app = RateLimitMiddleware(
        served, limiter, cost=lambda scope: 1 // 0, on_error=lambda error, scope: reported.append(error)
    )
    status, _, body = request(app, [(b"x-request-id", b"\xff bad id")])
    assert status == 400
    error = json.loads(body)["error"]
    assert error["code"] == "invalid_request"
    assert error["request_id"].startswith("req_"), "an unusable client request id is replaced"
    assert isinstance(reported[0], ZeroDivisionError)
    failing_id = RateLimitMiddleware(served, Limiter(Quota.per_hour(1), clock=ManualClock()), request_id=lambda s: 1 // 0)
    assert request(failing_id)[0] == 200
    assert request(failing_id)[0] == 400, "the 429 body could not be rendered: 400, not an exception"


def test_policy_and_plans_fall_back_per_key():
    clock = ManualClock()
    per_key = KeyedLimiter(HOBBY, clock=clock)
    per_workspace = KeyedLimiter(Quota.per_hour(600), clock=clock)
    policy = Policy([("key", per_key), ("workspace", per_workspace)])
    layered = RateLimitMiddleware(served, policy, keys=lambda scope: [header("x-api-key")(scope), "ws"])
    for headers in ([], [(b"x-api-key", b"")], [(b"x-api-key", b"k" * 4097)]):
        assert request(layered, headers)[0] == 200
    assert per_key.peek(CLIENT).remaining == 57
    assert per_workspace.peek("ws").remaining == 597, "the good workspace key is kept"
    assert request(RateLimitMiddleware(served, policy, keys=lambda scope: None))[0] == 200
    assert per_workspace.peek(CLIENT).remaining == 599, "no list: every keyed layer falls back"

    plans = Plans.genieos(key_capacity=64, workspace_capacity=64, clock=clock)
    planned = RateLimitMiddleware(served, plans, plan=lambda scope: ("hobby", header("x-api-key")(scope), 7))
    status, fields, _ = request(planned, [(b"x-api-key", b"")])
    assert (status, fields[b"x-ratelimit-remaining"]) == (200, b"59")
    bad_workspace = RateLimitMiddleware(served, plans, plan=lambda scope: ("hobby", b"k", -1))
    assert request(bad_workspace)[0] == 400


def test_bad_options_are_refused_up_front():
    limiter = KeyedLimiter(HOBBY)
    with pytest.raises(ValueError):
        RateLimitMiddleware(served, limiter, on_bad_key="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RateLimitMiddleware(served, limiter, fallback_key="ip")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RateLimitMiddleware(served, limiter, on_error=True)  # type: ignore[arg-type]


def test_a_global_limiter_charges_every_request_even_without_a_client_address():
    limiter = Limiter(HOBBY, clock=ManualClock())
    app = RateLimitMiddleware(served, limiter, key=header("x-api-key"))
    assert request(app, client=None)[0] == 200
    assert limiter.peek().remaining == 59
    strict = RateLimitMiddleware(served, limiter, key=header("x-api-key"), on_bad_key="reject")
    assert request(strict)[0] == 400, "reject: a request without a key is refused"
    assert request(strict, [(b"x-api-key", b"k")])[0] == 200
    assert limiter.peek().remaining == 58


def test_an_on_error_hook_that_raises_changes_nothing():
    def hook(error, scope):
        raise RuntimeError("logging is down")

    def broken(scope):
        raise LookupError("no key store")

    limiter = KeyedLimiter(HOBBY, clock=ManualClock())
    app = RateLimitMiddleware(served, limiter, key=broken, on_error=hook)
    assert request(app)[0] == 200
    assert limiter.peek(CLIENT).remaining == 59
    failing = RateLimitMiddleware(served, limiter, cost=lambda scope: 1 // 0, on_error=hook)
    assert request(failing)[0] == 400
