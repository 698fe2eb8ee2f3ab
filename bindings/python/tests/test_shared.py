"""Shared mode: limiters built with the same ``shared=`` segment charge one
set of buckets, within a process and across processes; what they refuse.

Every segment is named after this test process's pid and removed at the end
of its test. Timed checks pass ``now_ns`` read once, so no decision depends
on how fast the test runs."""

import datetime
import itertools
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import floodgate
from floodgate import (
    FloodgateError,
    InFlight,
    KeyedInFlight,
    KeyedLimiter,
    KeyedWindows,
    Limiter,
    ManualClock,
    Plans,
    Policy,
    Quota,
    SlidingWindow,
    Suspensions,
)
from floodgate.fastapi import RateLimiter

HOBBY = Quota.per_second(30, burst=60)
SUBPROCESS_TIMEOUT_S = 60
SEGMENTS = itertools.count()
HOUR_S = 3600
TIERS = {"free": (Quota.per_second(1, burst=2), 10), "paid": (HOBBY, 100)}

# Every kind that takes ``shared=``, built the same way in each process.
KINDS = {
    "Limiter": lambda **shared: Limiter(HOBBY, **shared),
    "KeyedLimiter": lambda **shared: KeyedLimiter(HOBBY, capacity=1024, **shared),
    "SlidingWindow": lambda **shared: SlidingWindow(100, HOUR_S, **shared),
    "KeyedWindows": lambda **shared: KeyedWindows(100, HOUR_S, capacity=1024, **shared),
    "Suspensions": lambda **shared: Suspensions(1024, **shared),
    "Plans": lambda **shared: Plans(HOUR_S, TIERS, key_capacity=1024, workspace_capacity=64, **shared),
    "InFlight": lambda **shared: InFlight(4, **shared),
    "KeyedInFlight": lambda **shared: KeyedInFlight(4, 1024, **shared),
}


def segment_file(name):
    return pathlib.Path(f"/dev/shm/floodgate.{name}")


@pytest.fixture
def segment():
    """A segment name unique to this test and process, removed afterwards
    (with every segment named under it: a route limiter's)."""
    name = f"pytest-{os.getpid()}-{next(SEGMENTS)}"
    yield name
    for path in segment_file(name).parent.glob(f"floodgate.{name}*"):
        floodgate.remove_segment(path)


def test_two_limiters_on_one_segment_charge_one_bucket(segment):
    first = Limiter(HOBBY, shared=segment)
    second = Limiter(HOBBY, shared=segment)
    assert first.is_shared and second.is_shared
    now = first.now_ns()
    assert first.check(60, now).admitted
    denied = second.check(1, now)
    assert not denied.admitted and denied.remaining == 0
    assert second.refund(30, now).remaining == 30
    assert first.peek(now).remaining == 30


def test_two_keyed_limiters_on_one_segment_share_every_key(segment):
    first = KeyedLimiter(HOBBY, capacity=1024, shared=segment)
    second = KeyedLimiter(HOBBY, capacity=1024, shared=segment)
    assert first.is_shared and second.is_shared
    now = first.now_ns()
    for key in ["gos_live_a", b"gos_live_b", 7]:
        assert first.check(key, 60, now).admitted
        assert not second.check(key, 1, now).admitted
    assert second.check("gos_live_c", 1, now).remaining == 59
    assert len(first) == len(second) == 4


def test_two_sliding_windows_on_one_segment_count_one_window(segment):
    first = SlidingWindow(100, HOUR_S, shared=segment)
    second = SlidingWindow(100, HOUR_S, shared=segment)
    assert first.is_shared and second.is_shared
    now = first.now_ns()
    assert first.check(100, now).admitted
    assert not second.check(1, now).admitted
    assert second.refund(40, now).remaining == 40
    assert first.peek(now).remaining == 40
    second.reconfigure(200)
    assert first.limit == 200
    assert first.check(140, now).admitted


def test_two_keyed_windows_on_one_segment_share_every_key(segment):
    first = KeyedWindows(100, HOUR_S, capacity=1024, shared=segment)
    second = KeyedWindows(100, HOUR_S, capacity=1024, shared=segment)
    assert first.is_shared and second.is_shared
    # Both tables are made with the object, int keys' beside the named one.
    assert segment_file(segment).is_file() and pathlib.Path(f"{segment_file(segment)}.int").is_file()
    now = first.now_ns()
    for key in ["ws_a", b"ws_b", 7]:
        assert first.check(key, 100, now).admitted
        assert not second.check(key, 1, now).admitted
    second.set_limit("ws_a", 150)
    assert first.check("ws_a", 50, now).admitted
    first.reset(7, now)
    assert second.peek(7, now).remaining == 100
    assert len(first) == len(second) == 3


