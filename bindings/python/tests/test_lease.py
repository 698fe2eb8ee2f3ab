"""Leased limits (``LeasedLimiter``, ``LeasedLayers``, and the route limits
of ``store=`` by default), against a real redis-server started on a free
127.0.0.1 port and stopped by its PID: no more is admitted than the Redis
buckets were charged for, the middleware answers 429 with headers, two
workers share one limit, and bad input raises. Every wait is bounded."""

import asyncio

import httpx
import pytest

import floodgate
from floodgate import KeyedLimiter, LeasedLayers, LeasedLimiter, Quota, RedisLayers
from floodgate.asgi import RateLimitMiddleware, header
from test_redis import (  # noqa: F401 (redis_url is a fixture)
    DEADLINE_S,
    denied_while_another_thread_counts,
    fresh_prefix,
    redis_url,
)
from test_shared_workers import SERVERS, admitted_by_worker, connections_to_both_workers, hammer, serving

# Per hour: nothing refills while a test runs.
TEN_AN_HOUR = Quota.per_hour(10, burst=10)


def leased(url, quota=TEN_AN_HOUR, **options):
    options.setdefault("prefix", fresh_prefix())
    options.setdefault("deadline", DEADLINE_S)
    options.setdefault("on_failure", "closed")
    return LeasedLimiter(quota, store=url, **options)


def test_a_leased_limiter_admits_exactly_what_redis_was_charged(redis_url):
    limiter = leased(redis_url)
    admitted = [limiter.check("k" if i % 2 else b"k").admitted for i in range(30)]
    assert sum(admitted) == 10
    assert admitted[:10] == [True] * 10
    assert limiter.quota == TEN_AN_HOUR
    counts = limiter.lease_counters
    assert counts["leases"] >= 1 and counts["granted"] >= 10 and counts["local"] >= 1, counts
    store = limiter.store_counters
    assert store["errors"] == store["timeouts"] == store["failed_closed"] == 0, store


def test_a_leased_and_an_exact_limiter_share_the_redis_bucket(redis_url):
    prefix = fresh_prefix()
    quota = Quota.per_hour(4, burst=4)
    limiter = leased(redis_url, quota, prefix=prefix, fleet_size=2)
    exact = KeyedLimiter(quota, store=redis_url, prefix=prefix, deadline=DEADLINE_S, on_failure="closed")
    admitted = 0
    for _ in range(6):
        admitted += limiter.check("k").admitted
        admitted += exact.check("k").admitted
    assert admitted == 4


def test_leased_layers_spend_every_layer_or_none(redis_url):
    prefix = fresh_prefix()
    layers = LeasedLayers(
        [("key", TEN_AN_HOUR, f"{prefix}k:"), ("workspace", Quota.per_hour(1, burst=1), f"{prefix}w:")],
        store=redis_url,
        deadline=DEADLINE_S,
        on_failure="closed",
    )
    assert layers.keyed == [True, True]
    assert layers.check(["a", "ws"]).admitted
    refused = layers.check(["b", "ws"])
    assert not refused.admitted and refused.scope == "workspace"
    # Key "b" took its token back when the workspace refused: it holds ten.
    for index in range(10):
        assert layers.check(["b", f"ws-{index}"]).admitted
    assert not layers.check(["b", "ws-last"]).admitted
    assert layers.lease_counters["leases"] >= 1
    with pytest.raises(ValueError):
        layers.check(["a"])
    with pytest.raises(TypeError, match="not int"):
        layers.check(["a", 7])


def test_a_check_waiting_for_its_first_lease_releases_the_gil():
    # The key's first lease waits the whole deadline on a server that never
    # answers; then the failure policy answers.
    limiter, during = denied_while_another_thread_counts(
        lambda url: LeasedLimiter(TEN_AN_HOUR, store=url, deadline=0.5, on_failure="closed")
    )
    assert during > 0
    store = limiter.store_counters
    assert store["failed_closed"] == 1 and store["timeouts"] + store["errors"] >= 1, store


def test_failing_local_admits_this_processs_share():
    # Nothing listens on port 1: every lease call fails at once, and the
    # process's share of the quota (the whole of it: one host counted) answers.
    limiter = LeasedLimiter(TEN_AN_HOUR, store="redis://127.0.0.1:1/", deadline=1.0, on_failure="local")
    assert limiter.check("k").admitted
    store = limiter.store_counters
    assert (store["local_admitted"], store["failed_open"]) == (1, 0), store
    layers = LeasedLayers([("key", TEN_AN_HOUR, "k:")], store="redis://127.0.0.1:1/", deadline=1.0, on_failure="local")
    assert layers.check(["a"]).admitted
    assert layers.store_counters["local_admitted"] == 1


def test_store_takes_a_cluster_list_as_keyed_limiter_does(redis_url):
    # store= takes what KeyedLimiter(store=...) takes: a list is a Redis Cluster's node URLs.
    with pytest.raises(TypeError):
        LeasedLimiter(TEN_AN_HOUR, store=[redis_url, 7])
    with pytest.raises(ValueError):
        LeasedLimiter(TEN_AN_HOUR, store=[])


