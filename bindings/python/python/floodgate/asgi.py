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
``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (Unix epoch seconds) and
the IETF draft ``RateLimit-Policy`` / ``RateLimit`` fields of the limit that
decided (for a policy, the layer with the fewest requests left, or the one
that refused). A refused request never reaches the app: it gets ``429 Too
Many Requests`` with ``Retry-After`` in whole seconds and a neutral JSON
body. ``preset="genieos"`` or ``preset="clarifai"`` switch to those
services' formats; :mod:`floodgate.responses` lists every option.

Where the client address is the key (the default), an IPv6 address is
charged to its /56 network (``ipv6_prefix``).

Under several worker processes (``uvicorn --workers N``, gunicorn), each
worker has its own limiter, so a client gets N times the limit; a limiter
built ``shared="name"`` (every kind takes it: :class:`floodgate.KeyedLimiter`,
:class:`floodgate.Limiter`, :class:`floodgate.KeyedWindows`,
:class:`floodgate.SlidingWindow`, :class:`floodgate.Plans`,
:class:`floodgate.Suspensions`, :class:`floodgate.InFlight`,
:class:`floodgate.KeyedInFlight`, and a Policy of shared layers) keeps its
state in one shared-memory segment that every worker maps, and the limit
holds across them::

    per_key = KeyedLimiter(Quota.per_second(30, burst=60), shared="myapp-keys")
    plans = Plans.genieos(shared="myapp-plans")
    suspensions = Suspensions(1_000, shared="myapp-suspended")

No request makes the middleware raise, answer 5xx or skip its limit. A key
problem (a key function returning None, an empty, oversized or non-UTF-8
key, a key of the wrong type, or a key function that raises) is charged to
the fallback key instead (``fallback_key``, the client address by
default), or answered ``400`` with ``{"error": {"type": "invalid_request",
"code": "invalid_key", ...}}`` when ``on_bad_key="reject"``; any other
failure while deciding (a cost function that raises...) is answered ``400``
with code ``invalid_request``. ``on_error`` is told of each exception the
middleware absorbed.

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

import re
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, Literal, Union

from floodgate._floodgate import (
    ErrorBody,
    Headers,
    KeyedLimiter,
    LeasedLayers,
    LeasedLimiter,
    Limiter,
    Plans,
    Policy,
    RateLimitPolicy,
    RedisLayers,
    Suspensions,
)
from floodgate.gate import DEFAULT_IPV6_PREFIX, UNLIMITED, Gate, Key, Refusal, fresh_request_id
from floodgate.routes import StateAttributes, mark_refused, record, recorded, was_refused
from floodgate.responses import Preset, Responses, StandardHeaders

__all__ = [
    "UNLIMITED",
    "Key",
    "RateLimitMiddleware",
    "client_ip",
    "header",
    "path",
    "request_id_from_header",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KeyFunction = Callable[[Scope], Union[Key, None]]
"""Picks a request's key from its ASGI scope; None is a missing key (see
``on_bad_key``)."""

KeysFunction = Callable[[Scope], Union[Sequence[Union[Key, None]], None]]
"""Picks a request's key for every layer of a Policy (None for an unkeyed
layer); returning None instead of a list is every keyed layer's key missing."""

PlanFunction = Callable[[Scope], Union[tuple[Union[int, str], Union[str, bytes], int], None]]
"""Gives a request's ``(tier, api_key, workspace)`` for Plans: the tier's
index or name, the key (str or bytes) and the workspace id (int). None (no
tier to charge) is answered 400."""

CostFunction = Callable[[Scope], int]

OnBadKey = Literal["fallback", "reject"]
"""What a key problem gets: the fallback key in its place, or a 400 answer."""

ErrorHook = Callable[[Exception, Scope], None]
"""Told of each exception the middleware absorbed, with the request's scope."""


def client_ip(scope: Scope) -> str | None:
    """The peer address the server saw (behind a proxy, use a header key)."""
    client = scope.get("client")
    return None if client is None else str(client[0])


def path(scope: Scope) -> str:
    """The request path: one bucket per endpoint."""
    return str(scope["path"])


def header(name: str) -> Callable[[Scope], bytes | None]:
    """A key function reading request header ``name`` (say ``"x-api-key"``);
    None (a missing key) for requests without it or with it empty."""
    wanted = name.lower().encode("latin-1")

    def key(scope: Scope) -> bytes | None:
        for field, value in scope.get("headers", ()):
            if field == wanted:
                return bytes(value) or None  # an empty header is no key
        return None

    return key


_CLIENT_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,128}")
"""A request id a client may choose: 1 to 128 printable ASCII characters."""


def request_id_from_header(scope: Scope) -> str:
    """``X-Request-Id`` when the client sent a usable one, else a fresh ``req_`` id."""
    value = header("x-request-id")(scope)
    if value is not None and _CLIENT_REQUEST_ID.fullmatch(value):
        return value.decode("ascii")
    return fresh_request_id()


