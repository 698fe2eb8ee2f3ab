"""One route's limits, framework-free: what ``@limit("5/minute;100/hour")``
checks in :mod:`floodgate.fastapi` and :mod:`floodgate.django`.

The limits (in :meth:`floodgate.Quota.parse` notation) are checked together
as one :class:`floodgate.Policy`, so a refusal charges none of them and the
response reports one of them: the one with the fewest requests left, or the
one that refused. When several route limits apply to one request (stacked
decorators, or the ASGI middleware around a limited route),
:meth:`RouteLimit.answer` keeps the most restrictive admission on the
request, and only the outermost layer sends fields: that admission's, or
none when a limit refused the request (its refusal carries its own).
"""

from __future__ import annotations

import os
import pathlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Literal, NamedTuple, Optional, TypeVar, Union

from floodgate._floodgate import ErrorBody, KeyedLimiter, LeasedLayers, Policy, Quota, RateLimitPolicy, RedisLayers
from floodgate.gate import DEFAULT_IPV6_PREFIX, Admitted, Gate, Key, Refusal, Request, client_key
from floodgate.responses import Preset, Responses, StandardHeaders, policy_name

RECORD = "floodgate_admission"
"""The attribute (on the request, or Starlette's request.state) holding the
most restrictive admission of the request so far."""

REFUSED = "floodgate_refused"
"""The attribute set when a floodgate limit refused the request: its
refusal carries its own fields, so no other limit adds any."""


