"""The apps tests/test_shared_workers.py serves from several worker
processes: every request limited by the ASGI (``app``) or WSGI
(``wsgi_app``) middleware, one bucket per ``x-api-key`` at 30/s, burst 60,
in the shared segment that ``FLOODGATE_TEST_SEGMENT`` names (unset: each
worker's own buckets), or in the Redis server ``FLOODGATE_TEST_STORE``
names under ``FLOODGATE_TEST_STORE_PREFIX``; or (``plans_app``) by GenieOS plans, every
``x-api-key`` on the hobby tier (30/s, burst 60 per key; 600 per minute per
workspace) in workspace 1, with suspensions, in the segments
``<segment>.plans`` and ``<segment>.suspended``. Every response, a 429
included, names the worker that answered it in ``x-worker-pid``."""

import os

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from floodgate import KeyedLimiter, LeasedLimiter, Plans, Quota, Suspensions, asgi, wsgi

SEGMENT = os.environ.get("FLOODGATE_TEST_SEGMENT")
# tests/test_redis.py: the same limit kept in Redis, denying when Redis
# does not answer within 2 s.
STORE = os.environ.get("FLOODGATE_TEST_STORE")
if STORE is None:
    limiter = KeyedLimiter(Quota.per_second(30, burst=60), capacity=1024, shared=SEGMENT)
elif os.environ.get("FLOODGATE_TEST_STORE_MODE") == "lease":
    # tests/test_lease.py: the same limit, checked locally from leases.
    limiter = LeasedLimiter(
        Quota.per_second(30, burst=60),
        store=STORE,
        prefix=os.environ["FLOODGATE_TEST_STORE_PREFIX"],
        deadline=2.0,
        on_failure="closed",
        fleet_size=2,
    )
else:
    limiter = KeyedLimiter(
        Quota.per_second(30, burst=60),
        store=STORE,
        prefix=os.environ["FLOODGATE_TEST_STORE_PREFIX"],
        deadline=2.0,
        on_failure="closed",
    )


def pid():
    """This worker's pid, read per response: gunicorn --preload imports the
    app in the server process and forks the workers from it."""
    return str(os.getpid())


async def hello(request):
    return PlainTextResponse("hello")


limited = asgi.RateLimitMiddleware(Starlette(routes=[Route("/", hello)]), limiter, key=asgi.header("x-api-key"))


def answered_with_pid(limited_app):
    """``limited_app`` with this worker's pid on every response."""

    async def app(scope, receive, send):
        async def send_with_pid(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-worker-pid", pid().encode())]}
            await send(message)

        await limited_app(scope, receive, send_with_pid)

    return app


app = answered_with_pid(limited)

api_key = asgi.header("x-api-key")
plans_app = answered_with_pid(
    asgi.RateLimitMiddleware(
        Starlette(routes=[Route("/", hello)]),
        Plans.genieos(key_capacity=1024, workspace_capacity=64, shared=SEGMENT and f"{SEGMENT}.plans"),
        plan=lambda scope: ("hobby", api_key(scope), 1),
        suspensions=Suspensions(64, shared=SEGMENT and f"{SEGMENT}.suspended"),
    )
)


def wsgi_hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


wsgi_limited = wsgi.RateLimitMiddleware(wsgi_hello, limiter, key=wsgi.header("x-api-key"))


def wsgi_app(environ, start_response):
    def start_with_pid(status, headers, exc_info=None):
        return start_response(status, [*headers, ("x-worker-pid", pid())], exc_info)

    return wsgi_limited(environ, start_with_pid)
