"""Django: per-view limits (``@limiter.limit("5/minute")``) and a middleware
applying default limits to every other view.

::

    # myapp/limits.py
    from floodgate.django import RateLimiter
    limiter = RateLimiter(default_limits="100/minute")

    # myapp/views.py
    from django.http import HttpResponse
    from myapp.limits import limiter

    @limiter.limit("5/minute;100/hour")
    def search(request):
        return HttpResponse("results")

    # settings.py (only for default_limits)
    MIDDLEWARE = [..., "floodgate.django.RateLimitMiddleware"]
    FLOODGATE_LIMITER = "myapp.limits.limiter"

The options and answers are those of :mod:`floodgate.fastapi` (``key_func``
of the ``HttpRequest``, ``methods``, ``cost``, ``deduct_when`` of the
``HttpResponse``, :meth:`RateLimiter.exempt`), and the defaults, presets and
bad-key rule those of :mod:`floodgate.asgi`. The default key is the client
address (``REMOTE_ADDR``; IPv6 grouped by ``ipv6_prefix``). Sync and async
views are both wrapped in kind. Under several gunicorn workers,
``RateLimiter(shared="myapp")`` makes them enforce each limit together (see
:class:`floodgate.routes.RouteLimiter`).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, Union, cast

from django.conf import settings  # type: ignore[import-untyped]
from django.core.exceptions import PermissionDenied  # type: ignore[import-untyped]
from django.http import Http404, HttpResponse  # type: ignore[import-untyped]
from django.utils.module_loading import import_string  # type: ignore[import-untyped]

from floodgate.gate import Admitted, Key, Refusal, fresh_request_id
from floodgate.routes import EXEMPT, RouteLimit, RouteLimiter, was_refused

__all__ = ["RateLimitMiddleware", "RateLimiter", "client_ip"]

View = TypeVar("View", bound=Callable[..., Any])
HttpRequest = Any
"""django.http.HttpRequest (Django ships no type information)."""
KeyFunc = Callable[[HttpRequest], Union[Key, None]]

_LIMITS_ATTRIBUTE = "floodgate_limits"
_CLIENT_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


def client_ip(request: HttpRequest) -> str | None:
    """The peer address the server saw (behind a proxy, use a header key)."""
    address = request.META.get("REMOTE_ADDR")
    return str(address) if address else None


def _request_id(request: HttpRequest) -> str:
    value = request.headers.get("X-Request-Id")
    if isinstance(value, str) and _CLIENT_REQUEST_ID.fullmatch(value):
        return value
    return fresh_request_id()


def _response_of(refusal: Refusal) -> Any:
    return HttpResponse(refusal.body, status=refusal.status, headers=dict(refusal.headers))


def _set_fields(response: Any, fields: list[tuple[str, str]]) -> None:
    for name, value in fields:
        response[name] = value


def _status_of(error: Exception) -> int:
    """The status Django answers an exception a view raised with."""
    return 404 if isinstance(error, Http404) else 403 if isinstance(error, PermissionDenied) else 500


class RateLimiter(RouteLimiter[HttpRequest]):
    """The per-view limits of a Django project; the options are
    :class:`floodgate.routes.RouteLimiter`'s."""

    client_address = staticmethod(client_ip)
    request_id = staticmethod(_request_id)

    @staticmethod
    def state(request: HttpRequest) -> Any:
        return request

    def limit(
        self,
        limits: str,
        *,
        key_func: KeyFunc | None = None,
        methods: Iterable[str] | None = None,
        cost: int | Callable[[HttpRequest], int] = 1,
        deduct_when: Callable[[Any], bool] | None = None,
    ) -> Callable[[View], View]:
        """Limits a view: ``limits`` such as ``"5/minute;100/hour"``
        (raises FloodgateError for bad notation, at decoration)."""
        route = self.route_limit(limits, key_func, methods, cost, deduct_when)

        def decorate(view: View) -> View:
            wrapped = _wrap(view, route)
            setattr(wrapped, _LIMITS_ATTRIBUTE, True)
            return cast(View, wrapped)

        return decorate


def _wrap(view: Callable[..., Any], route: RouteLimit[HttpRequest]) -> Callable[..., Any]:
    """``view`` checked against ``route`` first, its response given the
    header fields of the most restrictive limit of the request."""

    def before(request: HttpRequest) -> tuple[Refusal | Admitted | None, bool]:
        outermost = route.recorded(request) is None
        return (route.answer(request) if route.applies_to(request.method) else None), outermost

    def after(request: HttpRequest, answer: Admitted | None, response: Any, outermost: bool) -> Any:
        refused_inside = was_refused(request)
        if answer is not None:
            route.settle(request, answer, response, refused_inside)
        recorded = route.recorded(request)
        if outermost and recorded is not None and not refused_inside:
            _set_fields(response, recorded.fields)
        return response

    def failed(request: HttpRequest, answer: Admitted | None, error: Exception) -> None:
        if answer is not None:
            route.settle(request, answer, HttpResponse(status=_status_of(error)), False)

    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def limited_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            answer, outermost = before(request)
            if isinstance(answer, Refusal):
                return _response_of(answer)
            try:
                response = await view(request, *args, **kwargs)
            except Exception as error:
                failed(request, answer, error)
                raise
            return after(request, answer, response, outermost)

        return limited_async

    @functools.wraps(view)
    def limited_sync(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        answer, outermost = before(request)
        if isinstance(answer, Refusal):
            return _response_of(answer)
        try:
            response = view(request, *args, **kwargs)
        except Exception as error:
            failed(request, answer, error)
            raise
        return after(request, answer, response, outermost)

    return limited_sync


class RateLimitMiddleware:
    """Applies ``default_limits`` of the RateLimiter named by the
    ``FLOODGATE_LIMITER`` setting (a dotted path) to every view without
    limits of its own that is not exempt."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        limiter = import_string(settings.FLOODGATE_LIMITER)
        if not isinstance(limiter, RateLimiter):
            raise TypeError("FLOODGATE_LIMITER must name a floodgate.django.RateLimiter")
        self.route = limiter.default

    def __call__(self, request: HttpRequest) -> Any:
        response = self.get_response(request)
        recorded = None if self.route is None else self.route.recorded(request)
        if recorded is not None and not was_refused(request):
            _set_fields(response, recorded.fields)
        return response

    def process_view(self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        route = self.route
        if route is None or getattr(view, EXEMPT, False) or getattr(view, _LIMITS_ATTRIBUTE, False):
            return None
        if not route.applies_to(request.method):
            return None
        answer = route.answer(request)
        return _response_of(answer) if isinstance(answer, Refusal) else None
