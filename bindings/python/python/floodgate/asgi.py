"""ASGI middleware: rate-limit every HTTP request by a key.

Works with any ASGI framework (Starlette, FastAPI, Quart, Django's ASGI
handler...) and imports none of them::

    from floodgate import KeyedLimiter, Quota
    from floodgate.asgi import RateLimitMiddleware, header

    per_key = KeyedLimiter(Quota.per_second(30, burst=60))
    app = RateLimitMiddleware(app, per_key, key=header("x-api-key"))

Each request is charged to the bucket of its own key (API key header, client
IP, path...). Layered limits take a :class:`floodgate.Policy` and a ``keys``
function giving each request one key per layer::

    policy = Policy([("key", KeyedLimiter(hobby)), ("workspace", KeyedWindows(600, 60))])
    app = RateLimitMiddleware(app, policy, keys=lambda scope: [api_key(scope), workspace_of(scope)])

Plan tiers take a :class:`floodgate.Plans` and a ``plan`` function giving
each request its ``(tier, api_key, workspace)``; a :class:`floodgate.Suspensions`
given as ``suspensions`` refuses suspended keys before any bucket is charged::

    plans = Plans.genieos()
    app = RateLimitMiddleware(app, plans, plan=lambda scope: lookup(api_key(scope)),
                              suspensions=Suspensions(1_000))

Each limited request's response carries ``X-RateLimit-Limit``,
``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` and ``X-RateLimit-Scope``
(for a policy, the scope of the layer that decided). A refused request never
reaches the app: it gets ``429 Too Many Requests`` with ``Retry-After`` and
the JSON error body of the GenieOS rate-limit page. The engine renders both
(:class:`floodgate.Headers`, :class:`floodgate.ErrorBody`), so every
floodgate binding writes them alike.

A suspended key (``Outcome.SUSPENDED``: from ``suspensions``, a Suspensions
layer of a Policy, or a suspended Limiter) is not rate limited but refused:
``403 Forbidden``, ``Retry-After`` in whole seconds when the suspension ends,
no X-RateLimit-* fields, and the JSON body::

    {"error": {"type": "suspended", "code": "key_suspended",
               "message": "This key is suspended.",
               "retry_after_seconds": 3600.0,  # null when indefinite
               "request_id": "req_..."}}

whose ``code`` is ``<scope>_suspended``. A request an unlimited tier admits
(GenieOS Sandbox) carries no rate-limit headers: there is no limit to report.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, Union

from floodgate._floodgate import (
    Decision,
    ErrorBody,
    Headers,
    KeyedLimiter,
    Limiter,
    Outcome,
    Plans,
    Policy,
    Suspensions,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Key = Union[str, bytes, int]
"""What a key function returns: the bucket a request is charged to."""

KeyFunction = Callable[[Scope], Union[Key, None]]
"""Picks a request's key from its ASGI scope; None leaves the request unlimited."""

KeysFunction = Callable[[Scope], Union[Sequence[Union[Key, None]], None]]
"""Picks a request's key for every layer of a Policy (None for an unkeyed
layer); returning None instead of a list leaves the request unlimited."""

PlanFunction = Callable[[Scope], Union[tuple[Union[int, str], Union[str, bytes], int], None]]
"""Gives a request's ``(tier, api_key, workspace)`` for Plans: the tier's
index or name, the key (str or bytes) and the workspace id (int); None
leaves the request unlimited."""

CostFunction = Callable[[Scope], int]

UNLIMITED = 2**64 - 1
"""The limit of a decision no limit applies to (an unlimited plan tier)."""


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
                return bytes(value) or None  # an empty header is no key
        return None

    return key


def request_id_from_header(scope: Scope) -> str:
    """``X-Request-Id`` when the client sent one, else a fresh ``req_`` id."""
    value = header("x-request-id")(scope)
    return value.decode("latin-1") if value else f"req_{uuid.uuid4().hex}"


