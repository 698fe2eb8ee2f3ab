"""Usage that mypy --strict must accept (tests/test_stubs.py); never run by pytest."""

import datetime
import pathlib

import floodgate
from floodgate.fastapi import RateLimiter


def admitted_after_burst() -> bool:
    clock = floodgate.ManualClock()
    limiter = floodgate.Limiter(floodgate.Quota.per_second(30, burst=60), clock=clock)
    decision: floodgate.Decision = limiter.check(cost=1, now_ns=None)
    remaining: int = decision.remaining
    wait: float | None = decision.retry_after
    clock.advance(datetime.timedelta(seconds=1))
    limiter.reconfigure(floodgate.Quota(600, 60.0, burst=remaining + 1))
    return decision.outcome == floodgate.Outcome.ADMITTED and wait is None


def layered_check(api_key: str, workspace: int) -> tuple[bool, str, float | None]:
    clock = floodgate.ManualClock()
    keys = floodgate.KeyedLimiter(
        floodgate.Quota.per_second(30, burst=60, lockout=5.0),
        capacity=100_000,
        on_full="overflow",
        max_overrides=1_000,
        clock=clock,
    )
    keys.set_quota(b"vip", floodgate.Quota.per_second(120))
    workspaces = floodgate.KeyedLimiter(floodgate.Quota.per_minute(600), clock=clock)
    global_cap = floodgate.SlidingWindow(6_000, 60, clock=clock)
    policy = floodgate.Policy(
        [("key", keys), ("workspace", workspaces)],
        shadow=[("global", global_cap)],
    )
    verdict: floodgate.Verdict = policy.check([api_key, workspace, None], cost=1)
    counts: dict[str, int] = policy.counters()
    decision = verdict.decision
    warn: bool = decision.in_warning_zone(percent=25) or counts["denied"] > 0
    return verdict.admitted and not warn, verdict.scope, decision.retry_after


def suspended_then_reserved() -> float:
    limiter = floodgate.Limiter(floodgate.Quota.per_second(10))
    limiter.suspend_for(datetime.timedelta(seconds=1))
    limiter.suspend_until(None)
    limiter.lift_suspension()
    reserved = limiter.reserve(1, max_wait=0.5)
    return reserved.delay if reserved.outcome != floodgate.Outcome.SUSPENDED else 0.0


def retry_waits(header: str | None) -> list[float]:
    retry = floodgate.RetryPolicy(0.25, 2, 5, 4.0, jitter="full", seed=7).start()
    waits: list[float] = []
    server_says = None if header is None else floodgate.parse_retry_after(header)
    while (wait := retry.next_delay(server_says)) is not None:
        waits.append(wait)
    backoff = floodgate.RetryPolicy.genieos().with_jitter("none").backoff(retry.retries)
    return waits if backoff is None else [*waits, backoff]


def plan_tiers(api_key: str, workspace: int) -> tuple[bool, str, int | None]:
    plans = floodgate.Plans.genieos(key_capacity=1024)
    custom = floodgate.Plans(
        datetime.timedelta(minutes=1),
        {"free": (floodgate.Quota.per_second(1), None), "open": (None, None)},
    )
    hobby = plans.tier("hobby")
    verdict = plans.check("hobby" if hobby is None else hobby, api_key, workspace, cost=2)
    plans.reconfigure_tier("pro", floodgate.Quota.per_second(100, burst=200), 3000)
    counts: dict[str, int] = plans.counters("hobby")
    return bool(custom.check("free", api_key.encode(), workspace)), verdict.scope, counts.get("denied")


def suspended_or_batched(key: str) -> int:
    suspensions = floodgate.Suspensions(1_000)
    suspensions.suspend_for(key, 3600.0)
    suspensions.suspend_until(7, None)
    decision = suspensions.check(key)
    suspensions.lift(key)
    policy = floodgate.Policy([("suspension", suspensions)])
    batches = floodgate.KeyedInFlight(4, 10_000)
    permit = batches.try_acquire(key)
    if permit is not None:
        with permit:
            pass
    held = batches.in_flight(key) + len(policy)
    return held if decision is None else decision.retry_after_ns


def shared_by_workers(name: str, directory: pathlib.Path) -> tuple[bool, int]:
    quota = floodgate.Quota.per_second(30, burst=60)
    per_key = floodgate.KeyedLimiter(quota, shared=name, shared_wait=datetime.timedelta(seconds=2))
    total = floodgate.Limiter(quota, shared=directory / "total.seg", shared_wait=0.5)
    policy = floodgate.Policy([("key", per_key), ("total", total)])
    routes = RateLimiter(shared=name, default_limits="100/minute")
    floodgate.remove_segment(name)
    floodgate.remove_segment(directory / "total.seg")
    return per_key.is_shared and total.is_shared and routes.shared is not None, policy.now_ns()