def test_two_suspensions_on_one_segment_suspend_every_key_in_both(segment):
    first = Suspensions(1024, shared=segment)
    second = Suspensions(1024, shared=segment)
    assert first.is_shared and second.is_shared
    # As for a KeyedLimiter, int keys' segment waits for the first int key.
    assert not pathlib.Path(f"{segment_file(segment)}.int").exists()
    now = first.now_ns()
    for key in ["cust_a", b"cust_b", 7]:
        first.suspend_until(key, None)
        assert second.check(key, now).outcome == floodgate.Outcome.SUSPENDED
    assert pathlib.Path(f"{segment_file(segment)}.int").is_file()
    second.suspend_for("cust_c", 60)
    assert 0 < first.check("cust_c").retry_after <= 60
    second.lift("cust_a")
    assert first.check("cust_a") is None


def test_two_plans_on_one_segment_share_keys_workspaces_and_tiers(segment):
    first = Plans(HOUR_S, TIERS, key_capacity=1024, workspace_capacity=64, shared=segment)
    second = Plans(HOUR_S, TIERS, key_capacity=1024, workspace_capacity=64, shared=segment)
    assert first.is_shared and second.is_shared
    now = first.now_ns()
    assert first.check("free", "key_a", 1, 2, now).admitted
    refused = second.check("free", "key_a", 1, 1, now)
    assert not refused.admitted and refused.scope == "key"
    for key in range(10):
        assert first.check("free", f"key_{key}_b", 2, 1, now).admitted
    refused = second.check("free", "key_c", 2, 1, now)
    assert not refused.admitted and refused.scope == "workspace"
    first.reconfigure_tier("paid", Quota.per_second(1, burst=1), 100)
    assert second.check("paid", "key_d", 3, 1, now).admitted
    assert not second.check("paid", "key_d", 3, 1, now).admitted
    # Only the counters stay each process's own.
    assert second.counters("free") == {"admitted": 0, "denied": 2, "suspended": 0}


def test_two_in_flight_caps_on_one_segment_share_the_permits(segment):
    first = InFlight(4, shared=segment)
    second = InFlight(4, shared=segment)
    assert first.is_shared and second.is_shared
    held = [first.try_acquire() for _ in range(4)]
    assert all(held) and second.in_flight == 4
    assert second.try_acquire() is None
    with held.pop():
        assert second.in_flight == 4
    permit = second.try_acquire()
    assert permit is not None and first.in_flight == 4
    assert permit.release() == 3


def test_two_keyed_in_flight_caps_on_one_segment_share_every_key(segment):
    first = KeyedInFlight(2, 1024, shared=segment)
    second = KeyedInFlight(2, 1024, shared=segment)
    assert first.is_shared and second.is_shared
    assert not pathlib.Path(f"{segment_file(segment)}.int").exists()
    for key in ["ws_a", b"ws_b", 7]:
        held = [first.try_acquire(key), first.try_acquire(key)]
        assert all(held) and second.in_flight(key) == 2
        assert second.try_acquire(key) is None
        held.pop().release()
        assert second.try_acquire(key) is not None
    assert pathlib.Path(f"{segment_file(segment)}.int").is_file()


DYING_HOLDER = """
import os, sys
from floodgate import InFlight, KeyedInFlight
cap, caps = InFlight(4, shared=sys.argv[1]), KeyedInFlight(4, 1024, shared=sys.argv[2])
held = [cap.try_acquire() for _ in range(4)] + [caps.try_acquire("ws_1") for _ in range(4)]
assert all(held)
os._exit(0)  # dies holding its permits: no release, no finaliser
"""


