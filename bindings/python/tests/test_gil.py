"""Building a big table releases the GIL, so other threads run meanwhile.

The switch interval is raised for the test, so the interpreter never takes
the GIL from a running thread: the main thread runs during a table's build
only if the build itself lets go of the GIL. Deterministic, no timing.
"""

import sys
import threading

import pytest

from floodgate import KeyedLimiter, KeyedWindows, Plans, Quota

NEVER_S = 1_000.0  # a switch interval no test run reaches


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
    assert ran_during_build
