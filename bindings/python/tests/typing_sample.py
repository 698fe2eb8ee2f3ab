"""Usage that mypy --strict must accept (tests/test_stubs.py); never run by pytest."""

import datetime

import floodgate


def admitted_after_burst() -> bool:
    clock = floodgate.ManualClock()
    limiter = floodgate.Limiter(floodgate.Quota.per_second(30, burst=60), clock=clock)
    decision: floodgate.Decision = limiter.check(cost=1, now_ns=None)
    remaining: int = decision.remaining
    wait: float | None = decision.retry_after
    clock.advance(datetime.timedelta(seconds=1))
    limiter.reconfigure(floodgate.Quota(600, 60.0, burst=remaining + 1))
    return decision.outcome == floodgate.Outcome.ADMITTED and wait is None