def test_permits_of_a_process_that_died_holding_them_come_back(segment):
    cap, caps = InFlight(4, shared=segment), KeyedInFlight(4, 1024, shared=f"{segment}.keyed")
    subprocess.run(
        [sys.executable, "-c", DYING_HOLDER, segment, f"{segment}.keyed"], check=True, timeout=SUBPROCESS_TIMEOUT_S
    )
    assert cap.in_flight == 4 and caps.in_flight("ws_1") == 4
    # An acquire that finds the cap full frees a dead holder's permit: all
    # four are back within four such acquires.
    held = [permit for permit in (cap.try_acquire() for _ in range(8)) if permit]
    keyed = [permit for permit in (caps.try_acquire("ws_1") for _ in range(8)) if permit]
    assert len(held) == len(keyed) == 4


def test_a_policy_of_every_shared_layer_kind_runs_on_the_machines_timeline(segment):
    suspensions = Suspensions(1024, shared=f"{segment}.suspensions")
    windows = KeyedWindows(100, HOUR_S, capacity=1024, shared=f"{segment}.windows")
    policy = Policy(
        [
            ("suspended", suspensions),
            ("key", KeyedLimiter(HOBBY, capacity=1024, shared=f"{segment}.keys")),
            ("workspace", windows),
            ("global", SlidingWindow(1000, HOUR_S, shared=f"{segment}.global")),
        ]
    )
    now = policy.now_ns()
    assert policy.check(["k", "k", 1, None], 60, now).admitted
    assert KeyedWindows(100, HOUR_S, capacity=1024, shared=f"{segment}.windows").peek(1, now).remaining == 40
    Suspensions(1024, shared=f"{segment}.suspensions").suspend_until("k", None)
    assert policy.check(["k", "k", 1, None], 1, now).decision.outcome == floodgate.Outcome.SUSPENDED
    for unshared in [SlidingWindow(1000, HOUR_S), KeyedWindows(100, HOUR_S), Suspensions(16)]:
        with pytest.raises(FloodgateError, match="shared="):
            Policy([("shared", windows), ("own", unshared)])


def test_int_keys_get_their_own_segment_at_their_first_use(segment):
    limiter = KeyedLimiter(HOBBY, capacity=1024, shared=segment)
    assert segment_file(segment).is_file()
    assert not pathlib.Path(f"{segment_file(segment)}.int").exists()
    limiter.check(7)
    assert pathlib.Path(f"{segment_file(segment)}.int").is_file()


