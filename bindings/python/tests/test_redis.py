"""Limits kept in Redis (``KeyedLimiter(..., store="redis://...")``), against
a real redis-server this module starts on a free 127.0.0.1 port and stops
by its PID: the decisions are the local limiter's, the ASGI and WSGI
middleware answer 429 through Redis, and two uvicorn workers share one
limit through it. Every wait is bounded."""

import asyncio
import os
import pathlib
import random
import shutil
import socket
import subprocess
import threading
import time

import httpx
import pytest

import floodgate
from floodgate import KeyedLimiter, Policy, Quota
from floodgate.asgi import RateLimitMiddleware, header
from test_shared_workers import SERVERS, admitted_by_worker, connections_to_both_workers, hammer, serving

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
STARTUP_TIMEOUT_S = 30
# Generous: a loaded 2-core machine must not turn a slow answer into a failure.
DEADLINE_S = 2.0
HOBBY = Quota.per_second(30, burst=60)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A redis-server without persistence, for this module; stopped by PID."""
    if not os.path.exists(REDIS_SERVER):
        pytest.fail("redis-server is required (scripts/test-all.sh installs it: apt-get install redis-server)")
    directory = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, f"redis-server exited with {process.returncode}"
            assert time.monotonic() < deadline, "redis-server did not listen in time"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STARTUP_TIMEOUT_S)


def fresh_prefix():
    """A prefix no other test or run used: buckets written at a caller's
    time never expire, so each test keeps to its own."""
    return f"pytest:{os.getpid()}:{time.monotonic_ns()}:"


def remote(url, quota=HOBBY, **options):
    options.setdefault("prefix", fresh_prefix())
    options.setdefault("deadline", DEADLINE_S)
    options.setdefault("on_failure", "closed")
    return KeyedLimiter(quota, store=url, **options)


def fields(decision):
    return (
        decision.admitted,
        decision.outcome,
        decision.limit,
        decision.remaining,
        decision.reset_after_ns,
        decision.retry_after_ns,
    )


@pytest.mark.parametrize(
    "quota",
    [HOBBY, Quota.per_minute(7, burst=3), Quota.per_second(5, burst=2, lockout=10)],
    ids=["30/s burst 60", "7/min burst 3", "5/s burst 2 lockout 10 s"],
)
def test_decisions_equal_the_local_limiters(redis_url, quota):
    local = KeyedLimiter(quota)
    kept = remote(redis_url, quota)
    draw = random.Random(7)
    now_us = 1_000_000
    for _ in range(300):
        now_us += draw.choice([0, 1, 10, 1_000, 33_334, 250_000, 2_000_000])
        key = draw.choice(["a", "b", b"c"])
        action = draw.random()
        if action < 0.8:
            cost = draw.choice([0, 1, 1, 1, 2, 5, 70])
            expected = local.check(key, cost, now_ns=now_us * 1_000)
            got = kept.check(key, cost, now_ns=now_us * 1_000)
        elif action < 0.9:
            expected = local.peek(key, now_ns=now_us * 1_000)
            got = kept.peek(key, now_ns=now_us * 1_000)
        else:
            expected = local.refund(key, 1, now_ns=now_us * 1_000)
            got = kept.refund(key, 1, now_ns=now_us * 1_000)
        assert fields(got) == fields(expected), (key, now_us)
    counters = kept.store_counters
    assert counters["failed_open"] == counters["failed_closed"] == 0, counters
    assert counters["exact"] + counters["cached"] == 300


def test_windows_kept_in_redis_decide_as_local_windows(redis_url):
    local = floodgate.KeyedWindows(5, 1.0)
    kept = floodgate.KeyedWindows(
        5, 1.0, store=redis_url, prefix=fresh_prefix(), deadline=DEADLINE_S, on_failure="closed"
    )
    draw = random.Random(11)
    now_us = 1_000_000
    for _ in range(300):
        now_us += draw.choice([0, 1, 10, 1_000, 33_334, 250_000, 700_000, 2_000_000])
        key = draw.choice(["a", "b", b"c"])
        action = draw.random()
        if action < 0.8:
            cost = draw.choice([0, 1, 1, 1, 2, 5, 7])
            expected = local.check(key, cost, now_ns=now_us * 1_000)
            got = kept.check(key, cost, now_ns=now_us * 1_000)
        elif action < 0.9:
            expected = local.peek(key, now_ns=now_us * 1_000)
            got = kept.peek(key, now_ns=now_us * 1_000)
        else:
            expected = local.refund(key, 1, now_ns=now_us * 1_000)
            got = kept.refund(key, 1, now_ns=now_us * 1_000)
        assert fields(got) == fields(expected), (key, now_us)
    counters = kept.store_counters
    assert counters["failed_open"] == counters["failed_closed"] == 0, counters
    assert counters["exact"] == 300
    assert local.store_counters is None


def test_windows_kept_in_redis_fail_local_and_refuse_bad_input(redis_url):
    local = floodgate.KeyedWindows(2, 60.0, store="redis://127.0.0.1:1/", deadline=1.0, on_failure="local")
    assert [local.check("k").admitted for _ in range(3)] == [True, True, False]
    assert (local.store_counters["local_admitted"], local.store_counters["local_denied"]) == (2, 1)
    with pytest.raises(TypeError, match="not available on a KeyedWindows"):
        local.reset("k")
    with pytest.raises(TypeError, match="not available on a KeyedWindows"):
        local.set_limit("k", 3)
    with pytest.raises(TypeError, match="cannot be a policy layer"):
        Policy([("workspace", local)])
    with pytest.raises(TypeError, match="not int"):
        local.check(42)
    with pytest.raises(ValueError, match="on_failure must be"):
        floodgate.KeyedWindows(2, 60.0, store=redis_url, on_failure="maybe")
    with pytest.raises(TypeError, match="give store= too"):
        floodgate.KeyedWindows(2, 60.0, deadline=1.0)
    with pytest.raises(TypeError, match="neither shared= nor clock="):
        floodgate.KeyedWindows(2, 60.0, store=redis_url, shared="pytest-redis-windows")
    with pytest.raises(ValueError):
        floodgate.KeyedWindows(2, 0.0000005, store=redis_url)
    with pytest.raises(ValueError):
        floodgate.KeyedWindows(0, 60.0, store=redis_url)


def test_an_inflight_cap_kept_in_redis_leases_permits(redis_url):
    prefix = fresh_prefix()
    caps = floodgate.RedisInFlight(2, store=redis_url, prefix=prefix, deadline=DEADLINE_S, on_failure="closed")
    other = floodgate.RedisInFlight(2, store=redis_url, prefix=prefix, deadline=DEADLINE_S)
    first = caps.try_acquire("k")
    second = other.try_acquire(b"k")  # one cap per key, whoever asks
    assert (first.in_flight, second.in_flight, first.limit, second.remaining) == (1, 2, 2, 0)
    assert first.lease_end_us > 0
    assert caps.try_acquire("k") is None
    assert first.renew()
    assert first.release() == 1
    with pytest.raises(floodgate.FloodgateError):
        first.release()
    with second:
        pass
    with caps.try_acquire("k") as again:
        assert again.in_flight == 1
    counters = caps.store_counters
    assert (counters["exact"], counters["failed_closed"]) == (6, 0)
    assert caps.lease == 30.0


def test_an_inflight_cap_kept_in_redis_fails_local_and_refuses_bad_input(redis_url):
    caps = floodgate.RedisInFlight(1, store="redis://127.0.0.1:1/", deadline=1.0, on_failure="local")
    permit = caps.try_acquire("k")
    assert (permit.in_flight, permit.lease_end_us) == (1, None)
    assert caps.try_acquire("k") is None
    assert permit.release() is None
    assert caps.try_acquire("k") is not None
    assert (caps.store_counters["local_admitted"], caps.store_counters["local_denied"]) == (2, 1)
    with pytest.raises(TypeError, match="not int"):
        caps.try_acquire(7)
    with pytest.raises(ValueError):
        caps.try_acquire("")
    with pytest.raises(ValueError):
        floodgate.RedisInFlight(0, store=redis_url)
    with pytest.raises(ValueError, match="lease"):
        floodgate.RedisInFlight(2, store=redis_url, lease=0)
    with pytest.raises(ValueError, match="on_failure must be"):
        floodgate.RedisInFlight(2, store=redis_url, on_failure="maybe")
    with pytest.raises(TypeError, match="store must be"):
        floodgate.RedisInFlight(2, store=6379)
    with pytest.raises(TypeError):
        floodgate.RedisInFlight(2)


def test_two_limiters_on_one_prefix_share_the_buckets(redis_url):
    prefix = fresh_prefix()
    first, second = remote(redis_url, prefix=prefix), remote(redis_url, prefix=prefix)
    # At one caller's time: no refill between the calls, however slow the machine.
    now_ns = 5_000_000_000
    assert first.check("k", 40, now_ns=now_ns).remaining == 20
    assert second.check("k", 20, now_ns=now_ns).remaining == 0
    assert not first.check("k", now_ns=now_ns).admitted


def test_a_server_that_does_not_answer_gets_the_failure_policy():
    url = f"redis://127.0.0.1:{free_port()}/"  # nothing listens there
    closed = KeyedLimiter(HOBBY, store=url, deadline=1.0, on_failure="closed")
    assert not closed.check("k").admitted
    opened = KeyedLimiter(HOBBY, store=url, deadline=1.0, on_failure="open")
    assert opened.check("k").admitted
    assert closed.store_counters["failed_closed"] == 1
    assert opened.store_counters["failed_open"] == 1


def test_failing_local_admits_this_process_share_and_counts_it():
    # Nothing listens on port 1, so the fleet is never counted: this process
    # alone (N = 1), whose share is the whole limit.
    url = "redis://127.0.0.1:1/"
    local = KeyedLimiter(Quota.per_minute(3), store=url, deadline=1.0, on_failure="local")
    assert [local.check("k").admitted for _ in range(4)] == [True, True, True, False]
    counters = local.store_counters
    assert (counters["local_admitted"], counters["local_denied"]) == (3, 1)
    assert (counters["failed_open"], counters["failed_closed"], counters["exact"]) == (0, 0, 0)
    layers = floodgate.RedisLayers(
        [("key", Quota.per_minute(1), "k:")], store=url, deadline=1.0, on_failure="local"
    )
    assert [layers.check(["k"]).admitted for _ in range(2)] == [True, False]
    assert (layers.store_counters["local_admitted"], layers.store_counters["local_denied"]) == (1, 1)


def test_a_cluster_store_takes_a_list_of_node_urls():
    # Nothing connects before a check: a list of nodes is a Redis Cluster,
    # which answers by the failure policy here (nothing listens on port 1).
    nodes = ["redis://127.0.0.1:1/", "redis://127.0.0.1:2/"]
    for store in (nodes, tuple(nodes), nodes[:1]):
        limiter = KeyedLimiter(HOBBY, store=store, deadline=0.5, on_failure="closed")
        assert not limiter.check("k").admitted
        assert limiter.store_counters["failed_closed"] == 1
    layers = floodgate.RedisLayers([("key", HOBBY, "k:")], store=nodes, on_failure="local")
    assert layers.check(["k"]).admitted
    with pytest.raises(ValueError, match="at least one node"):
        KeyedLimiter(HOBBY, store=[])
    with pytest.raises(ValueError, match="store: "):
        KeyedLimiter(HOBBY, store=["redis://127.0.0.1:1/", "http://x"])
    with pytest.raises(TypeError, match="node URLs must be str"):
        KeyedLimiter(HOBBY, store=["redis://127.0.0.1:1/", 7000])
    with pytest.raises(TypeError, match="or a list of a Redis Cluster"):
        KeyedLimiter(HOBBY, store={"redis://127.0.0.1:1/"})
    from floodgate.fastapi import RateLimiter

    with pytest.raises(TypeError, match="Redis Cluster's node URLs"):
        RateLimiter(store=7000)
    assert RateLimiter(store=nodes).store.url == nodes


def denied_while_another_thread_counts(make_limiter):
    """Builds ``make_limiter(url)`` on a listener that accepts and never
    answers, so its first check waits the whole deadline and then the
    failure policy denies; meanwhile another Python thread keeps counting.
    The limiter, and how often that thread counted during the check."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        limiter = make_limiter(f"redis://127.0.0.1:{silent.getsockname()[1]}/")
        counted = []
        stop = threading.Event()

        def count():
            while not stop.is_set():
                counted.append(1)
                time.sleep(0)

        counter = threading.Thread(target=count)
        counter.start()
        try:
            before = len(counted)
            assert not limiter.check("k").admitted
            during = len(counted) - before
        finally:
            stop.set()
            counter.join(timeout=STARTUP_TIMEOUT_S)
    return limiter, during


