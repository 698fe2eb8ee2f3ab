"""ASGI middleware: rate-limit every HTTP request by a key.

Works with any ASGI framework (Starlette, FastAPI, Quart, Django's ASGI
handler...) and imports none of them::

    from floodgate import Limiter, Quota
    from floodgate.asgi import RateLimitMiddleware, client_ip

    app = RateLimitMiddleware(app, Limiter(Quota.per_second(30, burst=60)), key=client_ip)

Each limited request's response carries ``X-RateLimit-Limit``,
``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` and ``X-RateLimit-Scope``.
A denied request never reaches the app: it gets ``429 Too Many Requests``
with ``Retry-After`` and the JSON error body of the GenieOS rate-limit page.
The engine renders both (:class:`floodgate.Headers`, :class:`floodgate.ErrorBody`),
so every floodgate binding writes them alike.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Union

from floodgate._floodgate import Decision, ErrorBody, Headers, Limiter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Key = Union[str, bytes, int]
"""What a key function returns: the limiter bucket a request is charged to."""

KeyFunction = Callable[[Scope], Union[Key, None]]
"""Picks a request's key from its ASGI scope; None leaves the request unlimited."""

CostFunction = Callable[[Scope], int]


def client_ip(scope: Scope) -> str | None:
    """The peer address the server saw (behind a proxy, use a header key)."""
    client = scope.get("client")
    return None if client is None else str(client[0])


def path(scope: Scope) -> str:
    """The request path: one bucket per endpoint."""
    return str(scope["path"])


def header(name: str) -> Callable[[Scope], bytes | None]:
    """A key function reading request header ``name`` (say ``"x-api-key"``);
    requests without it are not limited."""
    wanted = name.lower().encode("latin-1")

    def key(scope: Scope) -> bytes | None:
        for field, value in scope.get("headers", ()):
            if field == wanted:
                return bytes(value)
        return None

    return key


def request_id_from_header(scope: Scope) -> str:
    """``X-Request-Id`` when the client sent one, else a fresh ``req_`` id."""
    value = header("x-request-id")(scope)
    return value.decode("latin-1") if value else f"req_{uuid.uuid4().hex}"


class RateLimitMiddleware:
    """Checks each HTTP request against ``limiter`` before the app sees it.

    ``limiter`` is a :class:`floodgate.Limiter` (one bucket for every
    request). ``key`` picks the request's key from its scope; a request whose
    key is None passes through untouched and without rate-limit headers
    (say, one without an API key, left for the app to refuse). ``cost`` is
    the units each request charges, or a function of the scope.

    The engine renders what the client reads: ``headers`` (a
    :class:`floodgate.Headers`; default X-RateLimit-* and ``Retry-After``
    with one decimal, rounded up, as GenieOS writes it) and ``body`` (a
    :class:`floodgate.ErrorBody`; default GenieOS's per-key body), both for
    layer ``scope_name``. ``request_id`` names the request in the body;
    ``wall_clock`` gives the Unix time in ns that ``X-RateLimit-Reset``
    counts from. Non-HTTP traffic (lifespan, websockets) passes through.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: Limiter,
        *,
        key: KeyFunction = client_ip,
        cost: int | CostFunction = 1,
        scope_name: str = "key",
        headers: Headers | None = None,
        body: ErrorBody | None = None,
        request_id: Callable[[Scope], str] = request_id_from_header,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if not isinstance(limiter, Limiter):
            raise TypeError(f"limiter must be a floodgate.Limiter, got {type(limiter).__name__}")
        if not callable(key):
            raise TypeError("key must be a function of the ASGI scope")
        if not callable(cost) and (not isinstance(cost, int) or isinstance(cost, bool) or cost < 0):
            raise ValueError(f"cost must be a non-negative int or a function of the scope, got {cost!r}")
        self.app = app
        self.limiter = limiter
        self.key = key
        self.cost = cost
        self.scope_name = scope_name
        self.headers = Headers() if headers is None else headers
        self.body = ErrorBody.genieos_key() if body is None else body
        self.request_id = request_id
        self.wall_clock = wall_clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        cost = self.cost(scope) if callable(self.cost) else self.cost
        decision = self._check(key, cost)
        fields = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.headers.render(decision, self.scope_name, self.wall_clock())
        ]
        if not decision.admitted:
            await self._reject(scope, send, decision, fields)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *fields]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _check(self, key: Key, cost: int) -> Decision:
        # One bucket for every request: the key only decides who is limited.
        return self.limiter.check(cost)

    async def _reject(
        self, scope: Scope, send: Send, decision: Decision, fields: list[tuple[bytes, bytes]]
    ) -> None:
        body = self.body.render(decision, self.scope_name, self.request_id(scope)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    *fields,
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