def test_a_limiter_in_another_process_charges_the_same_bucket(segment):
    limiter = Limiter(HOBBY, shared=segment)
    keyed = KeyedLimiter(HOBBY, capacity=1024, shared=f"{segment}.keyed")
    child = (
        "import sys; from floodgate import KeyedLimiter, Limiter, Quota\n"
        "quota = Quota.per_second(30, burst=60)\n"
        "limiter = Limiter(quota, shared=sys.argv[1])\n"
        "now = limiter.now_ns()\n"
        "assert limiter.check(60, now).admitted\n"
        "assert KeyedLimiter(quota, capacity=1024, shared=sys.argv[2]).check('k', 60, now).admitted\n"
        "print(now)\n"
    )
    child_ran = subprocess.run(
        [sys.executable, "-c", child, segment, f"{segment}.keyed"],
        check=True,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    # The other process emptied both buckets at `now`, on the same timeline:
    # nothing is left then, one request's worth 1/30 s later.
    now = int(child_ran.stdout)
    assert not limiter.check(1, now).admitted
    assert not keyed.check("k", 1, now).admitted
    later = now + 1_000_000_000 // 30 + 1
    assert limiter.check(1, later).admitted
    assert keyed.check("k", 1, later).admitted


# A worker process: waits until every worker is ready, so that they charge
# the windows at the same time, then tries CHECKS requests of one unit on
# each shared window in turn at the one instant `now` (a new API key each
# time for the plans, so that only the workspace's window can refuse), and
# prints how many each admitted.
WINDOW_WORKER = """
import pathlib, sys, time
from floodgate import KeyedWindows, Plans, SlidingWindow
segment, now, worker, workers, checks = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
window = SlidingWindow(1000, 3600, shared=segment + ".window")
windows = KeyedWindows(1000, 3600, capacity=1024, shared=segment + ".windows")
plans = Plans.genieos(key_capacity=8192, workspace_capacity=64, shared=segment + ".plans")
ready = pathlib.Path(sys.argv[6])
(ready / worker).touch()
deadline = time.monotonic() + 30
while len(list(ready.iterdir())) < workers:
    assert time.monotonic() < deadline, "the other workers never started"
    time.sleep(0.001)
admitted = [0, 0, 0]
for n in range(checks):
    admitted[0] += window.check(1, now).admitted
    admitted[1] += windows.check("ws_1", 1, now).admitted
    admitted[2] += plans.check("hobby", f"gos_live_{worker}_{n}", 1, 1, now).admitted
print(*admitted)
"""


def test_worker_processes_on_one_segment_admit_each_window_limit_once(segment, tmp_path):
    workers, checks = 3, 1500
    now = SlidingWindow(1000, HOUR_S, shared=f"{segment}.window").now_ns()
    running = [
        subprocess.Popen(
            [sys.executable, "-c", WINDOW_WORKER, segment, str(now), str(n), str(workers), str(checks), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(workers)
    ]
    admitted = []
    for worker in running:
        out, err = worker.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        assert worker.returncode == 0, err
        admitted.append([int(count) for count in out.split()])
    window, windows, plans = (sum(counts) for counts in zip(*admitted))
    # 4,500 tries at one instant: each window's limit, no more, in all.
    # Hobby's workspace limit is 600 per minute.
    assert (window, windows, plans) == (1000, 1000, 600)


def test_a_path_names_a_segment_anywhere(segment, tmp_path):
    path = tmp_path / "limits.seg"
    first = KeyedLimiter(HOBBY, capacity=1024, shared=path)
    second = KeyedLimiter(HOBBY, capacity=1024, shared=path)
    now = first.now_ns()
    assert first.check(5, 60, now).admitted
    assert not second.check(5, 1, now).admitted
    assert path.is_file() and pathlib.Path(f"{path}.int").is_file()
    floodgate.remove_segment(path)
    assert not path.exists() and not pathlib.Path(f"{path}.int").exists()


def test_a_shared_limiter_reads_the_machines_monotonic_clock(segment):
    limiter = Limiter(HOBBY, shared=segment)
    keyed = KeyedLimiter(HOBBY, capacity=1024, shared=f"{segment}.keyed")
    policy = Policy([("key", keyed), ("global", limiter)])
    # One timeline for all three: the CPU counter scaled by the machine's
    # one calibration against CLOCK_MONOTONIC (made once per boot, good to
    # some 10 ppm), so it keeps step with time.monotonic_ns() within 20 ppm
    # of the time since boot and a millisecond.
    readings = [timed.now_ns() for timed in [limiter, keyed, policy, limiter]]
    assert readings == sorted(readings)
    system = time.monotonic_ns()
    assert abs(readings[-1] - system) < 1_000_000 + system // 50_000


def test_a_policy_over_shared_layers_charges_the_shared_buckets(segment):
    policy = Policy([("key", KeyedLimiter(HOBBY, capacity=1024, shared=segment))])
    other = KeyedLimiter(HOBBY, capacity=1024, shared=segment)
    now = policy.now_ns()
    assert policy.check(["k"], 60, now).admitted
    assert not other.check("k", 1, now).admitted


def test_a_policy_refuses_to_mix_shared_and_process_layers(segment):
    shared = KeyedLimiter(HOBBY, capacity=1024, shared=segment)
    with pytest.raises(FloodgateError, match="shared="):
        Policy([("key", shared), ("global", Limiter(HOBBY))])


def test_a_manual_clock_keeps_timing_a_shared_limiter(segment):
    clock = ManualClock(start_ns=5)
    first = Limiter(HOBBY, clock=clock, shared=segment)
    second = Limiter(HOBBY, clock=clock, shared=segment)
    assert first.now_ns() == 5
    assert first.check(60).admitted
    assert not second.check().admitted
    clock.advance(1)
    assert second.check(30).admitted


def test_changes_made_through_one_are_seen_by_the_other(segment):
    lower = Quota.per_second(10, burst=20)
    first = KeyedLimiter(HOBBY, capacity=1024, shared=segment)
    second = KeyedLimiter(HOBBY, capacity=1024, shared=segment)
    first.reconfigure(lower)
    assert second.quota == lower
    assert second.check("k").limit == 20
    first.set_quota("vip", HOBBY)
    assert second.quota_for("vip") == HOBBY
    now = second.now_ns()
    assert second.check("vip", 60, now).admitted
    first.reset("vip", now)
    assert second.peek("vip", now).remaining == 60
    limiter = Limiter(HOBBY, shared=f"{segment}.one")
    Limiter(HOBBY, shared=f"{segment}.one").reconfigure(lower)
    assert limiter.quota == lower


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        (HOBBY, Quota.per_second(31, burst=60), "quota count"),
        (HOBBY, Quota.per_second(30, burst=61), "quota burst"),
        (HOBBY, Quota.per_minute(30, burst=60), "quota period"),
    ],
)
def test_a_limiter_built_otherwise_is_refused_with_the_field(segment, first, second, field):
    Limiter(first, shared=segment)
    with pytest.raises(FloodgateError, match=field):
        Limiter(second, shared=segment)
    KeyedLimiter(first, capacity=1024, shared=f"{segment}.keyed")
    with pytest.raises(FloodgateError, match=field):
        KeyedLimiter(second, capacity=1024, shared=f"{segment}.keyed")


def test_a_keyed_limiter_of_another_capacity_or_kind_is_refused(segment):
    KeyedLimiter(HOBBY, capacity=1024, shared=segment)
    with pytest.raises(FloodgateError, match="capacity"):
        KeyedLimiter(HOBBY, capacity=2048, shared=segment)
    with pytest.raises(FloodgateError, match="options"):
        KeyedLimiter(HOBBY, capacity=1024, on_full="admit", shared=segment)
    with pytest.raises(FloodgateError, match="kind"):
        Limiter(HOBBY, shared=segment)


@pytest.mark.parametrize(
    ("kind", "first", "second", "field"),
    [
        ("SlidingWindow", (100, 60), (101, 60), "window limit"),
        ("SlidingWindow", (100, 60), (100, 61), "window (ns)"),
        ("KeyedWindows", (100, 60, 1024, "deny"), (101, 60, 1024, "deny"), "window limit"),
        ("KeyedWindows", (100, 60, 1024, "deny"), (100, 61, 1024, "deny"), "window (ns)"),
        ("KeyedWindows", (100, 60, 1024, "deny"), (100, 60, 2048, "deny"), "capacity"),
        ("KeyedWindows", (100, 60, 1024, "deny"), (100, 60, 1024, "admit"), "options"),
        ("Suspensions", (1024,), (2048,), "capacity"),
        ("Plans", (60, TIERS, 1024, 64), (61, TIERS, 1024, 64), "window (ns)"),
        ("Plans", (60, TIERS, 1024, 64), (60, TIERS, 1024, 128), "capacity"),
        ("Plans", (60, TIERS, 1024, 64), (60, TIERS, 2048, 64), "options"),
        ("Plans", (60, TIERS, 1024, 64), (60, {**TIERS, "paid": (HOBBY, 101)}, 1024, 64), "window limit"),
        ("Plans", (60, TIERS, 1024, 64), (60, {**TIERS, "free": (HOBBY, 10)}, 1024, 64), "options"),
        ("Plans", (60, TIERS, 1024, 64), (60, dict(reversed(TIERS.items())), 1024, 64), "options"),
        ("InFlight", (4,), (8,), "capacity"),
        ("KeyedInFlight", (4, 1024), (8, 1024), "options"),
        ("KeyedInFlight", (4, 1024), (4, 2048), "capacity"),
    ],
)
def test_every_kind_built_otherwise_is_refused_with_the_field(segment, kind, first, second, field):
    build = {
        "SlidingWindow": lambda limit, window, **shared: SlidingWindow(limit, window, **shared),
        "KeyedWindows": lambda limit, window, capacity, on_full, **shared: KeyedWindows(
            limit, window, capacity=capacity, on_full=on_full, **shared
        ),
        "Suspensions": lambda capacity, **shared: Suspensions(capacity, **shared),
        "Plans": lambda window, tiers, keys, workspaces, **shared: Plans(
            window, tiers, key_capacity=keys, workspace_capacity=workspaces, **shared
        ),
        "InFlight": lambda limit, **shared: InFlight(limit, **shared),
        "KeyedInFlight": lambda limit, capacity, **shared: KeyedInFlight(limit, capacity, **shared),
    }[kind]
    build(*first, shared=segment)
    with pytest.raises(FloodgateError, match=re.escape(field)):
        build(*second, shared=segment)


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind != "Limiter"])
def test_another_kind_on_a_segment_is_refused(segment, kind):
    Limiter(HOBBY, shared=segment)
    with pytest.raises(FloodgateError, match="kind"):
        KINDS[kind](shared=segment)


