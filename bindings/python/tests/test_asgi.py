"""The ASGI middleware in a real Starlette app, driven by httpx."""

import asyncio
import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from floodgate import (
    ErrorBody,
    Headers,
    KeyedLimiter,
    KeyedWindows,
    Limiter,
    ManualClock,
    Policy,
    Quota,
    RateLimitPolicy,
    SlidingWindow,
)
from floodgate.asgi import RateLimitMiddleware, client_ip, header, path

WALL_CLOCK_NS = 1_776_688_440 * 10**9  # 2026-04-20T12:34:00Z
HOBBY = Quota.per_second(30, burst=60)
REQUEST_ID = "req_01JABC"
# GenieOS's 429 body for a hobby key's 61st request in a burst, sent with REQUEST_ID.
HOBBY_KEY_DENIED_BODY = {
    "error": {
        "type": "rate_limit_exceeded",
        "code": "key_rate_limit",
        "message": "API key exceeded its rate limit. Retry after 0.1s.",
        "retry_after_seconds": 0.1,
        "request_id": REQUEST_ID,
    }
}


async def hello(request):
    return PlainTextResponse("hello", headers={"x-app": "yes"})


def app_with(limiter, **options):
    # These tests pin the GenieOS formats; test_presets.py covers the standard ones.
    options.setdefault("preset", "genieos")
    options.setdefault("wall_clock", lambda: WALL_CLOCK_NS)
    return Starlette(
        routes=[Route("/", hello), Route("/other", hello)],
        middleware=[Middleware(RateLimitMiddleware, limiter=limiter, **options)],
    )


def hobby_limiter():
    clock = ManualClock()
    return Limiter(HOBBY, clock=clock), clock


def get_many(app, count, url="/", headers=None):
    async def run():
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.get(url, headers=headers) for _ in range(count)]

    return asyncio.run(run())


def test_admitted_responses_carry_rate_limit_headers_and_reach_the_app():
    limiter, _ = hobby_limiter()
    first, second = get_many(app_with(limiter), 2)
    assert first.status_code == 200 and first.text == "hello"
    assert first.headers["x-app"] == "yes"
    assert first.headers["x-ratelimit-limit"] == "60"
    assert first.headers["x-ratelimit-remaining"] == "59"
    assert second.headers["x-ratelimit-remaining"] == "58"
    assert first.headers["x-ratelimit-scope"] == "key"
    # Reset after one interval (33.3 ms) rounds up to the next whole second.
    assert first.headers["x-ratelimit-reset"] == "2026-04-20T12:34:01Z"
    assert "retry-after" not in first.headers


def test_61st_request_gets_429_with_retry_after_and_genieos_body():
    limiter, _ = hobby_limiter()
    responses = get_many(app_with(limiter), 61, headers={"x-request-id": REQUEST_ID})
    assert [r.status_code for r in responses[:60]] == [200] * 60
    denied = responses[60]
    assert denied.status_code == 429
    assert denied.headers["retry-after"] == "0.1"  # 33.3 ms, one decimal, rounded up
    assert denied.headers["x-ratelimit-limit"] == "60"
    assert denied.headers["x-ratelimit-remaining"] == "0"
    assert denied.headers["x-ratelimit-scope"] == "key"
    assert denied.headers["x-ratelimit-reset"] == "2026-04-20T12:34:02Z"
    assert denied.headers["content-type"] == "application/json"
    assert "x-app" not in denied.headers  # the app never ran
    assert denied.json() == HOBBY_KEY_DENIED_BODY


def test_retry_after_in_whole_seconds_and_custom_error_fields():
    limiter = Limiter(Quota.per_second(15), clock=ManualClock())
    app = app_with(
        limiter,
        headers=Headers(retry_after_decimals=None),
        body=ErrorBody.clarifai("exceeded limit of {limit} requests per second").with_numeric_code(11005),
        scope_name="user",
    )
    denied = get_many(app, 16)[15]
    assert denied.status_code == 429
    assert denied.headers["retry-after"] == "1"
    assert denied.headers["x-ratelimit-scope"] == "user"
    status = denied.json()["status"]
    assert (status["code"], status["description"]) == (11005, "Making too many requests")
    assert status["details"] == "exceeded limit of 15 requests per second"
    assert status["req_id"].startswith("req_")


def test_requests_pass_again_after_the_wait():
    limiter, clock = hobby_limiter()
    app = app_with(limiter)
    assert get_many(app, 61)[60].status_code == 429
    clock.advance_ns(33_333_334)
    (again,) = get_many(app, 1)
    assert again.status_code == 200
    assert again.headers["x-ratelimit-remaining"] == "0"


def test_cost_beyond_the_burst_is_refused_without_retry_after():
    limiter, _ = hobby_limiter()
    (response,) = get_many(app_with(limiter, cost=61), 1)
    assert response.status_code == 429
    assert "retry-after" not in response.headers
    assert response.json()["error"]["retry_after_seconds"] is None
    assert response.json()["error"]["message"] == (
        "Request cost exceeds the key limit of 60; it can never be admitted."
    )
    assert limiter.peek().remaining == 60