class RateLimitMiddleware:
    """Checks each HTTP request before the app sees it.

    ``limiter`` is one of:

    * a :class:`floodgate.KeyedLimiter`: each request is charged to the
      bucket of the key ``key`` picks from its scope (default: the client
      address, IPv6 grouped by ``ipv6_prefix``), so clients are limited
      independently;
    * a :class:`floodgate.Policy`: ``keys`` picks one key per layer, every
      layer must admit, and the response reports the layer that decided (a
      :class:`floodgate.RedisLayers` likewise, its layers kept in Redis);
    * a :class:`floodgate.Limiter`: one bucket shared by every request, a
      global cap (``key`` then only matters with ``on_bad_key="reject"``,
      which refuses requests without a usable one);
    * a :class:`floodgate.Plans`: ``plan`` gives each request its
      ``(tier, api_key, workspace)``.

    ``suspensions`` (a :class:`floodgate.Suspensions`, with a KeyedLimiter
    or Plans) is checked with the request's key first: a suspended key gets
    403 and charges nothing. With a Policy, make it a layer instead.

    A key problem (None, an empty, oversized or non-UTF-8 key, a wrong
    type, a key function that raises) is charged to ``fallback_key`` (the
    client address by default) in its place, or answered 400 with
    ``on_bad_key="reject"``; for Plans, a ``plan`` of None (no tier) or a
    bad workspace id is answered 400. Any other failure while deciding is a
    400 too, and ``on_error(exception, scope)`` hears of each exception
    absorbed. ``cost`` is the units each request charges, or a function of
    the scope.

    What the client reads: ``preset`` (``"standard"``, ``"genieos"``,
    ``"clarifai"``), ``standard_headers`` (the IETF draft, or False),
    ``legacy_headers`` (X-RateLimit-*), ``body`` (an
    :class:`floodgate.ErrorBody`, or a mapping from scope name to body) and
    ``headers`` (a :class:`floodgate.Headers` rendering the fields in place
    of the preset's); see :mod:`floodgate.responses`. ``policies`` maps a
    Policy's or Plans' scope names to the :class:`floodgate.RateLimitPolicy`
    the IETF fields advertise. ``scope_name`` is the scope a KeyedLimiter
    or Limiter reports. ``request_id`` names the request in the body;
    ``wall_clock`` gives the Unix time in ns that ``X-RateLimit-Reset``
    counts from. Non-HTTP traffic (lifespan, websockets) passes through.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: KeyedLimiter | Policy | RedisLayers | LeasedLayers | LeasedLimiter | Limiter | Plans,
        *,
        key: KeyFunction | None = None,
        keys: KeysFunction | None = None,
        plan: PlanFunction | None = None,
        suspensions: Suspensions | None = None,
        cost: int | CostFunction = 1,
        scope_name: str = "key",
        preset: Preset = "standard",
        standard_headers: StandardHeaders | None = None,
        legacy_headers: bool = True,
        headers: Headers | None = None,
        body: ErrorBody | Mapping[str, ErrorBody] | None = None,
        policies: Mapping[str, RateLimitPolicy] | None = None,
        request_id: Callable[[Scope], str] = request_id_from_header,
        wall_clock: Callable[[], int] = time.time_ns,
        on_bad_key: OnBadKey = "fallback",
        fallback_key: KeyFunction | None = None,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
        on_error: ErrorHook | None = None,
    ) -> None:
        self.app = app
        self.gate: Gate[Scope] = Gate(
            limiter,
            client_address=client_ip,
            key=key,
            keys=keys,
            plan=plan,
            suspensions=suspensions,
            cost=cost,
            scope_name=scope_name,
            responses=Responses(
                preset, standard_headers=standard_headers, legacy_headers=legacy_headers, body=body, headers=headers
            ),
            policies=policies,
            request_id=request_id,
            wall_clock=wall_clock,
            on_bad_key=on_bad_key,
            fallback_key=fallback_key,
            ipv6_prefix=ipv6_prefix,
            on_error=on_error,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder = scope_state(scope)
        outermost = recorded(holder) is None
        answer = self.gate.answer(scope)
        if isinstance(answer, Refusal):
            mark_refused(holder)
            await send({"type": "http.response.start", "status": answer.status, "headers": encoded(answer.headers)})
            await send({"type": "http.response.body", "body": answer.body})
            return
        record(holder, answer)
        await run_admitted(self.app, scope, receive, send, outermost)


def scope_state(scope: Scope) -> StateAttributes:
    """``scope["state"]`` as attributes, as Starlette's ``request.state``."""
    return StateAttributes(scope.setdefault("state", {}))


async def run_admitted(app: ASGIApp, scope: Scope, receive: Receive, send: Send, outermost: bool) -> None:
    """Runs ``app`` for an admitted request, whose admission is recorded.
    The outermost floodgate layer of the request (the first to record one)
    adds the fields of the most restrictive admission (none if an inner
    limit refused it); inner layers only record theirs."""
    holder = scope_state(scope)
    if not outermost:
        await app(scope, receive, send)
        return

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = recorded(holder)
            if kept is not None and kept.fields and not was_refused(holder):
                message = {**message, "headers": [*message.get("headers", ()), *encoded(kept.fields)]}
        await send(message)

    await app(scope, receive, send_with_headers)


def encoded(fields: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Header fields as ASGI sends them: lower-case latin-1 bytes."""
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in fields]