def test_the_gil_is_released_while_redis_is_waited_for():
    limiter, during = denied_while_another_thread_counts(
        lambda url: KeyedLimiter(HOBBY, store=url, deadline=0.5, on_failure="closed")
    )
    assert during > 0
    assert limiter.store_counters["timeouts"] + limiter.store_counters["errors"] == 1


def test_bad_arguments_raise(redis_url):
    with pytest.raises(TypeError, match="store must be a Redis URL"):
        KeyedLimiter(HOBBY, store=6379)
    with pytest.raises(ValueError, match="store URL"):
        KeyedLimiter(HOBBY, store="http://127.0.0.1/")
    with pytest.raises(ValueError, match="on_failure must be"):
        KeyedLimiter(HOBBY, store=redis_url, on_failure="maybe")
    with pytest.raises(TypeError, match="on_failure must be"):
        KeyedLimiter(HOBBY, store=redis_url, on_failure=True)
    with pytest.raises(TypeError, match="prefix must be"):
        KeyedLimiter(HOBBY, store=redis_url, prefix=7)
    with pytest.raises(ValueError, match="deadline"):
        KeyedLimiter(HOBBY, store=redis_url, deadline=0)
    with pytest.raises(TypeError, match="give store= too"):
        KeyedLimiter(HOBBY, prefix="x:")
    with pytest.raises(TypeError, match="neither shared= nor clock="):
        KeyedLimiter(HOBBY, store=redis_url, shared="pytest-redis")
    with pytest.raises(ValueError, match="burst"):
        KeyedLimiter(Quota.per_period_ns(1, 999_999_999, burst=2**22), store=redis_url)
    limiter = remote(redis_url)
    with pytest.raises(TypeError, match="not int"):
        limiter.check(42)
    with pytest.raises(ValueError):
        limiter.check("")
    with pytest.raises(ValueError):
        limiter.check("k", -1)
    with pytest.raises(TypeError, match="not available"):
        limiter.reserve("k", 1, 1.0)
    with pytest.raises(TypeError, match="not available"):
        limiter.reconfigure(HOBBY)
    with pytest.raises(TypeError, match="policy layer"):
        Policy([("key", limiter)])
    # Refused calls charged nothing.
    assert limiter.peek("k").remaining == 60
    assert KeyedLimiter(HOBBY).store_counters is None


