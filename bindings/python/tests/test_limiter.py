"""floodgate.Limiter, Decision, Outcome and ManualClock on one bucket."""

import datetime

import pytest

from floodgate import Decision, Limiter, ManualClock, Outcome, Quota

SECOND_NS = 1_000_000_000
HOBBY = Quota.per_second(30, burst=60)  # GenieOS per-key default


def manual(quota=HOBBY, start_ns=0):
    clock = ManualClock(start_ns)
    return Limiter(quota, clock=clock), clock


def test_decision_attributes_of_an_admitted_check():
    limiter, _ = manual()
    decision = limiter.check()
    assert isinstance(decision, Decision)
    assert decision.admitted and bool(decision)
    assert decision.outcome == Outcome.ADMITTED
    assert (decision.limit, decision.remaining) == (60, 59)
    assert decision.reset_after_ns == 33_333_334  # one interval, rounded up
    assert decision.reset_after == pytest.approx(0.033333334)
    assert decision.retry_after is None
    assert decision.retry_after_ns == 0


def test_denied_check_reports_retry_after_rounded_up():
    limiter, _ = manual()
    for _ in range(60):
        assert limiter.check().admitted
    denied = limiter.check()
    assert denied.outcome == Outcome.DENIED
    assert not denied
    assert denied.remaining == 0
    assert denied.retry_after_ns == 33_333_334
    assert denied.retry_after == pytest.approx(0.033333334)
    assert denied.reset_after_ns == 2 * SECOND_NS


def test_cost_above_burst_cannot_fit_and_charges_nothing():
    limiter, _ = manual()
    decision = limiter.check(61)
    assert decision.outcome == Outcome.CANNOT_FIT
    assert decision.retry_after is None and decision.retry_after_ns == 0
    assert limiter.peek().remaining == 60


def test_refill_over_time_on_the_manual_clock():
    limiter, clock = manual()
    assert limiter.check(60).admitted
    clock.advance(1)
    assert limiter.peek().remaining == 30
    clock.advance(datetime.timedelta(milliseconds=500))
    assert limiter.peek().remaining == 45
    clock.advance_ns(SECOND_NS)
    assert limiter.peek().remaining == 60
    assert clock.now_ns() == 2_500_000_000


def test_clock_set_backwards_reads_as_debt_and_only_denies():
    limiter, clock = manual(start_ns=10 * SECOND_NS)
    assert limiter.check(60).admitted
    clock.set_ns(5 * SECOND_NS)
    assert limiter.check().outcome == Outcome.DENIED


def test_cost_zero_and_peek_charge_nothing():
    limiter, _ = manual()
    limiter.check(10)
    assert limiter.check(0).remaining == 50
    assert limiter.peek().remaining == 50
    assert limiter.peek().admitted


def test_refund_gives_capacity_back_never_above_burst():
    limiter, _ = manual(Quota.per_second(5))
    limiter.check(3)
    assert limiter.refund().remaining == 3
    assert limiter.refund(100).remaining == 5


def test_supplied_timestamps_drive_the_same_bucket():
    limiter = Limiter(Quota.per_second(1))
    assert limiter.check(1, 5 * SECOND_NS).admitted
    assert not limiter.check(1, now_ns=5_500_000_000).admitted
    assert limiter.check(cost=1, now_ns=6 * SECOND_NS).admitted
    assert limiter.peek(now_ns=6 * SECOND_NS).remaining == 0
    assert limiter.refund(1, now_ns=6 * SECOND_NS).remaining == 1


def test_reconfigure_carries_used_capacity_and_reads_back():
    limiter, _ = manual()
    limiter.check(40)
    bigger = Quota.per_second(50, burst=100)
    limiter.reconfigure(bigger)
    assert limiter.quota == bigger
    assert limiter.peek().remaining == 60  # 40 used of 100
    limiter.reconfigure(Quota.per_second(10, burst=20), now_ns=0)
    assert limiter.peek().remaining == 0  # 40 used, capped at 20
    assert limiter.peek().limit == 20


def test_monotonic_clock_limiter_admits_its_burst():
    limiter = Limiter(Quota.per_hour(3))
    assert [limiter.check().admitted for _ in range(4)] == [True, True, True, False]
    assert limiter.quota == Quota.per_hour(3)


def test_decisions_compare_by_value():
    first, _ = manual()
    second, _ = manual()
    assert first.check() == second.check()
    assert hash(first.peek()) == hash(second.peek())
    assert first.check() != first.check()
    assert "remaining=57" in repr(first.peek())


def test_outcome_members_are_distinct_and_hashable():
    members = {Outcome.ADMITTED, Outcome.DENIED, Outcome.CANNOT_FIT}
    assert len(members) == 3
    assert repr(Outcome.DENIED) == "Outcome.DENIED"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda limiter: limiter.check(-1), ValueError, "cost must be between 0 and 2\\*\\*64 - 1, got -1"),
        (lambda limiter: limiter.check(2**64), ValueError, "cost must be between"),
        (lambda limiter: limiter.check(1.0), TypeError, "cost must be an int, got float"),
        (lambda limiter: limiter.check(None), TypeError, "cost must be an int, got NoneType"),
        (lambda limiter: limiter.check(1, -5), ValueError, "now_ns must be between"),
        (lambda limiter: limiter.check(1, "now"), TypeError, "now_ns must be an int, got str"),
        (lambda limiter: limiter.refund(-1), ValueError, "amount must be between"),
        (lambda limiter: limiter.peek(now_ns=1.5), TypeError, "now_ns must be an int"),
        (lambda limiter: limiter.reconfigure(30), TypeError, "Quota"),
        (lambda limiter: limiter.check(1, 2, 3), TypeError, "takes from 0 to 2 positional arguments"),
        (lambda limiter: limiter.check(costs=1), TypeError, "costs"),
    ],
)
def test_bad_arguments_raise_and_leave_the_bucket_alone(call, error, message):
    limiter, _ = manual()
    limiter.check(7)
    with pytest.raises(error, match=message):
        call(limiter)
    assert limiter.peek().remaining == 53
    assert limiter.quota == HOBBY


def test_limiter_needs_a_quota_and_a_manual_clock():
    with pytest.raises(TypeError):
        Limiter(30)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Limiter(HOBBY, clock=object())  # type: ignore[arg-type]


def test_manual_clock_validates_its_arguments():
    clock = ManualClock()
    with pytest.raises(ValueError, match="seconds must"):
        clock.advance(-1)
    with pytest.raises(TypeError, match="seconds must be"):
        clock.advance("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ns must be between"):
        clock.set_ns(-1)
    with pytest.raises(ValueError, match="start_ns must be between"):
        ManualClock(-3)
    assert clock.now_ns() == 0
