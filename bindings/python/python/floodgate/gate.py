"""The decision every floodgate integration makes for a request, framework-free.

A :class:`Gate` takes a request of any framework (an ASGI scope, a WSGI
environ, a Django or Starlette request) and the functions that read it, and
answers either a :class:`Refusal` (429, 403 or 400, sent instead of the
app's response) or the header fields an admitted response carries. The ASGI,
WSGI and Django middleware and the per-route limiter all decide through it,
so they share one bad-key rule, one header format and one body.

Client addresses as keys are grouped by :func:`client_key`: an IPv6 address
is charged to its /56 (``ipv6_prefix``), since one subscriber usually holds
a whole prefix and could otherwise rotate through fresh buckets.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypeVar, Union, cast

from floodgate._floodgate import (
    MAX_KEY_LEN,
    Decision,
    KeyedLimiter,
    LeasedLayers,
    LeasedLimiter,
    Limiter,
    Outcome,
    Plans,
    Policy,
    Quota,
    RateLimitPolicy,
    RedisLayers,
    Suspensions,
)
from floodgate.responses import Responses

Request = TypeVar("Request")

LAYERED = (Policy, RedisLayers, LeasedLayers)
"""The limiters checked with one key per layer."""

Key = Union[str, bytes, int]
"""What a key function returns: the bucket a request is charged to."""

UNLIMITED = 2**64 - 1
"""The limit of a decision no limit applies to (an unlimited plan tier)."""

DEFAULT_IPV6_PREFIX = 56
"""The IPv6 prefix length client addresses are grouped by."""

Field = tuple[str, str]


def client_key(address: str | None, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str | None:
    """The key of a client address: an IPv4 address as is, an IPv6 address
    as its ``/ipv6_prefix`` network (``2001:db8:0:100::/56``); anything that
    is no address (a Unix socket path...) as is, None as None."""
    if address is None:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:  # an IPv4 client of a dual-stack socket
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, ipv6_prefix), strict=False))
    return str(parsed)


def fresh_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def usable(key: object, *, bytes_only: bool = False) -> bool:
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


class NoUsableKey(Exception):
    """A request with no usable key (raised and caught inside the gate)."""


class Refusal(NamedTuple):
    """A response the integration sends itself: the app never sees the request."""

    status: int
    headers: list[Field]
    body: bytes


def json_fields(body: bytes) -> list[Field]:
    return [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]


def bad_request(code: str, message: str, request_id: str) -> Refusal:
    """400 for a request that could not be checked: refused, never let through."""
    error = {"type": "invalid_request", "code": code, "message": message, "request_id": request_id}
    body = json.dumps({"error": error}).encode()
    return Refusal(400, json_fields(body), body)


class Admitted(NamedTuple):
    """An admitted request: its decision, the header fields its response
    carries, and what it was charged (the keys, one per layer of a Policy,
    and the cost), so a caller can refund it."""

    decision: Decision
    fields: list[Field]
    keys: list[Key | None]
    cost: int


class Checked(NamedTuple):
    """A decision, the scope it came from and what the check charged."""

    decision: Decision
    scope: str
    keys: list[Key | None]
    cost: int


class Gate(Generic[Request]):
    """Checks requests of one framework against one limiter.

    ``limiter`` is a :class:`floodgate.KeyedLimiter` (``key`` picks each
    request's bucket; default: the client address), a :class:`floodgate.Policy`
    (``keys`` picks one key per layer), a :class:`floodgate.Limiter` (one
    bucket for all) or a :class:`floodgate.Plans` (``plan`` gives
    ``(tier, api_key, workspace)``). ``client_address`` reads the peer
    address of a request in this framework.

    A key problem (None, an empty, oversized or non-UTF-8 key, a wrong
    type, a key function that raises) is charged to ``fallback_key`` (the
    client address by default) in its place, or answered 400 with
    ``on_bad_key="reject"``; any other failure while deciding is a 400 too,
    and ``on_error(exception, request)`` hears of each exception absorbed.
    ``responses`` renders the header fields and 429 bodies; ``policies``
    names, per scope, the :class:`floodgate.RateLimitPolicy` the IETF fields
    advertise for a Policy or Plans (a KeyedLimiter or Limiter advertises
    its own quota).
    """

    def __init__(
        self,
        limiter: KeyedLimiter | Policy | RedisLayers | LeasedLayers | LeasedLimiter | Limiter | Plans,
        *,
        client_address: Callable[[Request], str | None],
        key: Callable[[Request], Key | None] | None = None,
        keys: Callable[[Request], Sequence[Key | None] | None] | None = None,
        plan: Callable[[Request], tuple[int | str, str | bytes, int] | None] | None = None,
        suspensions: Suspensions | None = None,
        cost: int | Callable[[Request], int] = 1,
        scope_name: str = "key",
        responses: Responses,
        policies: Mapping[str, RateLimitPolicy] | None = None,
        request_id: Callable[[Request], str],
        wall_clock: Callable[[], int],
        on_bad_key: str = "fallback",
        fallback_key: Callable[[Request], Key | None] | None = None,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
        on_error: Callable[[Exception, Request], None] | None = None,
    ) -> None:
        if not isinstance(limiter, (KeyedLimiter, Policy, RedisLayers, LeasedLayers, LeasedLimiter, Limiter, Plans)):
            raise TypeError(
                "limiter must be a floodgate.KeyedLimiter, Policy, Limiter or Plans "
                "(or a RedisLayers, LeasedLayers or LeasedLimiter), "
                f"got {type(limiter).__name__}"
            )
        if isinstance(limiter, Plans) and not callable(plan):
            raise TypeError("a Plans needs plan=, a function of the request giving (tier, key, workspace)")
        if plan is not None and not isinstance(limiter, Plans):
            raise TypeError("plan= is for a Plans")
        if suspensions is not None:
            if not isinstance(suspensions, Suspensions):
                raise TypeError(f"suspensions must be a floodgate.Suspensions, got {type(suspensions).__name__}")
            if not isinstance(limiter, (KeyedLimiter, Plans)):
                raise TypeError("suspensions= is for a KeyedLimiter or Plans; give a Policy a Suspensions layer")
        if isinstance(limiter, LAYERED) and not callable(keys):
            raise TypeError("a Policy needs keys=, a function of the request giving one key per layer")
        if keys is not None and not isinstance(limiter, LAYERED):
            raise TypeError("keys= is for a Policy; a KeyedLimiter or Limiter takes key=")
        if key is not None and not callable(key):
            raise TypeError("key must be a function of the request")
        if not callable(cost) and (not isinstance(cost, int) or isinstance(cost, bool) or cost < 0):
            raise ValueError(f"cost must be a non-negative int or a function of the request, got {cost!r}")
        if on_bad_key not in ("fallback", "reject"):
            raise ValueError(f"on_bad_key must be 'fallback' or 'reject', got {on_bad_key!r}")
        if fallback_key is not None and not callable(fallback_key):
            raise TypeError("fallback_key must be a function of the request")
        if on_error is not None and not callable(on_error):
            raise TypeError("on_error must be a function of (exception, request)")
        if isinstance(ipv6_prefix, bool) or not isinstance(ipv6_prefix, int) or not 0 <= ipv6_prefix <= 128:
            raise ValueError(f"ipv6_prefix must be an int from 0 to 128, got {ipv6_prefix!r}")
        self.limiter = limiter
        self.client_address = client_address

        def client(request: Request) -> str | None:
            return client_key(client_address(request), ipv6_prefix)

        self.key = client if key is None else key
        self.keys = keys
        self.plan = plan
        self.suspensions = suspensions
        self.cost = cost
        self.scope_name = scope_name
        self.responses = responses
        self.policies: Mapping[str, RateLimitPolicy] = {} if policies is None else policies
        self.request_id = request_id
        self.wall_clock = wall_clock
        self.on_bad_key = on_bad_key
        self.fallback_key = client if fallback_key is None else fallback_key
        self.on_error = on_error
        self.keyed = limiter.keyed if isinstance(limiter, LAYERED) else []

    def answer(self, request: Request) -> Refusal | Admitted:
        """The refusal for a refused request, else the admission (with no
        header fields when an unlimited tier admitted it). Raises nothing:
        a failure is a 400."""
        try:
            return self._answer(request)
        except NoUsableKey:
            return bad_request("invalid_key", "The request has no usable key.", self._safe_request_id(request))
        except Exception as error:  # any failure: the request gets a 400, on_error the error
            self.report(error, request)
            return bad_request(
                "invalid_request",
                "The request could not be checked against its rate limit.",
                self._safe_request_id(request),
            )

    def _safe_request_id(self, request: Request) -> str:
        """The request id, or a fresh one when the application's function fails."""
        try:
            return str(self.request_id(request))
        except Exception:  # the request-id function may be what failed
            return fresh_request_id()

    def _answer(self, request: Request) -> Refusal | Admitted:
        decision, scope_name, keys, cost = self.check(request)
        if decision.outcome == Outcome.SUSPENDED:
            return self._forbidden(request, decision, scope_name)
        if decision.limit == UNLIMITED:
            return Admitted(decision, [], keys, cost)
        fields = self.responses.fields(decision, scope_name, self._advertised(scope_name), self.wall_clock())
        if not decision.admitted:
            body = self.responses.body(decision, scope_name, self.request_id(request))
            return Refusal(429, [*fields, *json_fields(body)], body)
        return Admitted(decision, fields, keys, cost)

    def _advertised(self, scope_name: str) -> Quota | RateLimitPolicy | None:
        """What the IETF fields advertise for a decision from ``scope_name``."""
        if isinstance(self.limiter, (KeyedLimiter, LeasedLimiter, Limiter)):
            return self.limiter.quota
        return self.policies.get(scope_name)

    def report(self, error: Exception, request: Request) -> None:
        """Tells on_error; a hook that raises must not make the gate raise."""
        if self.on_error is None:
            return
        try:
            self.on_error(error, request)
        except Exception:  # nothing left to tell: the request is answered all the same
            pass

    def _attempt(self, pick: Callable[[Request], Any], request: Request) -> Any:
        """``pick(request)``, or None (reported) if it raises."""
        try:
            return pick(request)
        except Exception as error:  # a key function that raises is a missing key
            self.report(error, request)
            return None

    def repair(self, key: object, request: Request, *, bytes_only: bool = False) -> Key:
        """``key`` when usable, else the fallback key; raises NoUsableKey
        when rejecting or when the fallback is no better."""
        if usable(key, bytes_only=bytes_only):
            return key  # type: ignore[return-value]  # usable checked the type
        if self.on_bad_key == "reject":
            raise NoUsableKey
        fallback = self._attempt(self.fallback_key, request)
        if usable(fallback, bytes_only=bytes_only):
            return fallback  # type: ignore[no-any-return]  # usable checked the type
        raise NoUsableKey

    def check(self, request: Request) -> Checked:
        """The decision for this request, the scope it came from and what it charged."""
        limiter = self.limiter
        if isinstance(limiter, Plans):
            assert self.plan is not None  # checked in __init__
            planned = self._attempt(self.plan, request)
            # Without a plan there is no tier to charge: refused, never unlimited.
            if not isinstance(planned, (tuple, list)) or len(planned) != 3:
                if planned is not None:
                    self.report(TypeError(f"plan(request) must return (tier, key, workspace), got {planned!r}"), request)
                raise NoUsableKey
            tier, given_key, workspace = planned
            # bytes_only: the repaired key is a str or bytes.
            api_key = cast(Union[str, bytes], self.repair(given_key, request, bytes_only=True))
            # A workspace id is an int: the fallback key cannot stand in for it.
            if isinstance(workspace, bool) or not isinstance(workspace, int) or not 0 <= workspace < 2**64:
                raise NoUsableKey
            suspended = self._suspended(api_key)
            if suspended is not None:
                return suspended
            cost = self.cost_of(request)
            verdict = limiter.check(tier, api_key, workspace, cost)
            return Checked(verdict.decision, verdict.scope, [api_key], cost)
        if isinstance(limiter, LAYERED):
            keys = self._policy_keys(request)
            cost = self.cost_of(request)
            verdict = limiter.check(keys, cost)
            return Checked(verdict.decision, verdict.scope, keys, cost)
        if isinstance(limiter, (KeyedLimiter, LeasedLimiter)):
            # A leased limit's keys are Redis keys: str or bytes.
            bytes_only = isinstance(limiter, LeasedLimiter)
            key = self.repair(self._attempt(self.key, request), request, bytes_only=bytes_only)
            suspended = self._suspended(key)
            if suspended is not None:
                return suspended
            cost = self.cost_of(request)
            return Checked(limiter.check(key, cost), self.scope_name, [key], cost)
        # One bucket for all: a key is needed only to refuse requests without one.
        if self.on_bad_key == "reject":
            self.repair(self._attempt(self.key, request), request)
        cost = self.cost_of(request)
        return Checked(limiter.check(cost), self.scope_name, [], cost)

    def _policy_keys(self, request: Request) -> list[Key | None]:
        """One usable key per keyed layer of the Policy (None for the others)."""
        assert self.keys is not None  # checked in __init__
        given = self._attempt(self.keys, request)
        listed = isinstance(given, (list, tuple)) and len(given) == len(self.keyed)
        if not listed and given is not None:
            self.report(TypeError(f"keys(request) must return one key per layer ({len(self.keyed)})"), request)
        # No list at all is every keyed layer's key missing.
        return [
            self.repair(given[i] if listed else None, request) if keyed else None
            for i, keyed in enumerate(self.keyed)
        ]

    def _suspended(self, key: Key) -> Checked | None:
        """The SUSPENDED decision for ``key`` if ``suspensions`` holds it."""
        if self.suspensions is None:
            return None
        decision = self.suspensions.check(key)
        return None if decision is None else Checked(decision, "key", [key], 0)

    def cost_of(self, request: Request) -> int:
        return self.cost(request) if callable(self.cost) else self.cost

    def _forbidden(self, request: Request, decision: Decision, scope_name: str) -> Refusal:
        """403 for a suspended key: not a rate limit, so no X-RateLimit-*."""
        timed = decision.retry_after_ns > 0
        body = json.dumps(
            {
                "error": {
                    "type": "suspended",
                    "code": f"{scope_name}_suspended",
                    "message": f"This {scope_name} is suspended.",
                    "retry_after_seconds": decision.retry_after_ns / 1e9 if timed else None,
                    "request_id": self.request_id(request),
                }
            }
        ).encode()
        fields = json_fields(body)
        if timed:
            fields.append(("Retry-After", str(-(-decision.retry_after_ns // 10**9))))
        return Refusal(403, fields, body)