def test_cost_function_weighs_requests_by_path():
    limiter, _ = hobby_limiter()
    app = app_with(limiter, cost=lambda scope: 10 if scope["path"] == "/other" else 1)
    assert get_many(app, 1, "/other")[0].headers["x-ratelimit-remaining"] == "50"
    assert get_many(app, 1, "/")[0].headers["x-ratelimit-remaining"] == "49"


def test_requests_without_a_key_are_still_limited():
    limiter, _ = hobby_limiter()
    app = app_with(limiter, key=header("X-API-Key"))
    unkeyed = get_many(app, 3)
    assert [r.headers["x-ratelimit-remaining"] for r in unkeyed] == ["59", "58", "57"]
    keyed = get_many(app, 1, headers={"x-api-key": "mg_live_1"})[0]
    assert keyed.headers["x-ratelimit-remaining"] == "56"


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
def test_non_http_traffic_passes_through_unlimited(kind):
    limiter = Limiter(Quota.per_hour(1), clock=ManualClock())
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])
        await send({"type": "sent"})

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {}

    middleware = RateLimitMiddleware(app, limiter)
    scope = {"type": kind, "path": "/ws", "client": ("203.0.113.7", 1), "headers": []}
    for _ in range(3):
        asyncio.run(middleware(scope, receive, send))
    assert seen == [kind] * 3
    assert sent == [{"type": "sent"}] * 3
    assert limiter.peek().remaining == 1


def test_key_functions_read_the_scope():
    scope = {
        "type": "http",
        "path": "/v1/send",
        "client": ("198.51.100.4", 5000),
        "headers": [(b"x-api-key", b"mg_live_7"), (b"accept", b"*/*")],
    }
    assert client_ip(scope) == "198.51.100.4"
    assert client_ip({**scope, "client": None}) is None
    assert path(scope) == "/v1/send"
    assert header("X-Api-Key")(scope) == b"mg_live_7"
    assert header("authorization")(scope) is None
    assert header("x-empty")({**scope, "headers": [(b"x-empty", b"")]}) is None


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"limiter": object()}, TypeError, "limiter must be a floodgate.KeyedLimiter, Policy, Limiter or Plans"),
        ({"limiter": Policy([("key", Limiter(HOBBY))])}, TypeError, "a Policy needs keys="),
        ({"keys": lambda scope: [None]}, TypeError, "keys= is for a Policy"),
        ({"body": "slow down"}, TypeError, "body must be a floodgate.ErrorBody or a mapping"),
        ({"key": "x-api-key"}, TypeError, "key must be a function"),
        ({"cost": -1}, ValueError, "cost must be a non-negative int"),
        ({"cost": 1.5}, ValueError, "cost must be a non-negative int"),
    ],
)
def test_bad_configuration_is_refused_at_construction(options, error, message):
    options.setdefault("limiter", Limiter(HOBBY))
    with pytest.raises(error, match=message):
        RateLimitMiddleware(hello, **options)


def test_draft_ratelimit_fields_and_workspace_body():
    limiter, _ = hobby_limiter()
    limiter.check(60)
    app = app_with(
        limiter,
        headers=Headers(policy=RateLimitPolicy.from_quota("key", HOBBY), retry_after_decimals=3),
        body=ErrorBody.genieos_workspace(),
        scope_name="workspace",
    )
    (denied,) = get_many(app, 1)
    assert denied.headers["ratelimit-policy"] == '"key";q=60;w=2'
    assert denied.headers["ratelimit"] == '"key";r=0;t=2'
    assert denied.headers["retry-after"] == "0.034"
    assert denied.headers["x-ratelimit-scope"] == "workspace"
    assert denied.json()["error"]["code"] == "workspace_rate_limit"


def test_error_body_is_compact_json():
    limiter, _ = hobby_limiter()
    limiter.check(60)
    body = get_many(app_with(limiter, request_id=lambda scope: "req_fixed"), 1)[0].content
    assert json.loads(body)["error"]["request_id"] == "req_fixed"
    assert b" " not in body.replace(b"API key exceeded its rate limit. Retry after 0.1s.", b"")


def test_json_route_and_app_headers_survive():
    async def data(request):
        return JSONResponse({"ok": True}, headers={"x-ratelimit-custom": "1"})

    app = Starlette(
        routes=[Route("/data", data)],
        middleware=[Middleware(RateLimitMiddleware, limiter=Limiter(HOBBY), key=path)],
    )
    (response,) = get_many(app, 1, "/data")
    assert response.json() == {"ok": True}
    assert response.headers["x-ratelimit-custom"] == "1"
    assert response.headers["x-ratelimit-limit"] == "60"


def get_as(app, requests):
    """Sends GET / once per (api key) in `requests`, in order."""

    async def run():
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [
                await client.get("/", headers={"x-api-key": key, "x-request-id": REQUEST_ID})
                for key in requests
            ]

    return asyncio.run(run())


