"""Quota.parse: limits in the notation of slowapi, Flask-Limiter and limits."""

import pytest

from floodgate import FloodgateError, Quota


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [
        ("30/second", 30, 1.0),
        ("30 per second", 30, 1.0),
        ("600 per minute", 600, 60.0),
        ("1/Hour", 1, 3600.0),
        ("2/days", 2, 86_400.0),
        ("10/2 minutes", 10, 120.0),
        ("7 / 5s", 7, 5.0),
    ],
)
def test_one_limit(text, count, period):
    (quota,) = Quota.parse(text)
    assert (quota.count, quota.period, quota.burst) == (count, period, count)


def test_several_limits_separated_by_semicolons_in_order():
    assert Quota.parse("5/minute; 100/hour") == [Quota.per_minute(5), Quota.per_hour(100)]


@pytest.mark.parametrize(
    "text",
    ["", "5", "5/", "/minute", "-5/minute", "+5/minute", "5/fortnight", "5 minute", "5/minute;", "5.5/s", "0/second", "5/0 seconds", "1_0/s"],
)
def test_what_is_no_limit_raises_floodgate_error(text):
    with pytest.raises(FloodgateError):
        Quota.parse(text)
    assert issubclass(FloodgateError, ValueError)


def test_a_non_string_raises_type_error():
    with pytest.raises(TypeError):
        Quota.parse(5)  # type: ignore[arg-type]
