"""floodgate next to `limits` and `pyrate-limiter`, same workloads, same run.

Run with ``bindings/python/run-bench.sh`` (builds floodgate in release mode and
installs the pinned peers). Prints a markdown table of nanoseconds per check,
measured from Python: every figure includes the call and the loop around it,
the same for every library.

Workloads, each with a limit of 100 requests per second per key:
  * one key, hammered in a tight loop (after the first 100, nearly all denied);
  * the same through each library's keyed form (floodgate: a str key);
  * 100k keys visited round robin (each key checked far less often than its
    limit allows, so nearly all admitted).

A second table times floodgate's checks called directly, as a request
handler calls them (no wrapper around the call): what the binding itself
costs per check.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import timeit
from collections.abc import Callable

import floodgate

KEYS = 100_000
RATE_PER_SECOND = 100
REPEATS = 5
TARGET_SECONDS = 0.2  # per repeat


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def per_check_ns(check: Callable[[str], object], keys: list[str]) -> float:
    """Best of REPEATS of passes over `keys`, in ns per check."""

    def one_pass() -> None:
        for key in keys:
            check(key)

    one_pass()  # warm up: every key exists before timing starts
    timer = timeit.Timer(one_pass)
    passes = max(1, round(TARGET_SECONDS / max(timer.timeit(1), 1e-9)))
    best = min(timer.repeat(repeat=REPEATS, number=passes))
    return best / (passes * len(keys)) * 1e9


def floodgate_one_key() -> Callable[[str], object]:
    check = floodgate.Limiter(floodgate.Quota.per_second(RATE_PER_SECOND)).check
    return lambda key: check()


def floodgate_keyed(keys: int) -> Callable[[str], object]:
    # About 1.25x the active keys keeps the table's probe windows short.
    limiter = floodgate.KeyedLimiter(
        floodgate.Quota.per_second(RATE_PER_SECOND), capacity=keys * 5 // 4
    )
    check = limiter.check
    return lambda key: check(key)


def peers(keyed: bool) -> list[tuple[str, Callable[[], Callable[[str], object]]]]:
    """The peers for a workload; `keyed` asks for one bucket per key."""
    from limits import RateLimitItemPerSecond
    from limits.storage import MemoryStorage
    from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
    from pyrate_limiter import (
        BucketFactory,
        Duration,
        Limiter,
        MonotonicClock,
        Rate,
        RateItem,
        StateBucket,
        TokenBucket,
        limiter_factory,
    )

    item = RateLimitItemPerSecond(RATE_PER_SECOND)

    class PerKeyBuckets(BucketFactory):
        """pyrate-limiter's in-memory buckets ignore the item name, so one
        bucket per key takes a factory of our own."""

        def __init__(self) -> None:
            self.clock = MonotonicClock()
            self.buckets: dict[str, StateBucket] = {}

        def wrap_item(self, name: str, weight: int = 1) -> RateItem:
            return RateItem(name, self.clock.now(), weight=weight)

        def get(self, item: RateItem) -> StateBucket:
            bucket = self.buckets.get(item.name)
            if bucket is None:
                rates = [Rate(RATE_PER_SECOND, Duration.SECOND)]
                bucket = self.buckets[item.name] = StateBucket(rates, algorithm=TokenBucket())
            return bucket

    def limits_moving() -> Callable[[str], object]:
        hit = MovingWindowRateLimiter(MemoryStorage()).hit
        return lambda key: hit(item, key)

    def limits_fixed() -> Callable[[str], object]:
        hit = FixedWindowRateLimiter(MemoryStorage()).hit
        return lambda key: hit(item, key)

    def pyrate_token_bucket() -> Callable[[str], object]:
        limiter = (
            Limiter(PerKeyBuckets())
            if keyed
            else limiter_factory.create_token_bucket_limiter(RATE_PER_SECOND)
        )
        acquire = limiter.try_acquire
        return lambda key: acquire(key, blocking=False)

    def pyrate_in_memory() -> Callable[[str], object]:
        acquire = limiter_factory.create_inmemory_limiter(RATE_PER_SECOND).try_acquire
        return lambda key: acquire(key, blocking=False)

    chosen = [
        ("limits MemoryStorage moving window", limits_moving),
        ("limits MemoryStorage fixed window", limits_fixed),
        ("pyrate-limiter token bucket (StateBucket)", pyrate_token_bucket),
    ]
    if not keyed:  # one shared bucket whatever the name: no keyed form
        chosen.append(("pyrate-limiter InMemoryBucket", pyrate_in_memory))
    return chosen


def direct_calls() -> list[tuple[str, float]]:
    """floodgate's checks called with no wrapper: best of 7 rounds of
    200,000 calls each, in ns per call."""
    quota = floodgate.Quota.per_second(RATE_PER_SECOND)
    limiter = floodgate.Limiter(quota)
    keyed = floodgate.KeyedLimiter(quota, capacity=1_024)
    calls = [
        ("Limiter.check()", "check()", {"check": limiter.check}),
        ("KeyedLimiter.check(key), a str key", "check(key)", {"check": keyed.check, "key": "api-key-0"}),
        ("KeyedLimiter.check(key), an int key", "check(key)", {"check": keyed.check, "key": 42}),
    ]
    rounds, number = 7, 200_000
    return [
        (name, min(timeit.repeat(statement, globals=names, number=number, repeat=rounds)) / number * 1e9)
        for name, statement, names in calls
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=KEYS, help="keys in the many-key workload")
    options = parser.parse_args()

    one_key = ["api-key-0"] * options.keys
    many_keys = [f"api-key-{index:06d}" for index in range(options.keys)]
    workloads = [
        ("1 key", "floodgate Limiter", floodgate_one_key(), one_key, False),
        ("1 key, keyed", "floodgate KeyedLimiter", floodgate_keyed(1), one_key, True),
        (
            f"{options.keys // 1000}k keys",
            "floodgate KeyedLimiter",
            floodgate_keyed(options.keys),
            many_keys,
            True,
        ),
    ]
    print(f"date: {time.strftime('%Y-%m-%d')}; machine: {os.cpu_count()} cores, {cpu_model()};")
    print(f"python {platform.python_version()}; limit {RATE_PER_SECOND}/s per key; ns per check\n")
    print("| workload | floodgate (ns) | peer | peer (ns) | peer/floodgate |")
    print("|---|---|---|---|---|")
    for workload, ours, check, keys, keyed in workloads:
        ours_ns = per_check_ns(check, keys)
        for peer, build in peers(keyed):
            peer_ns = per_check_ns(build(), keys)
            print(
                f"| {workload} | {ours_ns:.0f} ({ours}) | {peer} | {peer_ns:.0f} "
                f"| {peer_ns / ours_ns:.0f}x |",
                flush=True,
            )
    print("\n| floodgate, called directly | ns per call |\n|---|---|")
    for name, ns in direct_calls():
        print(f"| {name} | {ns:.0f} |", flush=True)


if __name__ == "__main__":
    main()
