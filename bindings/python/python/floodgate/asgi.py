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

import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, Literal, NamedTuple, Union, cast

from floodgate._floodgate import (
    MAX_KEY_LEN,
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
    return f"req_{uuid.uuid4().hex}"


def _usable(key: object, *, bytes_only: bool = False) -> bool:
    """Whether ``key`` is one the limiter takes (``bytes_only``: str or bytes,
    as a Plans API key). A bad key is the client's doing, not an error."""
    if isinstance(key, str):
        try:
            key = key.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 form
            return False
    if isinstance(key, bytes):
        return 0 < len(key) <= MAX_KEY_LEN
    if bytes_only or isinstance(key, bool) or not isinstance(key, int):
        return False
    return 0 <= key < 2**64


class _NoUsableKey(Exception):
    """A request with no usable key (raised and caught inside the middleware)."""


class RateLimitMiddleware:
    """Checks each HTTP request before the app sees it.

    ``limiter`` is one of:

    * a :class:`floodgate.KeyedLimiter`: each request is charged to the
      bucket of the key ``key`` picks from its scope (default: the client
      IP), so clients are limited independently;
    * a :class:`floodgate.Policy`: ``keys`` picks one key per layer, every
      layer must admit, and ``X-RateLimit-Scope`` names the layer that
      decided (``key``, ``workspace``...);
    * a :class:`floodgate.Limiter`: one bucket shared by every request, a
      global cap (``key`` then only matters with ``on_bad_key="reject"``,
      which refuses requests without a usable one);
    * a :class:`floodgate.Plans`: ``plan`` gives each request its
      ``(tier, api_key, workspace)`` and ``X-RateLimit-Scope`` is ``key`` or
      ``workspace``.

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
        on_bad_key: OnBadKey = "fallback",
        fallback_key: KeyFunction = client_ip,
        on_error: ErrorHook | None = None,
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
        if on_bad_key not in ("fallback", "reject"):
            raise ValueError(f"on_bad_key must be 'fallback' or 'reject', got {on_bad_key!r}")
        if not callable(fallback_key):
            raise TypeError("fallback_key must be a function of the ASGI scope")
        if on_error is not None and not callable(on_error):
            raise TypeError("on_error must be a function of (exception, scope)")
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
        self.on_bad_key = on_bad_key
        self.fallback_key = fallback_key
        self.on_error = on_error
        self.keyed = limiter.keyed if isinstance(limiter, Policy) else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            answer = self._answer(scope)
        except _NoUsableKey:
            answer = _refusal(scope, "invalid_key", "The request has no usable key.")
        except Exception as error:  # any failure: the request gets a 400, on_error the error
            self._report(error, scope)
            answer = _refusal(scope, "invalid_request", "The request could not be checked against its rate limit.")
        if isinstance(answer, _Response):
            await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
            await send({"type": "http.response.body", "body": answer.body})
            return
        fields = answer

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *fields]}
            await send(message)

        await self.app(scope, receive, send_with_headers if fields else send)

    def _answer(self, scope: Scope) -> _Response | list[tuple[bytes, bytes]]:
        """The response for a refused request, else the header fields an
        admitted one carries (none when an unlimited tier admitted it).
        Raises _NoUsableKey, or whatever a check or the application's
        functions raise: everything that can fail happens here, before any
        byte is sent."""
        decision, scope_name = self._check(scope)
        if decision.outcome == Outcome.SUSPENDED:
            return self._forbidden(scope, decision, scope_name)
        if decision.limit == UNLIMITED:
            return []
        fields = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.headers.render(decision, scope_name, self.wall_clock())
        ]
        if not decision.admitted:
            return self._too_many(scope, decision, scope_name, fields)
        return fields

    def _report(self, error: Exception, scope: Scope) -> None:
        """Tells on_error; a hook that raises must not make the middleware raise."""
        if self.on_error is None:
            return
        try:
            self.on_error(error, scope)
        except Exception:  # nothing left to tell: the request is answered all the same
            pass

    def _attempt(self, pick: Callable[[Scope], Any], scope: Scope) -> Any:
        """``pick(scope)``, or None (reported) if it raises."""
        try:
            return pick(scope)
        except Exception as error:  # a key function that raises is a missing key
            self._report(error, scope)
            return None

    def _repair(self, key: object, scope: Scope, *, bytes_only: bool = False) -> Key:
        """``key`` when usable, else the fallback key; raises _NoUsableKey
        when rejecting or when the fallback is no better."""
        if _usable(key, bytes_only=bytes_only):
            return key  # type: ignore[return-value]  # _usable checked the type
        if self.on_bad_key == "reject":
            raise _NoUsableKey
        fallback = self._attempt(self.fallback_key, scope)
        if _usable(fallback, bytes_only=bytes_only):
            return fallback  # type: ignore[no-any-return]  # _usable checked the type
        raise _NoUsableKey

    def _check(self, scope: Scope) -> tuple[Decision, str]:
        """The decision for this request and the scope it came from."""
        limiter = self.limiter
        if isinstance(limiter, Plans):
            assert self.plan is not None  # checked in __init__
            planned = self._attempt(self.plan, scope)
            # Without a plan there is no tier to charge: refused, never unlimited.
            if not isinstance(planned, (tuple, list)) or len(planned) != 3:
                if planned is not None:
                    self._report(TypeError(f"plan(scope) must return (tier, key, workspace), got {planned!r}"), scope)
                raise _NoUsableKey
            tier, given_key, workspace = planned
            # bytes_only: the repaired key is a str or bytes.
            api_key = cast(Union[str, bytes], self._repair(given_key, scope, bytes_only=True))
            # A workspace id is an int: the fallback key cannot stand in for it.
            if isinstance(workspace, bool) or not isinstance(workspace, int) or not 0 <= workspace < 2**64:
                raise _NoUsableKey
            suspended = self._suspended(api_key)
            if suspended is not None:
                return suspended
            verdict = limiter.check(tier, api_key, workspace, self._cost(scope))
            return verdict.decision, verdict.scope
        if isinstance(limiter, Policy):
            assert self.keys is not None  # checked in __init__
            given = self._attempt(self.keys, scope)
            listed = isinstance(given, (list, tuple)) and len(given) == len(self.keyed)
            if not listed and given is not None:
                self._report(TypeError(f"keys(scope) must return one key per layer ({len(self.keyed)})"), scope)
            # No list at all is every keyed layer's key missing.
            keys = [
                self._repair(given[i] if listed else None, scope) if keyed else None
                for i, keyed in enumerate(self.keyed)
            ]
            verdict = limiter.check(keys, self._cost(scope))
            return verdict.decision, verdict.scope
        if isinstance(limiter, KeyedLimiter):
            key = self._repair(self._attempt(self.key, scope), scope)
            suspended = self._suspended(key)
            if suspended is not None:
                return suspended
            return limiter.check(key, self._cost(scope)), self.scope_name
        # One bucket for all: a key is needed only to refuse requests without one.
        if self.on_bad_key == "reject":
            self._repair(self._attempt(self.key, scope), scope)
        return limiter.check(self._cost(scope)), self.scope_name

    def _suspended(self, key: Key) -> tuple[Decision, str] | None:
        """The SUSPENDED decision for ``key`` if ``suspensions`` holds it."""
        if self.suspensions is None:
            return None
        decision = self.suspensions.check(key)
        return None if decision is None else (decision, "key")

    def _cost(self, scope: Scope) -> int:
        return self.cost(scope) if callable(self.cost) else self.cost

    def _too_many(
        self,
        scope: Scope,
        decision: Decision,
        scope_name: str,
        fields: list[tuple[bytes, bytes]],
    ) -> _Response:
        template = self.bodies.get(scope_name, self.default_body)
        body = template.render(decision, scope_name, self.request_id(scope)).encode()
        return _Response(429, [*fields, *_json_fields(body)], body)

    def _forbidden(self, scope: Scope, decision: Decision, scope_name: str) -> _Response:
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
        fields = _json_fields(body)
        if timed:
            fields.append((b"retry-after", str(-(-decision.retry_after_ns // 10**9)).encode()))
        return _Response(403, fields, body)


class _Response(NamedTuple):
    """A response the middleware sends itself: the app never sees the request."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _json_fields(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]


def _refusal(scope: Scope, code: str, message: str) -> _Response:
    """400 for a request that could not be checked: refused, never let through.
    Raises nothing (the application's request-id function may be what failed)."""
    error = {"type": "invalid_request", "code": code, "message": message, "request_id": request_id_from_header(scope)}
    body = json.dumps({"error": error}).encode()
    return _Response(400, _json_fields(body), body)
