"""The ASGI middleware over Plans and Suspensions, in Starlette via httpx."""

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from floodgate import KeyedLimiter, Limiter, ManualClock, Plans, Policy, Quota, Suspensions
from floodgate.asgi import RateLimitMiddleware, header

WALL_CLOCK_NS = 1_776_688_440 * 10**9  # 2026-04-20T12:34:00Z

# The application's own records: each API key's tier and workspace.
ACCOUNTS = {f"gos_live_{i}".encode(): ("hobby", 7) for i in range(30)}
ACCOUNTS[b"gos_test_sandbox"] = ("sandbox", 9)


def plan_of(scope):
    key = header("x-api-key")(scope)
    if key is None:
        return None
    tier, workspace = ACCOUNTS[key]
    return tier, key, workspace


async def hello(request):
    return PlainTextResponse("hello")


def app_with(limiter, **options):
    # These tests pin the GenieOS formats; test_presets.py covers the standard ones.
    options.setdefault("preset", "genieos")
    options.setdefault("wall_clock", lambda: WALL_CLOCK_NS)
    return Starlette(
        routes=[Route("/", hello)],
        middleware=[Middleware(RateLimitMiddleware, limiter=limiter, **options)],
    )


def get_all(app, api_keys, request_id="req_01JABC"):
    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"x-request-id": request_id}
            return [await client.get("/", headers={**headers, "x-api-key": key}) for key in api_keys]

    return asyncio.run(run())


def genieos_app(**options):
    clock = ManualClock()
    plans = Plans.genieos(key_capacity=1024, workspace_capacity=64, clock=clock)
    return app_with(plans, plan=plan_of, **options), clock


def test_hobby_key_gets_60_then_429_with_scope_key():
    app, _ = genieos_app()
    responses = get_all(app, ["gos_live_0"] * 61)
    assert [r.status_code for r in responses[:60]] == [200] * 60
    assert responses[0].headers["x-ratelimit-limit"] == "60"
    assert responses[0].headers["x-ratelimit-scope"] == "key"
    denied = responses[60]
    assert denied.status_code == 429
    assert denied.headers["x-ratelimit-scope"] == "key"
    assert denied.json()["error"]["code"] == "key_rate_limit"


def test_25_keys_of_one_workspace_share_its_600_then_429_with_scope_workspace():
    app, _ = genieos_app()
    keys = [f"gos_live_{i}" for i in range(25) for _ in range(24)]
    responses = get_all(app, [*keys, "gos_live_25"])
    assert all(r.status_code == 200 for r in responses[:600])
    denied = responses[600]
    assert denied.status_code == 429
    assert denied.headers["x-ratelimit-scope"] == "workspace"
    assert denied.headers["x-ratelimit-limit"] == "600"
    assert denied.json()["error"]["code"] == "workspace_rate_limit"


def test_sandbox_is_unlimited_and_carries_no_rate_limit_headers():
    app, _ = genieos_app()
    responses = get_all(app, ["gos_test_sandbox"] * 1000)
    assert all(r.status_code == 200 and r.text == "hello" for r in responses)
    assert "x-ratelimit-limit" not in responses[-1].headers


def test_requests_without_a_plan_are_refused_with_400():
    app, _ = genieos_app()

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/")

    response = asyncio.run(run())
    assert response.status_code == 400, "no tier to charge: refused, never unlimited"
    assert response.json()["error"]["code"] == "invalid_key"


def test_a_suspended_key_gets_403_with_a_json_body_and_charges_nothing():
    clock = ManualClock()
    plans = Plans.genieos(key_capacity=1024, workspace_capacity=64, clock=clock)
    suspensions = Suspensions(100, clock=clock)
    suspensions.suspend_for(b"gos_live_1", 3600)
    app = app_with(plans, plan=plan_of, suspensions=suspensions)
    forbidden, other = get_all(app, ["gos_live_1", "gos_live_2"])
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/json"
    assert forbidden.headers["retry-after"] == "3600"
    assert "x-ratelimit-limit" not in forbidden.headers
    assert forbidden.json() == {
        "error": {
            "type": "suspended",
            "code": "key_suspended",
            "message": "This key is suspended.",
            "retry_after_seconds": 3600.0,
            "request_id": "req_01JABC",
        }
    }
    assert other.status_code == 200
    assert plans.counters("hobby") == {"admitted": 1, "denied": 0, "suspended": 0}
    suspensions.lift("gos_live_1")
    (lifted,) = get_all(app, ["gos_live_1"])
    assert lifted.status_code == 200


def test_an_indefinite_suspension_has_no_retry_after():
    clock = ManualClock()
    per_key = KeyedLimiter(Quota.per_second(1), capacity=64, clock=clock)
    suspensions = Suspensions(10, clock=clock)
    suspensions.suspend_until(b"banned", None)
    app = app_with(per_key, key=header("x-api-key"), suspensions=suspensions)
    (forbidden,) = get_all(app, ["banned"])
    assert forbidden.status_code == 403
    assert "retry-after" not in forbidden.headers
    assert forbidden.json()["error"]["retry_after_seconds"] is None


def test_a_policy_with_a_suspensions_layer_answers_403_naming_the_layer():
    clock = ManualClock()
    suspensions = Suspensions(10, clock=clock)
    per_key = KeyedLimiter(Quota.per_second(1), capacity=64, clock=clock)
    policy = Policy([("account", suspensions), ("key", per_key)])
    suspensions.suspend_for(b"k", 1.5)
    app = app_with(policy, keys=lambda scope: [header("x-api-key")(scope)] * 2)
    (forbidden,) = get_all(app, ["k"])
    assert forbidden.status_code == 403
    assert forbidden.headers["retry-after"] == "2"
    assert forbidden.json()["error"]["code"] == "account_suspended"


def test_configuration_errors():
    plans = Plans.genieos(key_capacity=16, workspace_capacity=16)
    with pytest.raises(TypeError, match="plan="):
        RateLimitMiddleware(hello, plans)
    with pytest.raises(TypeError, match="plan= is for a Plans"):
        RateLimitMiddleware(hello, Limiter(Quota.per_second(1)), plan=plan_of)
    with pytest.raises(TypeError, match="Suspensions"):
        RateLimitMiddleware(hello, plans, plan=plan_of, suspensions=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Policy a Suspensions layer"):
        RateLimitMiddleware(hello, Limiter(Quota.per_second(1)), suspensions=Suspensions(1))


def test_a_suspended_limiter_answers_403_not_429():
    limiter = Limiter(Quota.per_second(1), clock=ManualClock())
    limiter.suspend_for(10)
    (forbidden,) = get_all(app_with(limiter, key=header("x-api-key")), ["k"])
    assert forbidden.status_code == 403
    assert forbidden.headers["retry-after"] == "10"
    assert forbidden.json()["error"]["code"] == "key_suspended"