def test_bad_arguments_raise(redis_url):
    with pytest.raises(TypeError):
        LeasedLimiter(TEN_AN_HOUR, store=7)
    with pytest.raises(TypeError):
        LeasedLimiter("10/hour", store=redis_url)
    with pytest.raises(TypeError):
        LeasedLimiter(TEN_AN_HOUR)  # store= is required
    for options in [{"lease_time": 0}, {"low_water": 101}, {"low_water": 0}, {"fleet_size": 0}, {"capacity": 0}]:
        with pytest.raises(ValueError):
            LeasedLimiter(TEN_AN_HOUR, store=redis_url, **options)
    with pytest.raises(ValueError):
        LeasedLimiter(TEN_AN_HOUR, store=redis_url, on_failure="maybe")
    with pytest.raises(TypeError):
        LeasedLimiter(TEN_AN_HOUR, store=redis_url, on_failure=1)
    with pytest.raises(ValueError):
        LeasedLimiter(TEN_AN_HOUR, store="http://x")
    with pytest.raises(TypeError, match="name, quota, prefix"):
        LeasedLayers([("key", TEN_AN_HOUR)], store=redis_url)
    limiter = leased(redis_url)
    with pytest.raises(ValueError):
        limiter.check("")
    with pytest.raises(ValueError):
        limiter.check("k", -1)
    with pytest.raises(TypeError, match="not int"):
        limiter.check(7)
    assert limiter.lease_counters["leases"] == 0, "refused checks leased nothing"


def test_asgi_middleware_answers_429_with_the_standard_headers_through_leases(redis_url):
    limiter = leased(redis_url, Quota.per_minute(2, burst=2))

    async def hello(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})

    async def run():
        app = RateLimitMiddleware(hello, limiter, key=header("x-api-key"))
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.get("/", headers={"x-api-key": "gos_live_a"}) for _ in range(3)]

    first, second, denied = asyncio.run(run())
    assert first.status_code == second.status_code == 200
    assert first.headers["ratelimit-policy"] == '"2-per-60s";q=2;w=60'
    assert denied.status_code == 429
    assert denied.headers["ratelimit"].startswith('"2-per-60s";r=0;')
    assert int(denied.headers["retry-after"]) >= 1
    assert denied.headers["x-ratelimit-remaining"] == "0"


def test_route_limits_with_store_lease_by_default(redis_url):
    from fastapi import FastAPI, Request
    from fastapi.testclient import TestClient

    from floodgate.fastapi import RateLimiter

    limiter = RateLimiter(store=redis_url, store_prefix=fresh_prefix(), store_deadline=DEADLINE_S, store_on_failure="closed")
    app = FastAPI()
    limiter.install(app)
    home_limit = limiter.route_limit("2/minute;3/hour")
    assert isinstance(home_limit.gate.limiter, LeasedLayers)

    @app.get("/")
    @limiter.limit("2/minute;3/hour")
    async def home(request: Request):
        return {"ok": True}

    @app.get("/free")
    @limiter.limit("1/minute", deduct_when=lambda response: response.status_code >= 400)
    async def free(request: Request):
        return {"ok": True}

    client = TestClient(app)
    responses = [client.get("/") for _ in range(3)]
    assert [response.status_code for response in responses] == [200, 200, 429]
    assert responses[0].headers["ratelimit-policy"].startswith('"2-per-60s"')
    assert "retry-after" in responses[2].headers
    # deduct_when refunds, so its route is checked exactly: refunds land.
    assert [client.get("/free").status_code for _ in range(3)] == [200, 200, 200]

    exact = RateLimiter(store=redis_url, store_prefix=fresh_prefix(), store_mode="exact")
    assert isinstance(exact.route_limit("2/minute").gate.limiter, RedisLayers)
    leasing = RateLimiter(store=redis_url, store_prefix=fresh_prefix(), store_mode="lease")
    with pytest.raises(TypeError, match="store_mode='exact'"):
        leasing.route_limit("1/minute", deduct_when=lambda response: False)
    with pytest.raises(ValueError, match="store_mode"):
        RateLimiter(store=redis_url, store_mode="fast")


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn-uvicorn-preload"])
def test_two_workers_share_one_limit_through_leases(redis_url, server, monkeypatch):
    monkeypatch.setenv("FLOODGATE_TEST_STORE", redis_url)
    monkeypatch.setenv("FLOODGATE_TEST_STORE_PREFIX", fresh_prefix())
    monkeypatch.setenv("FLOODGATE_TEST_STORE_MODE", "lease")
    with serving(SERVERS[server], None) as (process, port):
        counts = hammer(connections_to_both_workers(process, port))
    admitted = admitted_by_worker(counts)
    total = sum(admitted.values())
    print(f"{server} through leases: admitted {dict(admitted)}, total {total}, answered {sum(counts.values())}")
    assert len(admitted) == 2, f"both workers answered: {counts}"
    # One bucket: burst 60 + 30/s x 2 s = 120 at most from the moment it was
    # full; a worker admits only tokens Redis was charged for (each worker's
    # own bucket would admit about that many each). A Redis that failed to
    # answer in time denies (on_failure="closed"), so failures cannot pass.
    assert 60 <= total <= 121, f"admitted {total} ({dict(admitted)} by worker) of {sum(counts.values())}"


def test_the_classes_are_exported():
    assert floodgate.LeasedLimiter is LeasedLimiter and floodgate.LeasedLayers is LeasedLayers
