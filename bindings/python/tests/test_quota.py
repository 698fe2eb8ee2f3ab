"""floodgate.Quota: construction, readback, validation."""

import datetime

import pytest

from floodgate import FloodgateError, Quota

SECOND_NS = 1_000_000_000


def test_per_unit_constructors_read_back():
    assert (Quota.per_second(30).count, Quota.per_second(30).period_ns) == (30, SECOND_NS)
    assert Quota.per_minute(600).period_ns == 60 * SECOND_NS
    assert Quota.per_hour(5_000).period == 3600.0
    assert Quota.per_day(1).period == 86_400.0


def test_burst_defaults_to_count_and_is_keyword_only():
    assert Quota.per_second(30).burst == 30
    assert Quota.per_second(30, burst=60).burst == 60
    with pytest.raises(TypeError):
        Quota.per_second(30, 60)  # type: ignore[misc]


def test_with_burst_keeps_the_rate():
    quota = Quota.per_second(30).with_burst(60)
    assert (quota.count, quota.period_ns, quota.burst) == (30, SECOND_NS, 60)


def test_period_as_int_float_or_timedelta_all_agree():
    expected = Quota.per_period_ns(600, 60 * SECOND_NS, burst=10)
    assert Quota(600, 60, burst=10) == expected
    assert Quota(600, 60.0, burst=10) == expected
    assert Quota(600, datetime.timedelta(minutes=1), burst=10) == expected


def test_float_period_rounds_to_nearest_nanosecond():
    # 0.3 is 0.29999999999999998890 as a double: truncating would give 299_999_999 ns.
    assert Quota(3, 0.3).period_ns == 300_000_000


def test_emission_interval_and_exactness():
    quota = Quota.per_second(30)
    assert quota.emission_interval_ns == 33_333_333
    assert quota.emission_interval == pytest.approx(1 / 30, abs=1e-9)
    assert quota.is_exact
    assert Quota.per_second(400_000_000).count == 400_000_000  # not rounded to 500M/s
    assert not Quota.per_second(1_000_003).is_exact


def test_equal_quotas_hash_alike_and_repr_round_trips():
    quota = Quota.per_second(30, burst=60)
    assert quota == Quota.per_period_ns(30, SECOND_NS, burst=60)
    assert hash(quota) == hash(Quota.per_period_ns(30, SECOND_NS, burst=60))
    assert quota != Quota.per_second(30)
    assert eval(repr(quota), {"Quota": Quota}) == quota
    assert len({quota, Quota.per_second(30, burst=60), Quota.per_second(31)}) == 2


def test_quota_is_immutable():
    quota = Quota.per_second(1)
    with pytest.raises(AttributeError):
        quota.burst = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Quota.per_second(0), "count must be at least 1"),
        (lambda: Quota.per_second(5, burst=0), "burst must be at least 1"),
        (lambda: Quota(5, 0), "period must be at least 1 ns"),
        (lambda: Quota.per_period_ns(2, 1), "rate must not exceed 1 per ns"),
        (lambda: Quota.per_day(1, burst=2**63), "burst"),
        (lambda: Quota.per_second(1).with_burst(0), "burst must be at least 1"),
    ],
)
def test_engine_refusals_raise_floodgate_error(build, message):
    with pytest.raises(FloodgateError, match=message) as raised:
        build()
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: Quota.per_second(-1), ValueError, "count must be between 0 and 2\\*\\*64 - 1, got -1"),
        (lambda: Quota.per_second(2**64), ValueError, "count must be between"),
        (lambda: Quota.per_second(1.5), TypeError, "count must be an int, got float"),
        (lambda: Quota.per_second("30"), TypeError, "count must be an int, got str"),
        (lambda: Quota.per_second(5, burst=-2), ValueError, "burst must be between"),
        (lambda: Quota(5, -1.0), ValueError, "period must be between 0 and"),
        (lambda: Quota(5, float("nan")), ValueError, "period must be between 0 and"),
        (lambda: Quota(5, float("inf")), ValueError, "period must be between 0 and"),
        (lambda: Quota(5, -1), ValueError, "period must be between 0 and 2\\*\\*64 - 1"),
        (lambda: Quota(5, datetime.timedelta(seconds=-1)), ValueError, "period must not be negative"),
        (lambda: Quota(5, "1s"), TypeError, "period must be seconds \\(int or float\\) or a datetime.timedelta"),
        (lambda: Quota(5, 1e30), ValueError, "period must be between"),
    ],
)
def test_bad_arguments_raise_value_or_type_error(build, error, message):
    with pytest.raises(error, match=message):
        build()
