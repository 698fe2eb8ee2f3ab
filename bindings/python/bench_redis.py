"""floodgate's Redis store next to `limits`' Redis storage, one server, one run.

Run with ``scripts/bench-redis-peers.sh`` (it starts a redis-server on a
free 127.0.0.1 port and passes its URL), or ``bench_redis.py redis://...``
from the bench venv (``run-bench.sh`` installs the pinned peers). Every
limiter gets a quota no bench key exhausts, so every call is a round trip
that charges. Rows: one caller's p50 / p99 latency, then checks per second
from 1, 8 and 64 threads, each thread on a key of its own (floodgate waits
without the GIL; redis-py's socket reads release it too).

`limits` 5.8 strategies measured: the fixed window (one INCR and EXPIRE
pipeline, its cheapest) and the moving window (a Lua script, the nearest
to floodgate's exact GCRA).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import floodgate
from limits import RateLimitItemPerSecond, storage, strategies

RUN_SECONDS = 2.0
PER_SECOND = 1_000_000


def latency(check: Callable[[str], object]) -> tuple[float, float]:
    samples = []
    end = time.perf_counter() + RUN_SECONDS
    while time.perf_counter() < end:
        begun = time.perf_counter()
        check("latency")
        samples.append(time.perf_counter() - begun)
    samples.sort()
    at = lambda q: samples[int((len(samples) - 1) * q)] * 1e6  # noqa: E731
    return at(0.5), at(0.99)


def throughput(check: Callable[[str], object], threads: int) -> float:
    counts = [0] * threads
    end = time.perf_counter() + RUN_SECONDS

    def loop(index: int) -> None:
        key = f"t{index}"
        while time.perf_counter() < end:
            check(key)
            counts[index] += 1

    begun = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - begun)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: bench_redis.py redis://host:port/")
    url = sys.argv[1]
    ours = floodgate.KeyedLimiter(
        floodgate.Quota.per_second(PER_SECOND),
        store=url,
        prefix="bench-fg:",
        deadline=1.0,
        on_failure="closed",
    )
    item = RateLimitItemPerSecond(PER_SECOND)
    peers = {
        "fixed window": strategies.FixedWindowRateLimiter(
            storage.storage_from_string(url, key_prefix="bench-fixed")
        ),
        "moving window": strategies.MovingWindowRateLimiter(
            storage.storage_from_string(url, key_prefix="bench-moving")
        ),
    }
    contenders: dict[str, Callable[[str], object]] = {"floodgate": lambda key: ours.check(key)}
    for name, limiter in peers.items():
        contenders[name] = lambda key, limiter=limiter: limiter.hit(item, key)
    for check in contenders.values():
        check("warm")

    print("| workload | floodgate | " + " | ".join(f"peer: limits {n}" for n in peers) + " | "
          + " | ".join(f"{n}/floodgate" for n in peers) + " |")
    print("|---" * (2 + 2 * len(peers)) + "|")
    figures = {name: latency(check) for name, check in contenders.items()}
    for index, label in enumerate(["1 caller, p50", "1 caller, p99"]):
        mine = figures["floodgate"][index]
        row = [f"{figures[n][index]:.1f} us" for n in peers]
        ratios = [f"{figures[n][index] / mine:.2f}x" for n in peers]
        print(f"| {label} | {mine:.1f} us | " + " | ".join(row) + " | " + " | ".join(ratios) + " |")
    for threads in (1, 8, 64):
        rates = {name: throughput(check, threads) for name, check in contenders.items()}
        mine = rates["floodgate"]
        row = [f"{rates[n] / 1e3:.1f}k/s" for n in peers]
        # Time per check: the peer's over floodgate's is floodgate's rate over the peer's.
        ratios = [f"{mine / rates[n]:.2f}x" for n in peers]
        print(f"| {threads} threads, checks/s | {mine / 1e3:.1f}k/s | " + " | ".join(row) + " | "
              + " | ".join(ratios) + " |")
    failed = ours.store_counters["failed_closed"]
    if failed:
        raise SystemExit(f"{failed} floodgate checks were not decided by Redis")


if __name__ == "__main__":
    main()
