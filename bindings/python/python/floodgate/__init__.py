"""floodgate: lock-free GCRA rate limiting for Python services.

Every bucket is one atomic word in Rust, updated by compare-and-swap, so a
check is safe from any number of threads and costs well under a microsecond.

>>> import floodgate
>>> limiter = floodgate.Limiter(floodgate.Quota.per_second(30, burst=60))
>>> decision = limiter.check()
>>> decision.admitted, decision.limit, decision.remaining
(True, 60, 59)

The ASGI middleware lives in :mod:`floodgate.asgi`.
"""

from floodgate._floodgate import (
    Decision,
    ErrorBody,
    FloodgateError,
    Headers,
    InFlight,
    KeyedLimiter,
    KeyedWindows,
    Limiter,
    ManualClock,
    Outcome,
    Permit,
    Policy,
    Quota,
    RateLimitPolicy,
    Retry,
    RetryPolicy,
    SlidingWindow,
    Verdict,
    parse_retry_after,
)

__all__ = [
    "Decision",
    "ErrorBody",
    "FloodgateError",
    "Headers",
    "InFlight",
    "KeyedLimiter",
    "KeyedWindows",
    "Limiter",
    "ManualClock",
    "Outcome",
    "Permit",
    "Policy",
    "Quota",
    "RateLimitPolicy",
    "Retry",
    "RetryPolicy",
    "SlidingWindow",
    "Verdict",
    "parse_retry_after",
]
