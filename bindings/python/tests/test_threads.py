"""Many threads on one limiter: never more admitted than the quota allows."""

import threading
import time

from floodgate import Limiter, Quota

THREADS = 8
CHECKS_PER_THREAD = 5_000


def run_threads(worker):
    """Starts THREADS workers at once, joins them, returns their results."""
    results = [0] * THREADS
    start = threading.Barrier(THREADS)

    def body(index):
        start.wait()
        results[index] = worker()

    threads = [threading.Thread(target=body, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_admitted_total_within_burst_plus_rate_times_elapsed():
    quota = Quota.per_second(10_000, burst=500)
    limiter = Limiter(quota)
    stamps = []  # (first, last) supplied timestamp of each thread

    def worker():
        admitted = 0
        first = time.monotonic_ns()
        last = first
        for _ in range(CHECKS_PER_THREAD):
            last = time.monotonic_ns()
            if limiter.check(1, last).admitted:
                admitted += 1
        stamps.append((first, last))
        return admitted

    admitted = sum(run_threads(worker))
    elapsed_ns = max(last for _, last in stamps) - min(first for first, _ in stamps)
    # GCRA: n admissions push the arrival time n intervals past the first
    # timestamp, and it may run at most one burst ahead of the last one.
    bound = quota.burst + elapsed_ns * quota.count // quota.period_ns
    assert 0 < admitted <= bound


def test_one_instant_admits_exactly_the_burst_across_threads():
    limiter = Limiter(Quota.per_hour(1, burst=1_000))
    now_ns = 7 * 10**9

    def worker():
        return sum(limiter.check(1, now_ns).admitted for _ in range(CHECKS_PER_THREAD // 10))

    assert sum(run_threads(worker)) == 1_000
    assert limiter.peek(now_ns).remaining == 0


def test_checks_and_refunds_from_many_threads_balance_out():
    limiter = Limiter(Quota.per_hour(1, burst=THREADS * 100))
    now_ns = 10**9

    def worker():
        for _ in range(1_000):
            if limiter.check(1, now_ns).admitted:
                limiter.refund(1, now_ns)
        return limiter.check(100, now_ns).admitted

    assert all(run_threads(worker))
    assert limiter.peek(now_ns).remaining == 0


def test_reconfigure_while_checking_keeps_a_valid_quota():
    quotas = [Quota.per_second(100, burst=10), Quota.per_second(50, burst=200)]
    limiter = Limiter(quotas[0])

    def worker():
        for step in range(1_000):
            if step % 100 == 0:
                limiter.reconfigure(quotas[step // 100 % 2])
            decision = limiter.check()
            assert decision.limit in (10, 200)
            assert decision.remaining <= decision.limit
        return True

    assert all(run_threads(worker))
    assert limiter.quota in quotas
