"""Per-route limits for FastAPI and Starlette: ``@limiter.limit("5/minute")``.

::

    from fastapi import FastAPI, Request
    from floodgate.fastapi import RateLimiter

    app = FastAPI()
    limiter = RateLimiter()  # keyed by client address, IPv6 by /56
    limiter.install(app)

    @app.get("/search")
    @limiter.limit("5/minute;100/hour")
    async def search(q: str) -> dict[str, str]:
        return {"q": q}

:class:`RateLimiter` is named apart from the engine's
:class:`floodgate.Limiter` (one token bucket): it holds the per-route limits
of an application. Each :meth:`RateLimiter.limit` is a set of limits in
the notation of :meth:`floodgate.Quota.parse`, checked together as one
:class:`floodgate.Policy` (a refusal charges none of them) and reported as
one set of header fields: the most restrictive limit's. Endpoints may be
sync or async, take a ``Request`` or not (the decorator asks FastAPI for
one); a plain Starlette endpoint takes its request as usual.

Options per limit: ``key_func`` (the request's key; default: the limiter's),
``methods`` (only those HTTP methods are limited), ``cost`` (units per
request, or a function of the request) and ``deduct_when`` (a function of
the response: when it returns False the request's charge is refunded, so
``deduct_when=lambda response: response.status_code >= 400`` counts only
failed requests). :meth:`RateLimiter.dependency` is the same check as a
FastAPI dependency (``Depends(limiter.dependency("5/minute"))``).

``default_limits`` apply to every route without limits of its own, except
those marked :meth:`RateLimiter.exempt`; :meth:`RateLimiter.install` adds
the middleware that applies them and the handler that answers a
dependency's refusal with floodgate's body. Refusals and keys follow the
ASGI middleware's rules (:mod:`floodgate.asgi`): 429 with ``Retry-After``
in whole seconds, a bad key charged to the client address (or 400 with
``on_bad_key="reject"``), the formats of :mod:`floodgate.responses`.

Under several worker processes (``uvicorn --workers N``, gunicorn),
``RateLimiter(shared="myapp")`` keeps every limit in shared memory, so the
workers enforce each limit together rather than N times over: each limit
gets its own segment, ``myapp.<route>.<i>`` (see
:class:`floodgate.routes.RouteLimiter`).
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, Union, cast

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from floodgate.asgi import run_admitted
from floodgate.gate import Admitted, Field, Key, Refusal, fresh_request_id
from floodgate.routes import EXEMPT, RouteLimit, RouteLimiter, was_refused

__all__ = ["RateLimitExceeded", "RateLimiter"]

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
KeyFunc = Callable[[Request], Union[Key, None]]

_LIMITS_ATTRIBUTE = "__floodgate_limits__"
_REQUEST_PARAMETER = "floodgate_request"
_RESPONSE_PARAMETER = "floodgate_response"


def client_address(request: Request) -> str | None:
    """The peer address the server saw (behind a proxy, use a header key)."""
    return None if request.client is None else request.client.host


def _request_id(request: Request) -> str:
    return request.headers.get("x-request-id") or fresh_request_id()


class RateLimitExceeded(HTTPException):
    """A dependency's refusal: answered with floodgate's status, header
    fields and body once :meth:`RateLimiter.install` is called (else with
    Starlette's ``{"detail": ...}`` body and the same status and fields)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.status, detail=refusal.body.decode(), headers=dict(refusal.headers))
        self.refusal = refusal


def _response_of(refusal: Refusal) -> Response:
    return Response(refusal.body, refusal.status, headers=dict(refusal.headers))


class RateLimiter(RouteLimiter[Request]):
    """The per-route limits of one application (see the module docs); the
    options are :class:`floodgate.routes.RouteLimiter`'s. ``default_limits``
    apply once :meth:`install` is called."""

    client_address = staticmethod(client_address)
    request_id = staticmethod(_request_id)

    @staticmethod
    def state(request: Request) -> Any:
        return request.state

    def limit(
        self,
        limits: str,
        *,
        key_func: KeyFunc | None = None,
        methods: Iterable[str] | None = None,
        cost: int | Callable[[Request], int] = 1,
        deduct_when: Callable[[Response], bool] | None = None,
    ) -> Callable[[Endpoint], Endpoint]:
        """Limits an endpoint: ``limits`` such as ``"5/minute;100/hour"``
        (raises FloodgateError for bad notation, at decoration)."""
        route = self.route_limit(limits, key_func, methods, cost, deduct_when)

        def decorate(endpoint: Endpoint) -> Endpoint:
            wrapped = _wrap(endpoint, route)
            setattr(wrapped, _LIMITS_ATTRIBUTE, [*getattr(endpoint, _LIMITS_ATTRIBUTE, []), route])
            return cast(Endpoint, wrapped)

        return decorate

    def dependency(
        self,
        limits: str,
        *,
        key_func: KeyFunc | None = None,
        methods: Iterable[str] | None = None,
        cost: int | Callable[[Request], int] = 1,
    ) -> Callable[[Request, Response], Awaitable[None]]:
        """The limits as a FastAPI dependency: ``Depends(limiter.dependency("5/minute"))``.
        A refusal raises :class:`RateLimitExceeded`; an admission sets the
        header fields on the response."""
        route = self.route_limit(limits, key_func, methods, cost)

        async def check(request: Request, response: Response) -> None:
            if not route.applies_to(request.method):
                return
            answer = route.answer(request)
            if isinstance(answer, Refusal):
                raise RateLimitExceeded(answer)
            _set_fields(response, answer.fields)

        return check

    def install(self, app: Any) -> None:
        """Answers :class:`RateLimitExceeded` with floodgate's body and, with
        ``default_limits``, applies them to every route without its own
        limits that is not :meth:`exempt`."""
        app.add_exception_handler(RateLimitExceeded, _exceeded)
        if self.default is not None:
            app.add_middleware(_DefaultLimits, route=self.default)


async def _exceeded(request: Request, error: Exception) -> Response:
    return _response_of(cast(RateLimitExceeded, error).refusal)


def _set_fields(response: Response, fields: list[Field]) -> None:
    """Sets rate-limit fields on a response, replacing any an inner limit set."""
    for name, value in fields:
        response.headers[name] = value


def _wrap(endpoint: Callable[..., Any], route: RouteLimit[Request]) -> Callable[..., Any]:
    """``endpoint`` checked against ``route`` first, its response given the
    header fields of the most restrictive limit of the request."""
    signature = inspect.signature(endpoint)
    # FastAPI injects one parameter annotated Request and one annotated
    # Response, whatever their names: reuse the endpoint's (or an inner
    # limit's) when it has them, else ask for ours. Starlette passes its
    # request positionally instead.
    request_name = _parameter_of(endpoint, signature, Request)
    carrier_name = _parameter_of(endpoint, signature, Response)
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind)
        for name, kind, present in [
            (_REQUEST_PARAMETER, Request, request_name),
            (_RESPONSE_PARAMETER, Response, carrier_name),
        ]
        if present is None
    ]
    parameters = [*signature.parameters.values(), *added]

    def split(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Request, Response | None]:
        """The request (FastAPI's injected one, or Starlette's positional
        one) and FastAPI's header-carrying response; ours leave kwargs."""
        request = kwargs.get(request_name) if request_name else kwargs.pop(_REQUEST_PARAMETER, None)
        carrier = kwargs.get(carrier_name) if carrier_name else kwargs.pop(_RESPONSE_PARAMETER, None)
        if request is None:
            request = next((arg for arg in [*args, *kwargs.values()] if isinstance(arg, Request)), None)
        if request is None:
            raise TypeError(f"{endpoint.__qualname__} got no Request to rate-limit")
        return request, carrier

    def before(request: Request) -> Refusal | Admitted | None:
        return route.answer(request) if route.applies_to(request.method) else None

    def after(request: Request, answer: Admitted | None, result: Any, carrier: Response | None, outermost: bool) -> Any:
        response = result if isinstance(result, Response) else carrier
        refused_inside = was_refused(request.state)
        if answer is not None:
            # FastAPI's carrier has no status unless the endpoint set one: the route's default, 200.
            status = 200 if response is None or response.status_code is None else response.status_code
            settled = result if isinstance(result, Response) else Response(status_code=status)
            route.settle(request, answer, settled, refused_inside)
        recorded = route.recorded(request)
        if outermost and recorded is not None and response is not None and not refused_inside:
            _set_fields(response, recorded.fields)
        return result

    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def limited_async(*args: Any, **kwargs: Any) -> Any:
            request, carrier = split(args, kwargs)
            outermost = route.recorded(request) is None
            answer = before(request)
            if isinstance(answer, Refusal):
                return _response_of(answer)
            try:
                result = await endpoint(*args, **kwargs)
            except HTTPException as error:
                if answer is not None:
                    route.settle(request, answer, Response(status_code=error.status_code), False)
                raise
            return after(request, answer, result, carrier, outermost)

        limited: Callable[..., Any] = limited_async
    else:

        @functools.wraps(endpoint)
        def limited_sync(*args: Any, **kwargs: Any) -> Any:
            request, carrier = split(args, kwargs)
            outermost = route.recorded(request) is None
            answer = before(request)
            if isinstance(answer, Refusal):
                return _response_of(answer)
            try:
                result = endpoint(*args, **kwargs)
            except HTTPException as error:
                if answer is not None:
                    route.settle(request, answer, Response(status_code=error.status_code), False)
                raise
            return after(request, answer, result, carrier, outermost)

        limited = limited_sync
    limited.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return limited