def test_removing_a_segment_starts_afresh(segment):
    Limiter(HOBBY, shared=segment).check(60)
    floodgate.remove_segment(segment)
    assert not segment_file(segment).exists()
    floodgate.remove_segment(segment)  # nothing to remove: not an error
    assert Limiter(Quota.per_second(5), shared=segment).check().remaining == 4


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["", "a/b", "..", "../etc", "x" * 201, "caf\u00e9", "a b"])
def test_an_invalid_name_is_refused(kind, name):
    with pytest.raises(FloodgateError, match="segment name"):
        KINDS[kind](shared=name)
    with pytest.raises(FloodgateError, match="segment name"):
        floodgate.remove_segment(name)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shared", [b"name", 7, True, 1.5, ["name"], object()])
def test_a_segment_of_another_type_is_a_type_error(kind, shared):
    with pytest.raises(TypeError, match=r"shared must be a segment name \(str\) or a path"):
        KINDS[kind](shared=shared)
    with pytest.raises(TypeError):
        floodgate.remove_segment(shared)


@pytest.mark.parametrize("kind", KINDS)
def test_shared_wait_takes_seconds_and_needs_shared(segment, kind):
    build = KINDS[kind]
    assert build(shared=segment, shared_wait=0.5).is_shared
    assert build(shared=segment, shared_wait=datetime.timedelta(seconds=1)).is_shared
    with pytest.raises(TypeError, match="shared_wait"):
        build(shared_wait=1)
    with pytest.raises(TypeError, match="shared_wait"):
        build(shared=segment, shared_wait="1")
    with pytest.raises(FloodgateError, match="shared_wait"):
        build(shared=segment, shared_wait=-1)


