"""WSGI middleware (Flask, Bottle, Falcon, any WSGI app): rate-limit every
request by a key, with the options and defaults of :mod:`floodgate.asgi`::

    from flask import Flask
    from floodgate import KeyedLimiter, Quota
    from floodgate.wsgi import RateLimitMiddleware

    app = Flask(__name__)
    app.wsgi_app = RateLimitMiddleware(app.wsgi_app, KeyedLimiter(Quota.parse("5/minute")[0]))

Key functions take the WSGI ``environ``; the default key is the client
address (``REMOTE_ADDR``, IPv6 grouped by ``ipv6_prefix``). A refused
request never reaches the app: it gets the 429 (or 403 for a suspended key,
400 for a request without a usable key under ``on_bad_key="reject"``) that
the ASGI middleware sends, with the same header fields and body. Under
several gunicorn workers, give the limiter ``shared="name"`` so that they
enforce one limit together (see :mod:`floodgate.asgi`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from types import TracebackType
from typing import Any, Optional, Union

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
from floodgate.asgi import OnBadKey
from floodgate.gate import DEFAULT_IPV6_PREFIX, Gate, Key, Refusal, fresh_request_id
from floodgate.responses import Preset, Responses, StandardHeaders
from floodgate.routes import StateAttributes, mark_refused, record, recorded, was_refused

__all__ = ["RateLimitMiddleware", "client_ip", "header", "request_id_from_header"]

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, Optional[TracebackType]]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
KeyFunction = Callable[[Environ], Union[Key, None]]


def client_ip(environ: Environ) -> str | None:
    """The peer address the server saw (behind a proxy, use a header key)."""
    address = environ.get("REMOTE_ADDR")
    return str(address) if address else None


def header(name: str) -> Callable[[Environ], str | None]:
    """A key function reading request header ``name`` (say ``"x-api-key"``);
    None (a missing key) for requests without it or with it empty."""
    variable = "HTTP_" + name.upper().replace("-", "_")

    def key(environ: Environ) -> str | None:
        return environ.get(variable) or None

    return key


_CLIENT_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


def request_id_from_header(environ: Environ) -> str:
    """``X-Request-Id`` when the client sent a usable one, else a fresh ``req_`` id."""
    value = environ.get("HTTP_X_REQUEST_ID")
    if isinstance(value, str) and _CLIENT_REQUEST_ID.fullmatch(value):
        return value
    return fresh_request_id()


def status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


class RateLimitMiddleware:
    """Checks each request before the WSGI app sees it; the options are
    those of :class:`floodgate.asgi.RateLimitMiddleware`, with functions of
    the WSGI environ."""

    def __init__(
        self,
        app: WSGIApp,
        limiter: KeyedLimiter | Policy | RedisLayers | LeasedLayers | LeasedLimiter | Limiter | Plans,
        *,
        key: KeyFunction | None = None,
        keys: Callable[[Environ], Union[Sequence[Union[Key, None]], None]] | None = None,
        plan: Callable[[Environ], Union[tuple[Union[int, str], Union[str, bytes], int], None]] | None = None,
        suspensions: Suspensions | None = None,
        cost: int | Callable[[Environ], int] = 1,
        scope_name: str = "key",
        preset: Preset = "standard",
        standard_headers: StandardHeaders | None = None,
        legacy_headers: bool = True,
        headers: Headers | None = None,
        body: ErrorBody | Mapping[str, ErrorBody] | None = None,
        policies: Mapping[str, RateLimitPolicy] | None = None,
        request_id: Callable[[Environ], str] = request_id_from_header,
        wall_clock: Callable[[], int] = time.time_ns,
        on_bad_key: OnBadKey = "fallback",
        fallback_key: KeyFunction | None = None,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
        on_error: Callable[[Exception, Environ], None] | None = None,
    ) -> None:
        self.app = app
        self.gate: Gate[Environ] = Gate(
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

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        # Stacked middlewares answer with one set of fields: each records its
        # admission; the outermost adds the most restrictive one's, or none
        # when an inner one refused (its refusal carries its own).
        holder = StateAttributes(environ.setdefault("floodgate.state", {}))
        outermost = recorded(holder) is None
        answer = self.gate.answer(environ)
        if isinstance(answer, Refusal):
            mark_refused(holder)
            start_response(status_line(answer.status), answer.headers)
            return [answer.body]
        record(holder, answer)
        if not outermost:
            return self.app(environ, start_response)

        def start_with_headers(status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None) -> Any:
            kept = recorded(holder)
            fields = kept.fields if kept is not None and not was_refused(holder) else []
            return start_response(status, [*headers, *fields], exc_info)

        return self.app(environ, start_with_headers)
