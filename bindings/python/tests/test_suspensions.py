"""floodgate.Suspensions: as a value and as a Policy layer."""

import pytest

from floodgate import FloodgateError, KeyedLimiter, ManualClock, Outcome, Policy, Quota, Suspensions


def test_suspend_for_then_check_then_expire():
    clock = ManualClock()
    suspensions = Suspensions(100, clock=clock)
    assert suspensions.check("cust_42") is None
    suspensions.suspend_for("cust_42", 3600)
    decision = suspensions.check("cust_42")
    assert decision is not None
    assert decision.outcome == Outcome.SUSPENDED and not decision.admitted
    assert decision.retry_after_ns == 3600 * 10**9
    assert suspensions.check(b"cust_42") is not None  # str and bytes are one key
    assert suspensions.check("cust_7") is None
    clock.advance(3600)
    assert suspensions.check("cust_42") is None


def test_suspend_until_indefinitely_and_lift():
    suspensions = Suspensions(100, clock=ManualClock())
    suspensions.suspend_until(7, None)
    decision = suspensions.check(7)
    assert decision is not None and decision.retry_after_ns == 0
    assert suspensions.check("7") is None  # ints are keys of their own kind
    assert suspensions.check(7, now_ns=2**63) is not None
    suspensions.lift(7)
    assert suspensions.check(7) is None
    suspensions.lift("never_suspended")  # nothing happens


def test_suspend_until_a_timestamp_and_check_at_a_given_time():
    clock = ManualClock(start_ns=1_000)
    suspensions = Suspensions(10, clock=clock)
    suspensions.suspend_until("k", 5_000)
    assert suspensions.now_ns() == 1_000
    decision = suspensions.check("k")
    assert decision is not None and decision.retry_after_ns == 4_000
    assert suspensions.check("k", now_ns=5_000) is None
    assert suspensions.capacity == 10
    assert repr(suspensions) == "Suspensions(10)"


def test_a_full_table_refuses_a_new_suspension():
    suspensions = Suspensions(1, clock=ManualClock())
    suspensions.suspend_for("a", 60)
    with pytest.raises(FloodgateError):
        suspensions.suspend_for("b", 60)
    assert suspensions.check("b") is None


def test_bad_arguments():
    with pytest.raises(FloodgateError):
        Suspensions(0)
    with pytest.raises(ValueError):
        Suspensions(-1)
    suspensions = Suspensions(10)
    with pytest.raises(TypeError):
        suspensions.suspend_for(1.5, 60)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        suspensions.suspend_for("k", -1)
    with pytest.raises(TypeError):
        suspensions.suspend_for("k", "60")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        suspensions.suspend_until("k", -5)
    with pytest.raises(FloodgateError):
        suspensions.suspend_until("", None)  # an empty key
    with pytest.raises(TypeError):
        suspensions.check(True)
    with pytest.raises(TypeError):
        suspensions.lift(None)  # type: ignore[arg-type]
    assert suspensions.check("k") is None  # no state changed


def test_as_the_first_layer_of_a_policy_a_suspended_key_charges_nothing():
    clock = ManualClock()
    suspensions = Suspensions(10, clock=clock)
    per_key = KeyedLimiter(Quota.per_second(1, burst=2), capacity=64, clock=clock)
    policy = Policy([("suspension", suspensions), ("key", per_key)])
    assert policy.check(["a", "a"])
    suspensions.suspend_for("a", 10)
    refused = policy.check(["a", "a"])
    assert not refused and refused.scope == "suspension"
    assert refused.decision.outcome == Outcome.SUSPENDED
    assert policy.counters()["suspended"] == 1
    suspensions.lift("a")
    assert policy.check(["a", "a"]).decision.remaining == 0  # the refusal charged nothing
    with pytest.raises(TypeError):
        policy.check([None, "a"])


def test_a_policy_refuses_a_suspensions_layer_on_another_clock():
    with pytest.raises(ValueError, match="one clock"):
        Policy([("s", Suspensions(10, clock=ManualClock())), ("k", KeyedLimiter(Quota.per_second(1)))])
