"""Building a big table releases the GIL, so other threads run meanwhile.

The switch interval is raised for the test, so the interpreter never takes
the GIL from a running thread: the main thread can run during a table's
build only if the build itself lets go of the GIL. A build that keeps the
GIL therefore fails every attempt; one that releases it lets the main
thread in as soon as the OS wakes it, which a loaded machine may delay past
a short build, so the test makes up to ATTEMPTS builds and needs one.
"""

import sys
import threading

import pytest

from floodgate import KeyedLimiter, KeyedWindows, Plans, Quota

NEVER_S = 1_000.0  # a switch interval no test run reaches
ATTEMPTS = 50


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda slots: KeyedLimiter(Quota.per_second(1), capacity=slots).check("k"), id="KeyedLimiter"),
        pytest.param(lambda slots: KeyedLimiter(Quota.per_second(1), capacity=slots).check(7), id="KeyedLimiter-int"),
        pytest.param(lambda slots: KeyedWindows(5, 60, capacity=slots), id="KeyedWindows"),
        pytest.param(lambda slots: Plans.genieos(key_capacity=slots), id="Plans"),
    ],
)
def test_other_threads_run_while_a_table_is_built(build):
    # A first call may import or read files (which lets go of the GIL): not in the measured one.
    build(8)
    assert any(main_thread_ran_during(build) for _ in range(ATTEMPTS))


def main_thread_ran_during(build):
    """Whether this thread ran while another built a table of 2**20 slots."""
    started = threading.Event()
    finished = []

    def builder():
        started.set()
        build(2**20)
        finished.append(True)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(NEVER_S)
    try:
        thread = threading.Thread(target=builder)
        thread.start()
        started.wait()
        # This line runs before the build ends only if the build released the GIL.
        ran_during_build = not finished
        thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert finished == [True]
    return ran_during_build