class RateLimitMiddleware:
    """Checks each HTTP request before the app sees it.

    ``limiter`` is one of:

    * a :class:`floodgate.KeyedLimiter`: each request is charged to the
      bucket of the key ``key`` picks from its scope (default: the client
      IP), so clients are limited independently;
    * a :class:`floodgate.Policy`: ``keys`` picks one key per layer, every
      layer must admit, and ``X-RateLimit-Scope`` names the layer that
      decided (``key``, ``workspace``...);
    * a :class:`floodgate.Limiter`: one bucket shared by every limited
      request, a global cap (``key`` then only decides who is limited);
    * a :class:`floodgate.Plans`: ``plan`` gives each request its
      ``(tier, api_key, workspace)`` and ``X-RateLimit-Scope`` is ``key`` or
      ``workspace``.

    ``suspensions`` (a :class:`floodgate.Suspensions`, with a KeyedLimiter
    or Plans) is checked with the request's key first: a suspended key gets
    403 and charges nothing. With a Policy, make it a layer instead.

    A request whose key (or keys) is None passes through untouched and
    without rate-limit headers (say, one without an API key, left for the
    app to refuse). ``cost`` is the units each request charges, or a
    function of the scope.

    The engine renders what the client reads: ``headers`` (a
    :class:`floodgate.Headers`; default X-RateLimit-* and ``Retry-After``
    with one decimal, rounded up, as GenieOS writes it) and ``body``: an
    :class:`floodgate.ErrorBody`, or a mapping from scope name to body
    (default: GenieOS's per-workspace body for ``workspace``, its per-key
    body for every other scope). ``scope_name`` is the scope a KeyedLimiter
    or Limiter reports. ``request_id`` names the request in the body;
    ``wall_clock`` gives the Unix time in ns that ``X-RateLimit-Reset``
    counts from. Non-HTTP traffic (lifespan, websockets) passes through.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: KeyedLimiter | Policy | Limiter | Plans,
        *,
        key: KeyFunction = client_ip,
        keys: KeysFunction | None = None,
        plan: PlanFunction | None = None,
        suspensions: Suspensions | None = None,
        cost: int | CostFunction = 1,
        scope_name: str = "key",
        headers: Headers | None = None,
        body: ErrorBody | Mapping[str, ErrorBody] | None = None,
        request_id: Callable[[Scope], str] = request_id_from_header,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if not isinstance(limiter, (KeyedLimiter, Policy, Limiter, Plans)):
            raise TypeError(
                "limiter must be a floodgate.KeyedLimiter, Policy, Limiter or Plans, "
                f"got {type(limiter).__name__}"
            )
        if isinstance(limiter, Plans) and not callable(plan):
            raise TypeError("a Plans needs plan=, a function of the ASGI scope giving (tier, key, workspace)")
        if plan is not None and not isinstance(limiter, Plans):
            raise TypeError("plan= is for a Plans")
        if suspensions is not None:
            if not isinstance(suspensions, Suspensions):
                raise TypeError(f"suspensions must be a floodgate.Suspensions, got {type(suspensions).__name__}")
            if not isinstance(limiter, (KeyedLimiter, Plans)):
                raise TypeError("suspensions= is for a KeyedLimiter or Plans; give a Policy a Suspensions layer")
        if isinstance(limiter, Policy) and not callable(keys):
            raise TypeError("a Policy needs keys=, a function of the ASGI scope giving one key per layer")
        if keys is not None and not isinstance(limiter, Policy):
            raise TypeError("keys= is for a Policy; a KeyedLimiter or Limiter takes key=")
        if not callable(key):
            raise TypeError("key must be a function of the ASGI scope")
        if not callable(cost) and (not isinstance(cost, int) or isinstance(cost, bool) or cost < 0):
            raise ValueError(f"cost must be a non-negative int or a function of the scope, got {cost!r}")
        if body is not None and not isinstance(body, (ErrorBody, Mapping)):
            raise TypeError("body must be a floodgate.ErrorBody or a mapping of scope name to ErrorBody")
        self.app = app
        self.limiter = limiter
        self.key = key
        self.keys = keys
        self.plan = plan
        self.suspensions = suspensions
        self.cost = cost
        self.scope_name = scope_name
        self.headers = Headers() if headers is None else headers
        self.bodies: Mapping[str, ErrorBody] = (
            {"workspace": ErrorBody.genieos_workspace()}
            if body is None
            else body
            if isinstance(body, Mapping)
            else {}
        )
        self.default_body = body if isinstance(body, ErrorBody) else ErrorBody.genieos_key()
        self.request_id = request_id
        self.wall_clock = wall_clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        checked = self._check(scope)
        if checked is None:
            await self.app(scope, receive, send)
            return
        decision, scope_name = checked
        if decision.outcome == Outcome.SUSPENDED:
            await self._forbid(scope, send, decision, scope_name)
            return
        if decision.limit == UNLIMITED:
            await self.app(scope, receive, send)
            return
        fields = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.headers.render(decision, scope_name, self.wall_clock())
        ]
        if not decision.admitted:
            await self._reject(scope, send, decision, scope_name, fields)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *fields]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _check(self, scope: Scope) -> tuple[Decision, str] | None:
        """The decision for this request and the scope it came from, or None
        for a request without a key."""
        limiter = self.limiter
        if isinstance(limiter, Plans):
            assert self.plan is not None  # checked in __init__
            planned = self.plan(scope)
            if planned is None:
                return None
            tier, api_key, workspace = planned
            suspended = self._suspended(api_key)
            if suspended is not None:
                return suspended
            verdict = limiter.check(tier, api_key, workspace, self._cost(scope))
            return verdict.decision, verdict.scope
        if isinstance(limiter, Policy):
            assert self.keys is not None  # checked in __init__
            keys = self.keys(scope)
            if keys is None:
                return None
            verdict = limiter.check(keys, self._cost(scope))
            return verdict.decision, verdict.scope
        key = self.key(scope)
        if key is None:
            return None
        if isinstance(limiter, KeyedLimiter):
            suspended = self._suspended(key)
            if suspended is not None:
                return suspended
            return limiter.check(key, self._cost(scope)), self.scope_name
        return limiter.check(self._cost(scope)), self.scope_name

    def _suspended(self, key: Key) -> tuple[Decision, str] | None:
        """The SUSPENDED decision for ``key`` if ``suspensions`` holds it."""
        if self.suspensions is None:
            return None
        decision = self.suspensions.check(key)
        return None if decision is None else (decision, "key")

    def _cost(self, scope: Scope) -> int:
        return self.cost(scope) if callable(self.cost) else self.cost

    async def _reject(
        self,
        scope: Scope,
        send: Send,
        decision: Decision,
        scope_name: str,
        fields: list[tuple[bytes, bytes]],
    ) -> None:
        template = self.bodies.get(scope_name, self.default_body)
        body = template.render(decision, scope_name, self.request_id(scope)).encode()
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

    async def _forbid(self, scope: Scope, send: Send, decision: Decision, scope_name: str) -> None:
        """403 for a suspended key: not a rate limit, so no X-RateLimit-*."""
        timed = decision.retry_after_ns > 0
        body = json.dumps(
            {
                "error": {
                    "type": "suspended",
                    "code": f"{scope_name}_suspended",
                    "message": f"This {scope_name} is suspended.",
                    "retry_after_seconds": decision.retry_after_ns / 1e9 if timed else None,
                    "request_id": self.request_id(scope),
                }
            }
        ).encode()
        fields = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if timed:
            fields.append((b"retry-after", str(-(-decision.retry_after_ns // 10**9)).encode()))
        await send({"type": "http.response.start", "status": 403, "headers": fields})
        await send({"type": "http.response.body", "body": body})
