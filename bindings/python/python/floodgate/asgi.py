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
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Union

from floodgate import _render
from floodgate._floodgate import Decision, Limiter

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

DEFAULT_MESSAGE = "API key exceeded its rate limit. Retry after {retry_after}s."
CANNOT_FIT_MESSAGE = "The request costs more than the rate limit's burst; it can never be admitted."


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

    ``scope_name`` fills ``X-RateLimit-Scope``; ``error_type``, ``error_code``
    and ``message`` fill the 429 body (the message may use ``{retry_after}``,
    ``{limit}``, ``{remaining}`` and ``{scope}``). ``fractional_retry_after``
    writes ``Retry-After: 0.034`` instead of whole seconds (``1``); both round
    up. ``wall_clock`` gives the Unix time ``X-RateLimit-Reset`` counts from.
    Non-HTTP traffic (lifespan, websockets) passes through.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: Limiter,
        *,
        key: KeyFunction = client_ip,
        cost: int | CostFunction = 1,
        scope_name: str = "key",
        error_type: str = "rate_limit_exceeded",
        error_code: str = "key_rate_limit",
        message: str = DEFAULT_MESSAGE,
        fractional_retry_after: bool = True,
        request_id: Callable[[Scope], str] = request_id_from_header,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(limiter, Limiter):
            raise TypeError(f"limiter must be a floodgate.Limiter, got {type(limiter).__name__}")
        if not callable(key):
            raise TypeError("key must be a function of the ASGI scope")
        if not callable(cost) and (not isinstance(cost, int) or isinstance(cost, bool) or cost < 0):
            raise ValueError(f"cost must be a non-negative int or a function of the scope, got {cost!r}")
        try:
            message.format(retry_after="1", limit=1, remaining=0, scope=scope_name)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(f"message template is invalid: {error!r}") from None
        self.app = app
        self.limiter = limiter
        self.key = key
        self.cost = cost
        self.scope_name = scope_name
        self.error_type = error_type
        self.error_code = error_code
        self.message = message
        self.fractional_retry_after = fractional_retry_after
        self.request_id = request_id
        self.wall_clock = wall_clock
        self._scope_header = (b"x-ratelimit-scope", scope_name.encode("latin-1"))

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
        headers = self._headers(decision)
        if not decision.admitted:
            await self._reject(scope, send, decision, headers)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _check(self, key: Key, cost: int) -> Decision:
        # One bucket for every request: the key only decides who is limited.
        return self.limiter.check(cost)

    def _headers(self, decision: Decision) -> list[tuple[bytes, bytes]]:
        reset = _render.reset_timestamp(self.wall_clock(), decision.reset_after_ns)
        return [
            (b"x-ratelimit-limit", str(decision.limit).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
            (b"x-ratelimit-reset", reset.encode()),
            self._scope_header,
        ]

    async def _reject(
        self, scope: Scope, send: Send, decision: Decision, headers: list[tuple[bytes, bytes]]
    ) -> None:
        retry_after = None
        if decision.retry_after_ns:
            retry_after = _render.retry_after_value(
                decision.retry_after_ns, fractional=self.fractional_retry_after
            )
            headers = [(b"retry-after", retry_after.encode()), *headers]
            message = self.message.format(
                retry_after=retry_after,
                limit=decision.limit,
                remaining=decision.remaining,
                scope=self.scope_name,
            )
        else:
            message = CANNOT_FIT_MESSAGE
        body = _render.error_body(
            error_type=self.error_type,
            code=self.error_code,
            message=message,
            retry_after=retry_after,
            request_id=self.request_id(scope),
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    *headers,
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