@pytest.mark.parametrize("kind", KINDS)
def test_a_segment_the_system_cannot_make_raises_oserror(tmp_path, kind):
    path = tmp_path / "missing-directory" / "limits.seg"
    with pytest.raises(FileNotFoundError) as raised:
        KINDS[kind](shared=path)
    assert raised.value.filename == str(path)
    assert "could not open the shared segment" in str(raised.value)


@pytest.mark.parametrize("kind", KINDS)
def test_limits_built_without_shared_are_not_shared(kind):
    assert not KINDS[kind]().is_shared


def test_plans_genieos_take_a_segment_too(segment):
    first = Plans.genieos(key_capacity=1024, workspace_capacity=64, shared=segment)
    second = Plans.genieos(key_capacity=1024, workspace_capacity=64, shared=segment, shared_wait=1)
    assert first.is_shared and second.is_shared
    assert not Plans.genieos(key_capacity=1024, workspace_capacity=64).is_shared
    now = first.now_ns()
    assert first.check("hobby", "gos_live_a", 1, 60, now).admitted
    assert not second.check("hobby", "gos_live_a", 1, 1, now).admitted


def hello(request):
    return PlainTextResponse("hello")


def limited_app(shared):
    """An app as each worker would import it: one route under two limits."""
    app = Starlette(routes=[])
    limiter = RateLimiter(key_func=lambda request: request.headers["x-api-key"], shared=shared, default_limits="1000/hour")
    app.add_route("/", limiter.limit("3/minute;10/hour")(hello))
    limiter.install(app)
    return app


def test_route_limiters_on_one_prefix_enforce_each_limit_together(segment):
    workers = [TestClient(limited_app(segment)), TestClient(limited_app(segment))]
    key = {"x-api-key": "gos_live_a"}
    statuses = [workers[n % 2].get("/", headers=key).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    names = sorted(path.name for path in segment_file(segment).parent.glob(f"floodgate.{segment}.*"))
    # The default limits are route 0, the decorated route 1 with two limits.
    assert names == [f"floodgate.{segment}.{suffix}" for suffix in ["0.0", "1.0", "1.1"]]


def test_a_route_limiter_prefix_may_be_a_path(tmp_path):
    prefix = tmp_path / "routes"
    client = TestClient(limited_app(prefix))
    assert client.get("/", headers={"x-api-key": "k"}).status_code == 200
    assert sorted(path.name for path in tmp_path.iterdir()) == ["routes.0.0", "routes.1.0", "routes.1.1"]


def test_a_route_limiter_prefix_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="shared must be a segment name"):
        RateLimiter(shared=b"prefix")  # type: ignore[arg-type]