def _parameter_of(endpoint: Callable[..., Any], signature: inspect.Signature, kind: type) -> str | None:
    """The name of the endpoint's parameter annotated ``kind`` (or a subclass), if any."""
    try:
        hints = typing.get_type_hints(endpoint)
    except Exception:  # unresolvable annotations: read them as written
        hints = {}
    for name, parameter in signature.parameters.items():
        annotation = hints.get(name, parameter.annotation)
        if isinstance(annotation, type) and issubclass(annotation, kind):
            return name
    return None


class _DefaultLimits:
    """Applies the default limits to requests whose route has none of its own."""

    def __init__(self, app: ASGIApp, route: RouteLimit[Request]) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._limited(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        outermost = self.route.recorded(request) is None
        answer = self.route.answer(request)
        if isinstance(answer, Refusal):
            await _response_of(answer)(scope, receive, send)
            return
        await run_admitted(self.app, scope, receive, send, outermost)

    def _limited(self, scope: Scope) -> bool:
        """Whether the route this request matches takes the default limits."""
        for route in getattr(scope["app"], "routes", ()):
            match, _ = route.matches(scope)
            if match == Match.FULL:
                endpoint = getattr(route, "endpoint", None)
                return not (getattr(endpoint, EXEMPT, False) or hasattr(endpoint, _LIMITS_ATTRIBUTE))
        return True