def asgi_app(limiter):
    async def hello(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})

    return RateLimitMiddleware(hello, limiter, key=header("x-api-key"))


def test_asgi_middleware_answers_429_with_the_standard_headers_through_redis(redis_url):
    prefix = fresh_prefix()
    limiter = remote(redis_url, Quota.per_minute(2, burst=2), prefix=prefix)

    async def run():
        transport = httpx.ASGITransport(app=asgi_app(limiter), client=("203.0.113.7", 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.get("/", headers={"x-api-key": "gos_live_a"}) for _ in range(3)]

    first, second, denied = asyncio.run(run())
    assert first.status_code == second.status_code == 200
    assert first.headers["ratelimit-policy"] == '"2-per-60s";q=2;w=60'
    assert first.headers["ratelimit"].startswith('"2-per-60s";r=1;')
    assert denied.status_code == 429
    assert denied.headers["ratelimit"].startswith('"2-per-60s";r=0;')
    assert int(denied.headers["retry-after"]) >= 1
    assert denied.headers["x-ratelimit-remaining"] == "0"
    assert "error" in denied.json()
    # Redis holds the bucket: another limiter on the same prefix finds it empty.
    assert remote(redis_url, Quota.per_minute(2, burst=2), prefix=prefix).peek("gos_live_a").remaining == 0


def test_wsgi_middleware_answers_429_through_redis(redis_url):
    from floodgate.wsgi import RateLimitMiddleware as WsgiMiddleware

    def hello(environ, start_response):
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"hello"]

    limiter = remote(redis_url, Quota.per_minute(1, burst=1))
    app = WsgiMiddleware(hello, limiter)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://test") as client:
        first, denied = client.get("/"), client.get("/")
    assert first.status_code == 200
    assert denied.status_code == 429
    assert denied.headers["x-ratelimit-limit"] == "1"


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn-uvicorn-preload", "gunicorn-wsgi"])
def test_two_workers_share_one_limit_through_redis(redis_url, server, monkeypatch):
    monkeypatch.setenv("FLOODGATE_TEST_STORE", redis_url)
    monkeypatch.setenv("FLOODGATE_TEST_STORE_PREFIX", fresh_prefix())
    with serving(SERVERS[server], None) as (process, port):
        counts = hammer(connections_to_both_workers(process, port))
    admitted = admitted_by_worker(counts)
    total = sum(admitted.values())
    print(f"{server} through Redis: admitted {dict(admitted)}, total {total}, answered {sum(counts.values())}")
    assert len(admitted) == 2, f"both workers answered: {counts}"
    # One bucket: burst 60 + 30/s x 2 s = 120 at most (each worker's own
    # would admit about that many each). A Redis that failed to answer in
    # time denies (on_failure="closed"), so failures cannot pass this test.
    assert 60 <= total <= 121, f"admitted {total} ({dict(admitted)} by worker) of {sum(counts.values())}"


