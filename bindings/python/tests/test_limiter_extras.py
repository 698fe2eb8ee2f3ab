"""Limiter suspension, reservations (delay instead of reject), lockout and the warning zone."""

import datetime

import pytest

from floodgate import FloodgateError, Limiter, ManualClock, Outcome, Quota

SECOND_NS = 1_000_000_000


def manual(quota):
    clock = ManualClock()
    return Limiter(quota, clock=clock), clock


def test_suspension_until_a_time_has_its_own_outcome_and_charges_nothing():
    limiter, clock = manual(Quota.per_second(10))
    limiter.check(3)
    limiter.suspend_until(5 * SECOND_NS)
    suspended = limiter.check()
    assert suspended.outcome == Outcome.SUSPENDED
    assert not suspended.admitted
    assert suspended.retry_after_ns == 5 * SECOND_NS
    assert "Outcome.SUSPENDED" in repr(suspended)
    assert limiter.peek().outcome == Outcome.SUSPENDED
    clock.set_ns(5 * SECOND_NS)
    assert limiter.check().admitted


def test_open_ended_suspension_and_lifting_it_keeps_the_bucket():
    limiter, _ = manual(Quota.per_second(10))
    limiter.check(4)
    limiter.suspend_until(None)
    assert limiter.check().retry_after is None
    assert limiter.check().outcome == Outcome.SUSPENDED
    limiter.lift_suspension()
    assert limiter.check().remaining == 5


def test_suspend_for_counts_from_now():
    limiter, clock = manual(Quota.per_second(10))
    clock.advance(1)
    limiter.suspend_for(datetime.timedelta(seconds=2))
    assert limiter.check().retry_after_ns == 2 * SECOND_NS
    clock.advance(2.5)
    assert limiter.check().admitted


def test_reserve_within_max_wait_admits_with_a_delay():
    limiter, _ = manual(Quota.per_second(10))
    limiter.check(10)
    reserved = limiter.reserve(1, 1.0)
    assert reserved.admitted and reserved.outcome == Outcome.ADMITTED
    assert reserved.delay_ns == 100_000_000
    assert reserved.delay == pytest.approx(0.1)
    too_long = limiter.reserve(10, datetime.timedelta(milliseconds=500))
    assert too_long.outcome == Outcome.DENIED
    assert too_long.delay == 0.0 and too_long.retry_after is not None
    limiter.refund(1)  # cancel the reservation
    assert limiter.reserve(1, 1.0).delay_ns == 100_000_000


def test_plain_checks_have_no_delay():
    limiter, _ = manual(Quota.per_second(10))
    assert limiter.check().delay_ns == 0


def test_lockout_makes_hammering_extend_the_wait_within_its_bound():
    quota = Quota.per_second(10, lockout=5)
    assert quota.lockout == 5.0 and quota.lockout_ns == 5 * SECOND_NS
    limiter, _ = manual(quota)
    limiter.check(10)
    first = limiter.check().retry_after_ns
    second = limiter.check().retry_after_ns
    assert second > first
    for _ in range(1_000):
        limiter.check()
    assert limiter.check().retry_after_ns == 5_100_000_000


def test_lockout_on_every_constructor_and_with_lockout():
    assert Quota.per_minute(600, burst=10, lockout=1).lockout == 1.0
    assert Quota(30, 1.0, lockout=datetime.timedelta(seconds=2)).lockout == 2.0
    assert Quota.per_period_ns(1, SECOND_NS, lockout=0.5).lockout_ns == 500_000_000
    quota = Quota.per_second(10).with_lockout(3)
    assert quota.lockout == 3.0
    assert quota != Quota.per_second(10)
    assert quota.with_lockout(0) == Quota.per_second(10)
    assert repr(quota) == "Quota.per_period_ns(10, 1000000000, burst=10, lockout=3.0)"
    assert Quota.per_second(10).lockout == 0.0


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: Quota.per_second(1, lockout=10**9), FloodgateError, "lockout plus burst"),
        (lambda: Quota.per_second(1, lockout=-1), ValueError, "lockout must be between"),
        (lambda: Quota.per_second(1, lockout="5s"), TypeError, "lockout must be seconds"),
        (lambda: Quota.per_second(1).with_lockout(None), TypeError, "lockout must be seconds"),
    ],
)
def test_bad_lockouts(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda limiter: limiter.suspend_until(-1), ValueError, "until_ns must be between"),
        (lambda limiter: limiter.suspend_until(1.5), TypeError, "until_ns must be an int"),
        (lambda limiter: limiter.suspend_for(-1), ValueError, "seconds must be between"),
        (lambda limiter: limiter.reserve(1, -0.5), ValueError, "max_wait must be between"),
        (lambda limiter: limiter.reserve(1, None), TypeError, "max_wait must be seconds"),
    ],
)
def test_bad_suspension_and_reservation_arguments_change_nothing(call, error, message):
    limiter, _ = manual(Quota.per_second(10))
    with pytest.raises(error, match=message):
        call(limiter)
    assert limiter.check().remaining == 9


def test_warning_zone_at_twenty_percent_or_a_chosen_threshold():
    limiter, _ = manual(Quota.per_second(30))
    assert not limiter.check(23).in_warning_zone()  # 7 of 30 left
    decision = limiter.check(1)  # 6 left: 20 %
    assert decision.in_warning_zone()
    assert decision.in_warning_zone(percent=20)
    assert not decision.in_warning_zone(10)
    with pytest.raises(ValueError, match="percent must be between"):
        decision.in_warning_zone(-1)


def test_now_ns_reads_the_limiters_timeline():
    limiter, clock = manual(Quota.per_second(1))
    clock.advance_ns(42)
    assert limiter.now_ns() == 42
    monotonic = Limiter(Quota.per_second(1))
    assert monotonic.now_ns() <= monotonic.now_ns()
