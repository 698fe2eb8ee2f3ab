"""floodgate.Plans: tiers per key and per workspace."""

import datetime

import pytest

from floodgate import FloodgateError, ManualClock, Outcome, Plans, Quota, Verdict

HOBBY = Quota.per_second(30, burst=60)


def genieos():
    clock = ManualClock()
    return Plans.genieos(key_capacity=1024, workspace_capacity=256, clock=clock), clock


def test_genieos_tiers_by_index_and_name():
    plans, _ = genieos()
    assert plans.tiers == ["sandbox", "hobby", "pro", "scale"]
    assert [plans.tier(name) for name in plans.tiers] == [0, 1, 2, 3]
    assert plans.tier("enterprise") is None
    assert len(plans) == 4
    assert repr(plans) == 'Plans(tiers=["sandbox", "hobby", "pro", "scale"])'


def test_hobby_key_admits_its_burst_of_60_then_denies_with_scope_key():
    plans, _ = genieos()
    hobby = plans.tier("hobby")
    verdicts = [plans.check(hobby, "gos_live_a", 1) for _ in range(61)]
    assert all(isinstance(v, Verdict) for v in verdicts)
    assert all(verdicts[:60])
    assert verdicts[0].decision.limit == 60 and verdicts[0].decision.remaining == 59
    denied = verdicts[60]
    assert not denied and denied.scope == "key"
    assert denied.decision.outcome == Outcome.DENIED
    # A str key and its UTF-8 bytes are one key.
    assert not plans.check(hobby, b"gos_live_a", 1)
    # Another key of the same workspace has its own bucket.
    assert plans.check(hobby, "gos_live_b", 1)


def test_workspace_window_is_shared_by_its_keys_and_reports_scope_workspace():
    plans, _ = genieos()
    for index in range(25):
        for _ in range(24):
            assert plans.check("hobby", f"key_{index}", 7)
    denied = plans.check("hobby", "key_0", 7)
    assert not denied and denied.scope == "workspace"
    assert denied.decision.limit == 600
    assert plans.check("hobby", "key_0", 8)  # another workspace


def test_sandbox_is_unlimited_and_counts_nothing():
    plans, _ = genieos()
    for _ in range(1000):
        verdict = plans.check("sandbox", "gos_test_a", 1)
        assert verdict.admitted
    assert verdict.decision.limit == 2**64 - 1 and verdict.decision.remaining == 2**64 - 1
    assert plans.counters("sandbox") == {"admitted": 0, "denied": 0, "suspended": 0}


def test_counters_count_a_tiers_admissions_and_denials():
    plans, _ = genieos()
    for _ in range(61):
        plans.check(1, "k", 1)
    assert plans.counters(1) == {"admitted": 60, "denied": 1, "suspended": 0}
    assert plans.counters("pro") == {"admitted": 0, "denied": 0, "suspended": 0}


def test_keys_refill_over_time_and_now_ns_checks_at_a_given_time():
    plans, clock = genieos()
    for _ in range(60):
        plans.check("hobby", "k", 1)
    assert not plans.check("hobby", "k", 1)
    clock.advance(1)
    assert plans.check("hobby", "k", 1)
    assert plans.now_ns() == clock.now_ns() == 10**9
    assert plans.check("hobby", "k2", 1, cost=60, now_ns=10**9).decision.remaining == 0
    assert plans.check("hobby", "k2", 1, now_ns=2 * 10**9)


def test_custom_tiers_in_dict_order_with_missing_limits():
    plans = Plans(
        datetime.timedelta(minutes=1),
        {"free": (Quota.per_second(1, burst=2), None), "team": (None, 3), "open": (None, None)},
        clock=ManualClock(),
    )
    assert plans.tiers == ["free", "team", "open"]
    assert [bool(plans.check("free", "k", 1)) for _ in range(3)] == [True, True, False]
    team = [plans.check("team", f"k{i}", 1) for i in range(4)]
    assert [bool(v) for v in team] == [True, True, True, False]
    assert team[3].scope == "workspace"
    assert all(plans.check("open", "k", 1) for _ in range(10))


def test_reconfigure_tier_keeps_usage():
    plans, _ = genieos()
    pro = plans.tier("pro")
    plans.check(pro, "k", 1, cost=100)
    plans.reconfigure_tier(pro, Quota.per_second(100, burst=200), 3000)
    assert plans.check(pro, "k", 1).decision.remaining == 99
    plans.reconfigure_tier("hobby", HOBBY, 2)
    assert plans.check("hobby", "a", 9) and plans.check("hobby", "b", 9)
    assert plans.check("hobby", "c", 9).scope == "workspace"


def test_reconfigure_tier_cannot_add_or_remove_a_limit():
    plans, _ = genieos()
    with pytest.raises(FloodgateError):
        plans.reconfigure_tier("sandbox", HOBBY, None)
    with pytest.raises(FloodgateError):
        plans.reconfigure_tier("hobby", None, 600)
    with pytest.raises(FloodgateError):
        plans.reconfigure_tier("hobby", HOBBY, 0)  # a zero window limit
    with pytest.raises(TypeError):
        plans.reconfigure_tier("hobby", 30, 600)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        plans.reconfigure_tier("hobby", HOBBY, -1)


def test_unknown_tiers_raise_floodgate_error():
    plans, _ = genieos()
    with pytest.raises(FloodgateError, match='no tier named "gold"'):
        plans.check("gold", "k", 1)
    with pytest.raises(FloodgateError, match="no tier 4"):
        plans.check(4, "k", 1)
    with pytest.raises(FloodgateError):
        plans.counters(9)
    with pytest.raises(ValueError):
        plans.check(-1, "k", 1)
    with pytest.raises(TypeError):
        plans.check(True, "k", 1)
    with pytest.raises(TypeError):
        plans.check(1.0, "k", 1)  # type: ignore[arg-type]


def test_keys_and_workspaces_of_the_wrong_type_or_range():
    plans, _ = genieos()
    with pytest.raises(TypeError, match="str or bytes, got int"):
        plans.check("hobby", 42, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        plans.check("hobby", None, 1)  # type: ignore[arg-type]
    with pytest.raises(FloodgateError):
        plans.check("hobby", "", 1)  # an empty key
    with pytest.raises(TypeError, match="workspace must be an int"):
        plans.check("hobby", "k", "ws_1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        plans.check("hobby", "k", True)
    with pytest.raises(ValueError):
        plans.check("hobby", "k", -1)
    with pytest.raises(ValueError):
        plans.check("hobby", "k", 1, cost=-1)
    # None of these charged anything.
    assert plans.counters("hobby") == {"admitted": 0, "denied": 0, "suspended": 0}


def test_constructor_errors():
    with pytest.raises(FloodgateError):
        Plans(60, {})  # no tiers
    with pytest.raises(FloodgateError):
        Plans(60, {"t": (None, 0)})  # a zero workspace limit
    with pytest.raises(FloodgateError):
        Plans(0, {"t": (None, 5)})  # a zero window
    with pytest.raises(FloodgateError):
        Plans.genieos(key_capacity=0)
    with pytest.raises(FloodgateError):
        Plans.genieos(workspace_capacity=0)
    with pytest.raises(TypeError):
        Plans(60, [("t", (None, 5))])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Plans(60, {"t": (None,)})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        Plans(60, {"t": ("fast", None)})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        Plans(60, {1: (None, None)})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        Plans("60", {"t": (None, None)})  # type: ignore[arg-type]
