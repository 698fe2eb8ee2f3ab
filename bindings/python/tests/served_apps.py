"""Apps the real-client tests serve (tests/test_real_clients.py): one route
limited to 1 request per 3 seconds per client, so a client's retry after
Retry-After (rounded up) always lands after the cooldown."""

from fastapi import FastAPI
from flask import Flask

from floodgate import KeyedLimiter, Quota
from floodgate.fastapi import RateLimiter
from floodgate.wsgi import RateLimitMiddleware

fastapi_app = FastAPI()
limiter = RateLimiter()
limiter.install(fastapi_app)


@fastapi_app.get("/tick")
@limiter.limit("1/3 seconds")
async def tick() -> str:
    return "tick"


flask_app = Flask(__name__)


@flask_app.get("/tick")
def flask_tick() -> str:
    return "tick"


flask_app.wsgi_app = RateLimitMiddleware(  # type: ignore[method-assign]
    flask_app.wsgi_app, KeyedLimiter(Quota.parse("1/3 seconds")[0])
)
