"""What a rate-limited client reads: header fields and the 429 body, by preset.

Every floodgate integration (ASGI, WSGI, Django, per-route limits) renders
through a :class:`Responses`, so they answer alike. The default preset,
``"standard"``, writes what common HTTP clients and other rate limiters
expect:

* ``Retry-After`` in whole seconds, rounded up (never 0): the only form
  RFC 9110 defines, and the one urllib3's ``Retry`` (so ``requests``) reads;
* ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
  in Unix epoch seconds (as GitHub, express-rate-limit and Flask-Limiter
  send it), unless ``legacy_headers=False``;
* the IETF draft fields, derived from the limit itself
  (:meth:`floodgate.RateLimitPolicy.from_quota`: ``q`` is the burst, ``w``
  the time an empty bucket takes to refill), in the draft picked by
  ``standard_headers``: ``"draft-8"`` (default; ``RateLimit-Policy:
  "5-per-60s";q=5;w=60`` and ``RateLimit: "5-per-60s";r=4;t=12``),
  ``"draft-7"`` (``RateLimit: limit=5, remaining=4, reset=12``),
  ``"draft-6"`` (``RateLimit-Limit``, ``RateLimit-Remaining``,
  ``RateLimit-Reset``) or False (none);
* a neutral JSON body: ``{"error": {"type": "rate_limit_exceeded", "code":
  "rate_limited", "message": "Too many requests. Retry after 12s.",
  "retry_after_seconds": 12, "request_id": "req_..."}}``.

Named presets give other services' formats, one option each:

* ``"genieos"``: ``Retry-After`` with one decimal, ``X-RateLimit-Reset`` in
  ISO-8601, ``X-RateLimit-Scope``, and GenieOS's per-key / per-workspace
  bodies ("API key exceeded its rate limit...");
* ``"clarifai"``: the standard headers with Clarifai's body
  (``{"status": {"code": 11005, "description": "Making too many requests",
  ...}}``).

>>> from floodgate import KeyedLimiter, Quota
>>> from floodgate.responses import Responses
>>> limiter = KeyedLimiter(Quota.per_minute(5))
>>> for _ in range(5):
...     _ = limiter.check("203.0.113.7")
>>> denied = limiter.check("203.0.113.7")
>>> fields = dict(Responses().fields(denied, "ip", limiter.quota, now_unix_ns=1_700_000_000_000_000_000))
>>> fields["Retry-After"], fields["X-RateLimit-Limit"], fields["X-RateLimit-Reset"]
('12', '5', '1700000060')
>>> fields["RateLimit-Policy"], fields["RateLimit"]
('"5-per-60s";q=5;w=60', '"5-per-60s";r=0;t=60')
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Literal

from floodgate._floodgate import Decision, ErrorBody, Headers, Quota, RateLimitPolicy

Preset = Literal["standard", "genieos", "clarifai"]
"""A named set of header and body formats."""

StandardHeaders = Literal["draft-6", "draft-7", "draft-8", False]
"""Which IETF RateLimit header draft to send, or False for none."""

Field = tuple[str, str]

_STANDARD_BODY = ErrorBody.genieos("rate_limited", "Too many requests. Retry after {retry_after}s.")
_CLARIFAI_BODY = (
    ErrorBody.clarifai("exceeded limit of {limit} requests per second")
    .with_numeric_code(11005)
    .with_description("Making too many requests")
)
_POLICY_FIELD = re.compile(r";q=(\d+);w=(\d+)\Z")
_STATE_FIELD = re.compile(r";r=(\d+);t=(\d+)\Z")


def policy_name(quota: Quota) -> str:
    """The name a quota is advertised under: ``<burst>-per-<w>s``."""
    match = _POLICY_FIELD.search(RateLimitPolicy.from_quota("", quota).field)
    assert match is not None  # the engine's field ends in ;q=..;w=..
    return f"{match[1]}-per-{match[2]}s"


class Responses:
    """Renders the header fields and 429 body of a decision.

    ``preset`` picks the formats (``"standard"``, ``"genieos"`` or
    ``"clarifai"``, see the module docs). ``standard_headers`` picks the
    IETF draft (default: ``"draft-8"`` for the standard and Clarifai presets,
    none for GenieOS); ``legacy_headers`` turns the ``X-RateLimit-*`` fields
    off. ``body`` replaces the preset's 429 body: an
    :class:`floodgate.ErrorBody`, or a mapping from scope name to body.
    ``headers`` (a :class:`floodgate.Headers`) renders the header fields
    in place of the preset's, in the engine's own formats.
    """

    def __init__(
        self,
        preset: Preset = "standard",
        *,
        standard_headers: StandardHeaders | None = None,
        legacy_headers: bool = True,
        body: ErrorBody | Mapping[str, ErrorBody] | None = None,
        headers: Headers | None = None,
    ) -> None:
        if preset not in ("standard", "genieos", "clarifai"):
            raise ValueError(f"preset must be 'standard', 'genieos' or 'clarifai', got {preset!r}")
        if standard_headers is None:
            standard_headers = False if preset == "genieos" else "draft-8"
        if standard_headers not in ("draft-6", "draft-7", "draft-8", False):
            raise ValueError(f"standard_headers must be 'draft-6', 'draft-7', 'draft-8' or False, got {standard_headers!r}")
        if headers is not None and not isinstance(headers, Headers):
            raise TypeError(f"headers must be a floodgate.Headers, got {type(headers).__name__}")
        if body is not None and not isinstance(body, (ErrorBody, Mapping)):
            raise TypeError("body must be a floodgate.ErrorBody or a mapping of scope name to ErrorBody")
        self.preset = preset
        self.standard_headers = standard_headers
        self.legacy_headers = legacy_headers
        self._genieos = preset == "genieos"
        # The engine writes Retry-After (and, for GenieOS, X-RateLimit-*);
        # the epoch reset and the IETF fields are composed here.
        self.headers = headers
        self._engine_headers = (
            Headers(legacy=legacy_headers) if self._genieos else Headers(retry_after_decimals=None, legacy=False)
        )
        preset_bodies: Mapping[str, ErrorBody] = {"workspace": ErrorBody.genieos_workspace()} if self._genieos else {}
        preset_body = {"standard": _STANDARD_BODY, "genieos": ErrorBody.genieos_key(), "clarifai": _CLARIFAI_BODY}[preset]
        if not self._genieos:
            preset_body = preset_body.with_retry_after_decimals(None)
        self.bodies: Mapping[str, ErrorBody] = (
            preset_bodies if body is None else body if isinstance(body, Mapping) else {}
        )
        self.default_body = body if isinstance(body, ErrorBody) else preset_body

    def fields(
        self,
        decision: Decision,
        scope: str,
        limit: Quota | RateLimitPolicy | None = None,
        now_unix_ns: int | None = None,
    ) -> list[Field]:
        """The header fields for ``decision`` from layer ``scope``. ``limit``
        (the quota that decided, or its policy) is what the IETF fields
        advertise; without it they are left out. ``now_unix_ns`` is the
        wall-clock time ``X-RateLimit-Reset`` counts from (default: now)."""
        now = time.time_ns() if now_unix_ns is None else now_unix_ns
        if self.headers is not None:
            return list(self.headers.render(decision, scope, now))
        fields: list[Field] = list(self._engine_headers.render(decision, scope, now))
        if self.legacy_headers and not self._genieos:
            reset = -(-(now + decision.reset_after_ns) // 1_000_000_000)
            fields += [
                ("X-RateLimit-Limit", str(decision.limit)),
                ("X-RateLimit-Remaining", str(decision.remaining)),
                ("X-RateLimit-Reset", str(reset)),
            ]
        if self.standard_headers and limit is not None:
            fields += self._standard_fields(decision, scope, limit, now)
        return fields

    def _standard_fields(self, decision: Decision, scope: str, limit: Quota | RateLimitPolicy, now: int) -> list[Field]:
        policy = RateLimitPolicy.from_quota(policy_name(limit), limit) if isinstance(limit, Quota) else limit
        # The engine derives q, w, r and t; the older drafts lay out the same numbers.
        rendered = dict(Headers(retry_after_decimals=None, policy=policy, legacy=False).render(decision, scope, now))
        if self.standard_headers == "draft-8":
            return [("RateLimit-Policy", rendered["RateLimit-Policy"]), ("RateLimit", rendered["RateLimit"])]
        quota_match = _POLICY_FIELD.search(rendered["RateLimit-Policy"])
        state_match = _STATE_FIELD.search(rendered["RateLimit"])
        assert quota_match is not None and state_match is not None  # the engine's field forms
        (q, w), (r, t) = quota_match.groups(), state_match.groups()
        if self.standard_headers == "draft-7":
            return [("RateLimit-Policy", f"{q};w={w}"), ("RateLimit", f"limit={q}, remaining={r}, reset={t}")]
        return [
            ("RateLimit-Policy", f"{q};w={w}"),
            ("RateLimit-Limit", q),
            ("RateLimit-Remaining", r),
            ("RateLimit-Reset", t),
        ]

    def body(self, decision: Decision, scope: str, request_id: str) -> bytes:
        """The JSON 429 body for ``decision`` from layer ``scope``."""
        return self.bodies.get(scope, self.default_body).render(decision, scope, request_id).encode()

