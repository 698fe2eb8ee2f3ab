"""The app tests/test_shared_workers.py serves from several worker
processes: every request limited by the ASGI middleware, one bucket per
``x-api-key`` at 30/s, burst 60, in the shared segment that
``FLOODGATE_TEST_SEGMENT`` names (unset: each worker's own buckets). Every
response, a 429 included, names the worker that answered it in
``x-worker-pid``."""

import os

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from floodgate import KeyedLimiter, Quota
from floodgate.asgi import RateLimitMiddleware, header

PID = str(os.getpid()).encode()


async def hello(request):
    return PlainTextResponse("hello")


limiter = KeyedLimiter(
    Quota.per_second(30, burst=60), capacity=1024, shared=os.environ.get("FLOODGATE_TEST_SEGMENT")
)
limited = RateLimitMiddleware(Starlette(routes=[Route("/", hello)]), limiter, key=header("x-api-key"))


async def app(scope, receive, send):
    async def send_with_pid(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"x-worker-pid", PID)]}
        await send(message)

    await limited(scope, receive, send_with_pid)
