"""floodgate.KeyedWindows: a sliding window per workspace, alone and as a policy layer."""

import pytest

from floodgate import (
    FloodgateError,
    KeyedLimiter,
    KeyedWindows,
    ManualClock,
    Outcome,
    Policy,
    Quota,
)

SECOND_NS = 1_000_000_000


def workspaces(**options):
    clock = ManualClock()
    return KeyedWindows(600, 60, clock=clock, **options), clock


def test_each_workspace_has_its_own_600_per_minute_window():
    windows, clock = workspaces()
    assert windows.check(7, 600).admitted
    denied = windows.check(7)
    assert denied.outcome == Outcome.DENIED and denied.retry_after_ns > 0
    assert windows.check(8).admitted
    assert windows.check("ws_7").admitted  # a str key is another kind than 7
    assert len(windows) == 3
    clock.advance(90)
    assert windows.peek(7).remaining == 300


def test_peek_refund_set_limit_and_read_back():
    windows, _ = workspaces()
    assert windows.peek(b"ws_new").remaining == 600
    assert len(windows) == 0
    windows.check("ws_1", 500)
    assert windows.refund("ws_1", 100).remaining == 200
    windows.set_limit("ws_1", 1_800)  # Hobby -> Pro
    assert windows.peek("ws_1").remaining == 1_400
    assert windows.peek("ws_2").limit == 600
    assert (windows.limit, windows.window, windows.window_ns) == (600, 60.0, 60 * SECOND_NS)
    assert windows.capacity == 10_000
    assert repr(windows) == "KeyedWindows(600, 60.0, capacity=10000)"


def test_supplied_time():
    windows = KeyedWindows(1, 1.0)
    assert windows.check(1, 1, 5 * SECOND_NS).admitted
    assert not windows.check(1, now_ns=5_500_000_000).admitted
    assert windows.check(1, 2, 7 * SECOND_NS).outcome == Outcome.CANNOT_FIT


def test_full_table():
    windows = KeyedWindows(10, 60, capacity=1, clock=ManualClock())
    assert windows.check("a").admitted
    assert windows.check("b").outcome == Outcome.DENIED
    assert windows.full_table_events == 1
    admitting = KeyedWindows(10, 60, capacity=1, on_full="admit", clock=ManualClock())
    admitting.check("a")
    assert admitting.check("b").admitted


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: KeyedWindows(0, 60), FloodgateError, "limit must be at least 1"),
        (lambda: KeyedWindows(10, 0), FloodgateError, "window must be at least 1 ns"),
        (lambda: KeyedWindows(10, 60, capacity=0), FloodgateError, "capacity must be at least 1"),
        (lambda: KeyedWindows(10, 60, on_full="x"), ValueError, "on_full must be"),
        (lambda: KeyedWindows(10, 60).check(""), FloodgateError, "key must not be empty"),
        (lambda: KeyedWindows(10, 60).check(None), TypeError, "key must be str, bytes or int"),
        (lambda: KeyedWindows(10, 60).set_limit("a", 0), FloodgateError, "limit must be at least 1"),
    ],
)
def test_bad_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_genieos_key_and_workspace_layers():
    clock = ManualClock()
    keys = KeyedLimiter(Quota.per_second(30, burst=60), clock=clock)
    windows = KeyedWindows(600, 60, clock=clock)
    policy = Policy([("key", keys), ("workspace", windows)])
    # 25 Hobby keys of workspace 1 share its 600/min window.
    admitted = sum(
        policy.check([f"gos_live_{index:02d}", 1]).admitted for index in range(25) for _ in range(24)
    )
    assert admitted == 600
    denied = policy.check(["gos_live_new", 1])
    assert (denied.admitted, denied.scope) == (False, "workspace")
    assert keys.peek("gos_live_new").remaining == 60  # refunded
    # Another workspace is untouched; the 61st request of one key is the key's.
    for _ in range(60):
        assert policy.check(["gos_live_b", 2]).admitted
    assert policy.check(["gos_live_b", 2]).scope == "key"
    assert windows.peek(2).remaining == 540


def test_reset_empties_one_workspace_s_counts():
    windows, _ = workspaces()
    assert windows.check(7, 600).admitted
    assert windows.check(8, 100).admitted
    windows.reset(7)
    assert windows.peek(7).remaining == 600
    assert windows.peek(8).remaining == 500
    windows.reset(9)  # never counted: left as it is
    assert windows.peek(9).remaining == 600
