"""A uvicorn server for tests/test_fuzz.py, run in its own process so a crash
shows as an exit: listens on a free 127.0.0.1 port, prints ``PORT <n>`` and
serves until terminated. Its limiter's ManualClock never moves, so every
check happens at t = 0 and the final burst count is exact."""

import socket
import sys

import uvicorn

from floodgate import KeyedLimiter, ManualClock, Quota
from floodgate.asgi import RateLimitMiddleware, header


async def served(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"served"})


def main():
    limiter = KeyedLimiter(Quota.per_second(30, burst=60), clock=ManualClock())
    app = RateLimitMiddleware(served, limiter, key=header("x-api-key"))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # a free port chosen by the kernel
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", access_log=False))
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    server.run(sockets=[listener])


if __name__ == "__main__":
    sys.exit(main())