def keyed_app(**options):
    clock = ManualClock()
    per_key = KeyedLimiter(HOBBY, clock=clock)
    return app_with(per_key, key=header("x-api-key"), **options), per_key, clock


def test_two_api_keys_get_independent_buckets():
    app, per_key, _ = keyed_app()
    responses = get_as(app, ["gos_live_a", "gos_live_b", "gos_live_a", "gos_live_a"])
    remaining = [r.headers["x-ratelimit-remaining"] for r in responses]
    assert remaining == ["59", "59", "58", "57"]
    assert per_key.peek(b"gos_live_a").remaining == 57
    assert per_key.peek(b"gos_live_b").remaining == 59


def test_61st_request_of_one_hobby_key_is_429_while_another_key_passes():
    app, _, _ = keyed_app()
    responses = get_as(app, ["gos_live_a"] * 61 + ["gos_live_b"])
    assert [r.status_code for r in responses[:60]] == [200] * 60
    denied, other = responses[60], responses[61]
    assert denied.status_code == 429
    assert denied.headers["retry-after"] == "0.1"
    assert denied.headers["x-ratelimit-scope"] == "key"
    assert denied.headers["x-ratelimit-remaining"] == "0"
    assert denied.json() == HOBBY_KEY_DENIED_BODY
    assert other.status_code == 200 and other.text == "hello"
    assert other.headers["x-ratelimit-remaining"] == "59"


def test_client_ip_is_the_default_key():
    per_ip = KeyedLimiter(Quota.per_second(1), clock=ManualClock())
    first, second = get_many(app_with(per_ip), 2)
    assert (first.status_code, second.status_code) == (200, 429)
    assert per_ip.peek("203.0.113.7").remaining == 0
    assert per_ip.peek("198.51.100.1").remaining == 1


WORKSPACE_OF = {b"gos_live_%02d" % index: 1 for index in range(25)} | {b"gos_live_other": 2}


def workspace_policy_app():
    clock = ManualClock()
    per_key = KeyedLimiter(HOBBY, clock=clock)
    per_workspace = KeyedWindows(600, 60, clock=clock)
    policy = Policy([("key", per_key), ("workspace", per_workspace)])

    def keys(scope):
        api_key = header("x-api-key")(scope)
        if api_key is None:
            return None
        return [api_key, WORKSPACE_OF[api_key]]

    return app_with(policy, keys=keys), policy, per_key, per_workspace


def test_workspace_window_denial_reports_scope_workspace():
    app, policy, per_key, per_workspace = workspace_policy_app()
    keys = [b"gos_live_%02d" % index for index in range(25)]
    responses = get_as(app, [key.decode() for key in keys for _ in range(24)])
    assert all(r.status_code == 200 for r in responses)
    assert responses[-1].headers["x-ratelimit-scope"] == "workspace"
    assert responses[-1].headers["x-ratelimit-remaining"] == "0"
    assert responses[0].headers["x-ratelimit-scope"] == "key"  # 59 left on the key, 599 in the workspace
    denied, other = get_as(app, ["gos_live_00", "gos_live_other"])
    assert denied.status_code == 429
    assert denied.headers["x-ratelimit-scope"] == "workspace"
    assert denied.headers["x-ratelimit-limit"] == "600"
    assert denied.json()["error"]["code"] == "workspace_rate_limit"
    assert float(denied.headers["retry-after"]) > 0
    assert other.status_code == 200  # another workspace
    assert per_key.peek("gos_live_00").remaining == 36  # the denial was refunded
    assert policy.counters()["denied"] == 1
    assert per_workspace.peek(2).remaining == 599


def test_policy_key_layer_denial_and_unkeyed_requests():
    app, _, _, _ = workspace_policy_app()
    responses = get_as(app, ["gos_live_other"] * 61)
    assert responses[60].status_code == 429
    assert responses[60].headers["x-ratelimit-scope"] == "key"
    assert responses[60].json()["error"]["code"] == "key_rate_limit"
    (unkeyed,) = get_many(app, 1)
    assert unkeyed.status_code == 200, "keys() gave None: every keyed layer charged the client address"
    assert unkeyed.headers["x-ratelimit-remaining"] == "59"


def test_policy_with_an_unkeyed_global_layer_and_custom_bodies():
    clock = ManualClock()
    policy = Policy(
        [("key", KeyedLimiter(HOBBY, clock=clock)), ("global", SlidingWindow(2, 60, clock=clock))]
    )
    body = ErrorBody.genieos("global_rate_limit", "Everyone slow down. Retry after {retry_after}s.")
    app = app_with(policy, keys=lambda scope: [client_ip(scope), None], body={"global": body})
    responses = get_many(app, 3)
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].headers["x-ratelimit-scope"] == "global"
    assert responses[2].json()["error"]["code"] == "global_rate_limit"
