"""What a client reads from a decision: header values and the JSON error body.

Formatting rules (from the GenieOS rate-limit page, shared/seeds/001):
``Retry-After`` in fractional seconds like ``0.6`` or in whole seconds, both
rounded *up* so a denied client never reads 0; ``X-RateLimit-Reset`` as an
ISO-8601 UTC timestamp, rounded up to the second.
"""

from __future__ import annotations

import datetime
import json

_NS_PER_MS = 1_000_000
_NS_PER_SECOND = 1_000_000_000


def retry_after_value(retry_after_ns: int, *, fractional: bool) -> str:
    """``Retry-After`` for a wait of ``retry_after_ns``: milliseconds or whole
    seconds, rounded up (33_333_334 ns reads ``0.034`` or ``1``)."""
    if not fractional:
        return str(-(-retry_after_ns // _NS_PER_SECOND))
    millis = -(-retry_after_ns // _NS_PER_MS)
    seconds, rest = divmod(millis, 1000)
    return f"{seconds}.{rest:03d}".rstrip("0").rstrip(".") if rest else str(seconds)


def reset_timestamp(wall_clock_s: float, reset_after_ns: int) -> str:
    """``X-RateLimit-Reset``: the UTC time the bucket is full again, rounded
    up to the second (``2026-04-20T12:34:00Z``)."""
    wall_ns = int(wall_clock_s * _NS_PER_SECOND) + reset_after_ns
    seconds = -(-wall_ns // _NS_PER_SECOND)
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def error_body(
    *, error_type: str, code: str, message: str, retry_after: str | None, request_id: str
) -> bytes:
    """The GenieOS JSON error body; ``retry_after_seconds`` is the number the
    ``Retry-After`` header carries, or null when no wait would help."""
    payload = {
        "error": {
            "type": error_type,
            "code": code,
            "message": message,
            "retry_after_seconds": None if retry_after is None else json.loads(retry_after),
            "request_id": request_id,
        }
    }
    return json.dumps(payload, separators=(",", ":")).encode()