def test_redis_layers_charge_every_layer_or_none(redis_url):
    prefix = fresh_prefix()
    layers = floodgate.RedisLayers(
        [("key", Quota.per_minute(3, burst=3), f"{prefix}k:"), ("workspace", Quota.per_minute(2, burst=2), f"{prefix}w:")],
        store=redis_url,
        deadline=DEADLINE_S,
        on_failure="closed",
    )
    assert layers.keyed == [True, True]
    first = layers.check(["a", "ws"])
    assert first.admitted and first.scope == "workspace" and first.decision.remaining == 1
    assert layers.check(["b", "ws"]).admitted
    refused = layers.check(["a", "ws"])
    assert not refused.admitted and refused.scope == "workspace"
    # The refusal charged no layer: key "a" has used one of its three.
    assert remote(redis_url, Quota.per_minute(3, burst=3), prefix=f"{prefix}k:").peek("a").remaining == 2
    with pytest.raises(ValueError):
        layers.check(["a"])
    with pytest.raises(TypeError, match="not int"):
        layers.check(["a", 7])
    with pytest.raises(TypeError, match="name, quota, prefix"):
        floodgate.RedisLayers([("key", Quota.per_minute(3))], store=redis_url)
    assert layers.store_counters["failed_closed"] == 0


def test_fastapi_route_limits_kept_in_redis(redis_url):
    from fastapi import FastAPI, Request
    from fastapi.testclient import TestClient

    from floodgate.fastapi import RateLimiter

    # A round trip per check (test_lease.py covers the default, leases).
    limiter = RateLimiter(
        store=redis_url,
        store_prefix=fresh_prefix(),
        store_mode="exact",
        store_deadline=DEADLINE_S,
        store_on_failure="closed",
    )
    app = FastAPI()
    limiter.install(app)

    @app.get("/")
    @limiter.limit("2/minute;3/hour")
    async def home(request: Request):
        return {"ok": True}

    @app.get("/free")
    @limiter.limit("1/minute", deduct_when=lambda response: response.status_code >= 400)
    async def free(request: Request):
        return {"ok": True}

    assert isinstance(limiter.route_limit("2/minute;3/hour").gate.limiter, floodgate.RedisLayers)
    client = TestClient(app)
    responses = [client.get("/") for _ in range(3)]
    assert [response.status_code for response in responses] == [200, 200, 429]
    assert responses[0].headers["ratelimit-policy"].startswith('"2-per-60s"')
    assert "retry-after" in responses[2].headers
    # Successful requests are refunded through the same Redis buckets.
    assert [client.get("/free").status_code for _ in range(3)] == [200, 200, 200]
    with pytest.raises(TypeError, match="not both"):
        RateLimiter(store=redis_url, shared="x")