class StateAttributes:
    """A dict read and written as attributes, as Starlette's
    ``request.state`` is: where the floodgate layers of one request meet
    (ASGI's ``scope["state"]``, WSGI's ``environ["floodgate.state"]``)."""

    def __init__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "_state", state)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._state[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._state[name] = value


def record(holder: Any, answer: Admitted) -> None:
    """Keeps ``answer`` on ``holder`` when it is the most restrictive
    admission of the request so far (the fewest requests left)."""
    previous = recorded(holder)
    if previous is None or answer.decision.remaining < previous.decision.remaining:
        setattr(holder, RECORD, answer)


def recorded(holder: Any) -> Admitted | None:
    """The most restrictive admission recorded on ``holder``, if any."""
    return getattr(holder, RECORD, None)


Segment = Union[str, os.PathLike[str]]
"""A shared segment's name, or the path of its file (see ``KeyedLimiter``)."""

StoreMode = Literal["lease", "exact"]
"""How route limits kept in Redis are checked: ``"lease"``, locally from
tokens leased ahead of time (:class:`floodgate.LeasedLayers`), or
``"exact"``, by one script call per request (:class:`floodgate.RedisLayers`)."""


class StoreOptions(NamedTuple):
    """Where a route limit kept in Redis lives: the server's URL, the key
    prefix of its limits, and what the calls wait and answer on failure."""

    url: str | list[str] | tuple[str, ...]
    prefix: str
    deadline: float | None
    on_failure: Literal["open", "closed", "local"] | None
    mode: StoreMode | None = None


def numbered(prefix: Segment, number: int) -> Segment:
    """The segment ``number`` under ``prefix``: ``"<prefix>.<number>"``, a
    name for a name and a path for a path."""
    if isinstance(prefix, str):
        return f"{prefix}.{number}"
    return pathlib.Path(f"{os.fspath(prefix)}.{number}")


def mark_refused(holder: Any) -> None:
    setattr(holder, REFUSED, True)


def was_refused(holder: Any) -> bool:
    return bool(getattr(holder, REFUSED, False))


class RouteLimit(Generic[Request]):
    """Limits checked together for one route.

    ``key_func`` gives a request's key (None: the client address, IPv6
    grouped by ``ipv6_prefix``); ``methods`` limits only those HTTP methods;
    ``cost`` is the units per request or a function of it; ``deduct_when``,
    a function of the response, refunds the charge when it returns False.
    ``state(request)`` is the object the admission is recorded on.
    ``shared``, a segment name or path, puts the limits in shared segments,
    limit ``i`` (in ``limits`` order) in ``"<shared>.<i>"``. ``store``, a
    Redis URL, keeps them in Redis instead (checked together by one
    :class:`floodgate.LeasedLayers`, or :class:`floodgate.RedisLayers` in
    ``"exact"`` mode), limit ``i`` under the key prefix ``"<prefix>.<i>:"``.
    The other options are :class:`floodgate.gate.Gate`'s.
    """

    def __init__(
        self,
        limits: str,
        *,
        key_func: Callable[[Request], Optional[Key]] | None,
        methods: Iterable[str] | None,
        cost: int | Callable[[Request], int],
        deduct_when: Callable[[Any], bool] | None,
        client_address: Callable[[Request], Optional[str]],
        state: Callable[[Request], Any],
        request_id: Callable[[Request], str],
        responses: Responses,
        wall_clock: Callable[[], int],
        on_bad_key: str,
        fallback_key: Callable[[Request], Optional[Key]] | None,
        ipv6_prefix: int,
        on_error: Callable[[Exception, Request], None] | None,
        capacity: int,
        shared: Segment | None,
        store: StoreOptions | None = None,
    ) -> None:
        if key_func is not None and not callable(key_func):
            raise TypeError("key_func must be a function of the request")
        if deduct_when is not None and not callable(deduct_when):
            raise TypeError("deduct_when must be a function of the response")
        quotas = Quota.parse(limits)
        names = [policy_name(quota) for quota in quotas]
        limiter: Policy | RedisLayers | LeasedLayers
        if store is None:
            self.layers = [
                KeyedLimiter(quota, capacity=capacity, shared=None if shared is None else numbered(shared, index))
                for index, quota in enumerate(quotas)
            ]
            limiter = Policy(list(zip(names, self.layers)))
        else:
            prefixes = [f"{store.prefix}.{index}:" for index in range(len(quotas))]
            # A lease is spent locally, so a refund (deduct_when) would be
            # lost behind the fleet's last denial: such routes are exact.
            mode = store.mode or ("lease" if deduct_when is None else "exact")
            if mode == "lease" and deduct_when is not None:
                raise TypeError("deduct_when refunds, which leases cannot take back: give store_mode='exact'")
            kept = LeasedLayers if mode == "lease" else RedisLayers
            limiter = kept(
                list(zip(names, quotas, prefixes)),
                store=store.url,
                deadline=store.deadline,
                on_failure=store.on_failure,
            )
            # The same buckets one by one, for the refunds of `settle` (a
            # refund goes to Redis: leased tokens were charged there).
            self.layers = [
                KeyedLimiter(quota, store=store.url, prefix=prefix, deadline=store.deadline, on_failure=store.on_failure)
                for quota, prefix in zip(quotas, prefixes)
            ]
        self.methods = None if methods is None else frozenset(method.upper() for method in methods)
        self.deduct_when = deduct_when
        self.state = state

        def client(request: Request) -> Key | None:
            return client_key(client_address(request), ipv6_prefix)

        key = client if key_func is None else key_func
        self.gate: Gate[Request] = Gate(
            limiter,
            client_address=client_address,
            keys=lambda request: [key(request)] * len(quotas),
            cost=cost,
            responses=responses,
            policies={name: RateLimitPolicy.from_quota(name, quota) for name, quota in zip(names, quotas)},
            request_id=request_id,
            wall_clock=wall_clock,
            on_bad_key=on_bad_key,
            fallback_key=fallback_key,
            ipv6_prefix=ipv6_prefix,
            on_error=on_error,
        )

    def applies_to(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods

    def answer(self, request: Request) -> Refusal | Admitted:
        """This route's answer, recording an admission on the request when
        it is the most restrictive so far."""
        answer = self.gate.answer(request)
        if isinstance(answer, Admitted):
            record(self.state(request), answer)
        else:
            mark_refused(self.state(request))
        return answer

    def recorded(self, request: Request) -> Admitted | None:
        """The most restrictive admission recorded on the request, if any."""
        return recorded(self.state(request))

    def settle(self, request: Request, answer: Admitted, response: Any, refused_inside: bool) -> None:
        """Refunds the charge when ``deduct_when`` says ``response`` is free,
        or when an inner limit refused the request (``refused_inside``)."""
        if not refused_inside and (self.deduct_when is None or self._deducts(request, response)):
            return
        for layer, key in zip(self.layers, answer.keys):
            assert key is not None  # every layer is keyed
            layer.refund(key, answer.cost)

    def _deducts(self, request: Request, response: Any) -> bool:
        assert self.deduct_when is not None
        try:
            return bool(self.deduct_when(response))
        except Exception as error:  # a failing hook charges, as if it had no opinion
            self.gate.report(error, request)
            return True


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

EXEMPT = "__floodgate_exempt__"
"""The attribute :meth:`RouteLimiter.exempt` sets on an endpoint or view."""


class RouteLimiter(ABC, Generic[Request]):
    """The per-route limits of one application, whatever its framework
    (see :class:`floodgate.fastapi.RateLimiter`, :class:`floodgate.django.RateLimiter`).

    ``key_func(request)`` gives each request's key (default: the client
    address, IPv6 grouped by ``ipv6_prefix``). ``default_limits`` apply to
    routes without limits of their own. ``preset``, ``standard_headers``,
    ``legacy_headers`` and ``body`` choose what a client reads
    (:mod:`floodgate.responses`); ``on_bad_key``, ``fallback_key`` and
    ``on_error`` follow :mod:`floodgate.asgi`. ``capacity`` is the number of
    keys each limit tracks.

    ``shared``, a segment name (str) or path (``os.PathLike``), keeps every
    limit in shared memory, so that the worker processes of a server
    (``uvicorn --workers``, gunicorn) enforce one limit together instead
    of one each. Each limit gets its own segment, ``"<shared>.<route>.<i>"``:
    routes numbered from 0 in the order their limits are declared
    (``default_limits`` first), ``i`` the limit's place in its notation.
    Every worker imports the same application, so every worker numbers
    them alike; a worker that declares a limit differently is refused
    (FloodgateError). Remove the segments (``floodgate.remove_segment``, or
    the files ``/dev/shm/floodgate.<shared>.*``) after changing the limits,
    with every worker stopped.

    ``store``, a Redis URL (or a list of a Redis Cluster's node URLs),
    keeps every limit in Redis instead, so that
    every process on every host enforces one limit, limit ``i`` of route
    ``r`` under the key prefix ``"<store_prefix>.<r>.<i>:"``. By default
    (``store_mode="lease"``, unless a route's ``deduct_when`` asks for
    refunds) each process checks locally, in nanoseconds,
    from tokens it leases from the Redis buckets ahead of time
    (:class:`floodgate.LeasedLayers`): it never admits a request Redis was
    not charged for, and waits for Redis only for a key's first lease or a
    lease spent before its refill landed. ``store_mode="exact"`` checks each
    request in Redis instead, all of a route's limits charged or none, by
    one script (:class:`floodgate.RedisLayers`). ``store_deadline`` bounds each
    check's wait for Redis (seconds, default 5 ms); ``store_on_failure``
    (``"open"``, the default, ``"closed"`` or ``"local"``) answers when
    Redis does not.
    A limit's buckets are read under its quota: change ``store_prefix``
    when changing the limits.
    """

    def __init__(
        self,
        key_func: Callable[[Request], Optional[Key]] | None = None,
        *,
        default_limits: str | None = None,
        preset: Preset = "standard",
        standard_headers: StandardHeaders | None = None,
        legacy_headers: bool = True,
        body: ErrorBody | Mapping[str, ErrorBody] | None = None,
        on_bad_key: str = "fallback",
        fallback_key: Callable[[Request], Optional[Key]] | None = None,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
        on_error: Callable[[Exception, Request], None] | None = None,
        capacity: int = 65_536,
        shared: Segment | None = None,
        wall_clock: Callable[[], int] = time.time_ns,
        store: str | list[str] | tuple[str, ...] | None = None,
        store_prefix: str = "floodgate",
        store_deadline: float | None = None,
        store_on_failure: Literal["open", "closed", "local"] | None = None,
        store_mode: StoreMode | None = None,
    ) -> None:
        if key_func is not None and not callable(key_func):
            raise TypeError("key_func must be a function of the request")
        if shared is not None and not isinstance(shared, (str, os.PathLike)):
            found = type(shared).__name__
            raise TypeError(f"shared must be a segment name (str) or a path (os.PathLike), got {found}")
        if store is not None and not isinstance(store, (str, list, tuple)):
            found = type(store).__name__
            raise TypeError(f"store must be a Redis URL (str) or a list of a Redis Cluster's node URLs, got {found}")
        if store is not None and shared is not None:
            raise TypeError("give either shared= (one machine) or store= (Redis), not both")
        if not isinstance(store_prefix, str):
            raise TypeError(f"store_prefix must be a str, got {type(store_prefix).__name__}")
        if store_mode not in (None, "lease", "exact"):
            raise ValueError(f"store_mode must be 'lease' or 'exact', got {store_mode!r}")
        self.store = (
            None if store is None else StoreOptions(store, store_prefix, store_deadline, store_on_failure, store_mode)
        )
        self.key_func = key_func
        self.responses = Responses(preset, standard_headers=standard_headers, legacy_headers=legacy_headers, body=body)
        self.on_bad_key = on_bad_key
        self.fallback_key = fallback_key
        self.ipv6_prefix = ipv6_prefix
        self.on_error = on_error
        self.capacity = capacity
        self.shared = shared
        self.route_limits = 0  # declared so far: the next one's number
        self.wall_clock = wall_clock
        self.default = None if default_limits is None else self.route_limit(default_limits)

    @staticmethod
    @abstractmethod
    def client_address(request: Request) -> str | None:
        """The peer address the server saw."""

    @staticmethod
    @abstractmethod
    def request_id(request: Request) -> str:
        """The id a refusal's body answers."""

    @staticmethod
    @abstractmethod
    def state(request: Request) -> Any:
        """The object the limits of one request record their answers on."""

    def route_limit(
        self,
        limits: str,
        key_func: Callable[[Request], Optional[Key]] | None = None,
        methods: Iterable[str] | None = None,
        cost: int | Callable[[Request], int] = 1,
        deduct_when: Callable[[Any], bool] | None = None,
    ) -> RouteLimit[Request]:
        """``limits`` (``Quota.parse`` notation) for one route, with this
        application's options."""
        route, self.route_limits = self.route_limits, self.route_limits + 1
        return RouteLimit(
            limits,
            key_func=self.key_func if key_func is None else key_func,
            methods=methods,
            cost=cost,
            deduct_when=deduct_when,
            client_address=self.client_address,
            state=self.state,
            request_id=self.request_id,
            responses=self.responses,
            wall_clock=self.wall_clock,
            on_bad_key=self.on_bad_key,
            fallback_key=self.fallback_key,
            ipv6_prefix=self.ipv6_prefix,
            on_error=self.on_error,
            capacity=self.capacity,
            shared=None if self.shared is None else numbered(self.shared, route),
            store=None if self.store is None else self.store._replace(prefix=f"{self.store.prefix}.{route}"),
        )

    def exempt(self, endpoint: Endpoint) -> Endpoint:
        """Leaves an endpoint (or view) out of ``default_limits``."""
        setattr(endpoint, EXEMPT, True)
        return endpoint
