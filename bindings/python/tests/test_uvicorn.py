"""The middleware behind a real uvicorn server on 127.0.0.1."""

import socket
import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from floodgate import KeyedLimiter, ManualClock, Quota
from floodgate.asgi import RateLimitMiddleware, header

STARTUP_TIMEOUT_S = 20


async def hello(request):
    return PlainTextResponse("hello")


def test_real_server_admits_the_burst_then_answers_429():
    limiter = KeyedLimiter(Quota.per_second(30, burst=60), clock=ManualClock())
    app = Starlette(
        routes=[Route("/", hello)],
        middleware=[Middleware(RateLimitMiddleware, limiter=limiter, key=header("x-api-key"), preset="genieos")],
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # a free port chosen by the kernel
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            key = {"x-api-key": "mg_live_hobby"}
            statuses = [client.get("/", headers=key).status_code for _ in range(61)]
            denied = client.get("/", headers=key)
            other = client.get("/", headers={"x-api-key": "mg_live_other"})
            unkeyed = client.get("/")
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        listener.close()
    assert not thread.is_alive()
    assert statuses == [200] * 60 + [429]
    assert denied.status_code == 429
    assert denied.headers["retry-after"] == "0.1"
    assert denied.json()["error"]["code"] == "key_rate_limit"
    assert other.status_code == 200
    assert other.headers["x-ratelimit-remaining"] == "59"
    assert unkeyed.status_code == 200
    assert unkeyed.headers["x-ratelimit-remaining"] == "59", "no key: charged to the client address"
