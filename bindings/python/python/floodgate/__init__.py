"""floodgate: lock-free GCRA rate limiting for Python services.

Every bucket is one atomic word in Rust, updated by compare-and-swap, so a
check is safe from any number of threads and costs well under a microsecond.

>>> import floodgate
>>> limiter = floodgate.Limiter(floodgate.Quota.per_second(30, burst=60))
>>> decision = limiter.check()
>>> decision.admitted, decision.limit, decision.remaining
(True, 60, 59)

One bucket per key (str, bytes or int), and layers checked together:

>>> per_key = floodgate.KeyedLimiter(floodgate.Quota.per_second(30, burst=60))
>>> per_key.check("gos_live_a").remaining
59
>>> workspaces = floodgate.KeyedWindows(600, 60)
>>> policy = floodgate.Policy([("key", per_key), ("workspace", workspaces)])
>>> verdict = policy.check(["gos_live_a", 42])
>>> verdict.admitted, verdict.scope, verdict.decision.remaining
(True, 'key', 58)

Limits can be written as text: ``Quota.parse("5/minute;100/hour")``.
Framework integrations: :mod:`floodgate.asgi` (any ASGI app),
:mod:`floodgate.wsgi` (Flask and any WSGI app), :mod:`floodgate.fastapi`
(per-route limits for FastAPI and Starlette), :mod:`floodgate.django`
(per-view limits and a middleware); :mod:`floodgate.responses` holds the
header and body formats they share (standard by default, GenieOS and
Clarifai as presets).
"""

from floodgate import _floodgate
from floodgate._floodgate import *  # noqa: F403

# The package exports what its extension module exports, which the stub
# lists; `+= submodule.__all__` is the form type checkers follow.
__all__ = []
__all__ += _floodgate.__all__
