"""Smoke test of an installed floodgate wheel: one check, one middleware request.

Run by scripts/package-smoke.sh in a fresh venv without a Rust toolchain. The
ASGI app is driven in-process through httpx's ASGITransport, so no server or
port is involved. Burst 1 makes the second request of one key a 429.
"""

import asyncio

import httpx

import floodgate
from floodgate.asgi import RateLimitMiddleware, header

decision = floodgate.Limiter(floodgate.Quota.per_second(30, burst=60)).check()
assert decision.admitted and decision.remaining == 59, decision


async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def requests():
    limited = RateLimitMiddleware(
        app, floodgate.KeyedLimiter(floodgate.Quota.per_second(1, burst=1)), key=header("x-api-key")
    )
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://smoke") as client:
        first = await client.get("/", headers={"x-api-key": "k"})
        second = await client.get("/", headers={"x-api-key": "k"})
    assert first.status_code == 200 and first.text == "ok", first
    assert first.headers["x-ratelimit-remaining"] == "0", first.headers
    assert second.status_code == 429 and "retry-after" in second.headers, second


asyncio.run(requests())
print(f"python: floodgate from {floodgate.__file__}: check and ASGI request ok")
