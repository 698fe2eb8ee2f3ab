"""floodgate.fastapi.RateLimiter: per-route limits for FastAPI and Starlette."""

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from floodgate import FloodgateError
from floodgate.fastapi import RateLimiter


def fastapi_app(limiter):
    app = FastAPI()
    limiter.install(app)
    return app


def statuses(client, count, url="/", method="GET", **options):
    return [client.request(method, url, **options).status_code for _ in range(count)]


def test_async_and_sync_endpoints_with_stacked_limits_answer_one_set_of_fields():
    limiter = RateLimiter()
    app = fastapi_app(limiter)

    @app.get("/async")
    @limiter.limit("5/minute;100/hour")
    async def async_route(q: str = "x") -> dict[str, str]:
        return {"q": q}

    @app.get("/sync")
    @limiter.limit("2/minute")
    def sync_route(request: Request) -> dict[str, str]:
        return {"path": request.url.path}

    client = TestClient(app)
    responses = [client.get("/async?q=hi") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert responses[0].json() == {"q": "hi"}
    assert responses[0].headers["x-ratelimit-limit"] == "5"
    assert responses[0].headers["x-ratelimit-remaining"] == "4"
    assert responses[0].headers["ratelimit-policy"] == '"5-per-60s";q=5;w=60'
    denied = responses[5]
    assert denied.headers["retry-after"] == "12"
    assert denied.headers["x-ratelimit-limit"] == "5"
    assert denied.json()["error"]["code"] == "rate_limited"
    assert statuses(client, 3, "/sync") == [200, 200, 429]
    assert client.get("/sync").headers["retry-after"] == "30"


def test_starlette_endpoint_and_key_func():
    limiter = RateLimiter(key_func=lambda request: request.headers.get("x-api-key"))

    @limiter.limit("1/minute")
    async def hello(request):
        return PlainTextResponse("hello")

    client = TestClient(Starlette(routes=[Route("/", hello)]))
    assert statuses(client, 2, headers={"x-api-key": "a"}) == [200, 429]
    assert statuses(client, 1, headers={"x-api-key": "b"}) == [200]
    # No key: charged to the client address, its own bucket.
    assert statuses(client, 2) == [200, 429]


def test_bad_key_rejected_with_on_bad_key_reject():
    limiter = RateLimiter(key_func=lambda request: request.headers.get("x-api-key"), on_bad_key="reject")
    app = fastapi_app(limiter)

    @app.get("/")
    @limiter.limit("10/minute")
    async def root() -> str:
        return "ok"

    response = TestClient(app).get("/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_key"


def test_methods_limits_only_those():
    limiter = RateLimiter()
    app = fastapi_app(limiter)

    @app.api_route("/", methods=["GET", "POST"])
    @limiter.limit("1/minute", methods=["post"])
    async def root() -> str:
        return "ok"

    client = TestClient(app)
    assert statuses(client, 3, method="GET") == [200, 200, 200]
    assert "x-ratelimit-limit" not in client.get("/").headers
    assert statuses(client, 2, method="POST") == [200, 429]


def test_cost_int_and_callable():
    limiter = RateLimiter()
    app = fastapi_app(limiter)

    @app.get("/fixed")
    @limiter.limit("10/minute", cost=4)
    async def fixed() -> str:
        return "ok"

    @app.get("/priced")
    @limiter.limit("10/minute", cost=lambda request: int(request.query_params["units"]))
    async def priced(units: int) -> str:
        return "ok"

    client = TestClient(app)
    assert statuses(client, 3, "/fixed") == [200, 200, 429]
    assert client.get("/priced?units=9").headers["x-ratelimit-remaining"] == "1"
    assert client.get("/priced?units=2").status_code == 429


def test_deduct_when_charges_only_failed_requests():
    limiter = RateLimiter()
    app = fastapi_app(limiter)

    @app.get("/login")
    @limiter.limit("2/minute", deduct_when=lambda response: response.status_code >= 400)
    async def login(ok: bool) -> str:
        if not ok:
            raise HTTPException(401)
        return "welcome"

    client = TestClient(app)
    assert statuses(client, 5, "/login?ok=true") == [200] * 5  # successes are refunded
    assert statuses(client, 3, "/login?ok=false") == [401, 401, 429]


def test_dependency_form():
    limiter = RateLimiter()
    app = fastapi_app(limiter)

    @app.get("/", dependencies=[Depends(limiter.dependency("2/minute"))])
    async def root() -> dict[str, bool]:
        return {"ok": True}

    client = TestClient(app)
    first, _, denied = (client.get("/") for _ in range(3))
    assert first.status_code == 200 and first.headers["x-ratelimit-remaining"] == "1"
    assert denied.status_code == 429
    assert denied.headers["retry-after"] == "30"
    assert denied.json()["error"]["code"] == "rate_limited"


def test_default_limits_and_exempt():
    limiter = RateLimiter(default_limits="1/minute")
    app = fastapi_app(limiter)

    @app.get("/default")
    async def default() -> str:
        return "ok"

    @app.get("/health")
    @limiter.exempt
    async def health() -> str:
        return "ok"

    @app.get("/own")
    @limiter.limit("3/minute")
    async def own() -> str:
        return "ok"

    client = TestClient(app)
    assert statuses(client, 2, "/default") == [200, 429]
    assert statuses(client, 3, "/health") == [200, 200, 200]
    assert statuses(client, 4, "/own") == [200, 200, 200, 429]


def test_two_decorators_answer_with_the_most_restrictive_and_refund_the_outer_on_inner_refusal():
    limiter = RateLimiter()
    app = fastapi_app(limiter)

    @app.get("/")
    @limiter.limit("100/hour")
    @limiter.limit("2/minute")
    async def root() -> str:
        return "ok"

    client = TestClient(app)
    first = client.get("/")
    assert first.headers["x-ratelimit-limit"] == "2"
    assert "," not in first.headers["ratelimit-policy"]
    assert statuses(client, 3) == [200, 429, 429]


def test_bad_notation_raises_at_decoration():
    with pytest.raises(FloodgateError):
        RateLimiter().limit("5 per fortnight")


def test_asgi_middleware_around_a_limited_route_sends_one_set_of_fields():
    from floodgate import KeyedLimiter, Quota
    from floodgate.asgi import RateLimitMiddleware

    limiter = RateLimiter()
    app = fastapi_app(limiter)
    app.add_middleware(RateLimitMiddleware, limiter=KeyedLimiter(Quota.per_hour(100)))

    @app.get("/")
    @limiter.limit("2/minute")
    async def root() -> str:
        return "ok"

    client = TestClient(app)
    first, second, denied = (client.get("/") for _ in range(3))
    # Before: the middleware appended its own set, "X-RateLimit-Limit: 2, 100".
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["ratelimit-policy"] == '"2-per-60s";q=2;w=60'
    assert second.headers["x-ratelimit-remaining"] == "0"
    assert denied.status_code == 429
    assert denied.headers["x-ratelimit-limit"] == "2"
    assert denied.headers["retry-after"] == "30"
