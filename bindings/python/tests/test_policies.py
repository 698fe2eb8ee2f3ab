"""SlidingWindow and InFlight: the GenieOS per-workspace window and batch cap."""

import gc
import threading

import pytest

from floodgate import FloodgateError, InFlight, ManualClock, Outcome, Permit, SlidingWindow

SECOND_NS = 1_000_000_000


def workspace_window():
    clock = ManualClock()
    return SlidingWindow(600, 60, clock=clock), clock


def test_window_admits_600_per_minute_then_denies():
    window, clock = workspace_window()
    assert all(window.check().admitted for _ in range(600))
    denied = window.check()
    assert denied.outcome == Outcome.DENIED
    assert denied.retry_after_ns == 60_100_000_000  # 1/600 of the 600 slid out
    clock.advance(90)
    assert window.peek().remaining == 300


def test_window_reads_back_and_reconfigures_on_a_plan_change():
    window, _ = workspace_window()
    assert (window.limit, window.window, window.window_ns) == (600, 60.0, 60 * SECOND_NS)
    window.check(500)
    window.reconfigure(1_800)  # Hobby -> Pro
    assert window.limit == 1_800
    assert window.peek().remaining == 1_300
    with pytest.raises(FloodgateError, match="limit must be at least 1"):
        window.reconfigure(0)
    assert window.limit == 1_800


def test_window_supplied_time_refund_and_cannot_fit():
    window = SlidingWindow(1, 1.0)
    assert window.check(1, 5 * SECOND_NS).admitted
    assert not window.check(1, now_ns=5_900_000_000).admitted
    assert window.refund(1, now_ns=5_900_000_000).remaining == 1
    assert window.check(2, 6 * SECOND_NS).outcome == Outcome.CANNOT_FIT


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: SlidingWindow(0, 60), FloodgateError, "limit must be at least 1"),
        (lambda: SlidingWindow(10, 0), FloodgateError, "window must be at least 1 ns"),
        (lambda: SlidingWindow(10, 2.0**63 / 1e9), FloodgateError, "window must not exceed"),
        (lambda: SlidingWindow(-1, 60), ValueError, "limit must be between"),
        (lambda: SlidingWindow(10, "60s"), TypeError, "window must be seconds"),
        (lambda: SlidingWindow(10, 60).check(-1), ValueError, "cost must be between"),
    ],
)
def test_window_bad_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_in_flight_caps_batch_calls_at_four():
    batch = InFlight(4)
    permits = [batch.try_acquire() for _ in range(4)]
    assert all(isinstance(permit, Permit) for permit in permits)
    assert [p.in_flight for p in permits] == [1, 2, 3, 4]
    assert [p.remaining for p in permits] == [3, 2, 1, 0]
    assert batch.try_acquire() is None
    assert permits[0].release() == 3
    assert batch.in_flight == 3
    assert batch.try_acquire() is not None  # dropped at once: released again
    assert batch.in_flight == 3


def test_double_release_raises_and_changes_nothing():
    batch = InFlight(2)
    first = batch.try_acquire()
    second = batch.try_acquire()
    assert first is not None and second is not None
    assert first.release() == 1
    with pytest.raises(FloodgateError, match="already released"):
        first.release()
    assert batch.in_flight == 1
    assert second.release() == 0


def test_permit_as_context_manager_releases_on_exit_even_on_error():
    batch = InFlight(1)
    with batch.try_acquire() as permit:
        assert permit.limit == 1 and batch.in_flight == 1
    assert batch.in_flight == 0
    with pytest.raises(RuntimeError, match="downstream failed"):
        with batch.try_acquire():
            raise RuntimeError("downstream failed")
    assert batch.in_flight == 0
    with batch.try_acquire() as permit:
        permit.release()  # released early; leaving the block is then a no-op
    assert batch.in_flight == 0


def test_a_forgotten_permit_is_released_when_collected():
    batch = InFlight(1)
    permit = batch.try_acquire()
    assert batch.in_flight == 1
    del permit
    gc.collect()
    assert batch.in_flight == 0


def test_permit_keeps_its_cap_alive():
    permit = InFlight(3).try_acquire()
    assert permit is not None
    assert permit.release() == 0


def test_in_flight_bad_limits():
    with pytest.raises(FloodgateError, match="limit must be at least 1"):
        InFlight(0)
    with pytest.raises(FloodgateError, match="limit exceeds"):
        InFlight(2**21)
    with pytest.raises(TypeError, match="limit must be an int"):
        InFlight(4.0)


def test_in_flight_never_exceeds_its_cap_across_threads():
    batch = InFlight(4)
    seen_max = []
    start = threading.Barrier(8)

    def worker():
        start.wait()
        highest = 0
        for _ in range(2_000):
            permit = batch.try_acquire()
            if permit is not None:
                with permit:
                    highest = max(highest, permit.in_flight, batch.in_flight)
        seen_max.append(highest)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= max(seen_max) <= 4
    assert batch.in_flight == 0
