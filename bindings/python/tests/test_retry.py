"""floodgate.RetryPolicy, Retry and parse_retry_after: the client side of a 429."""

import datetime

import pytest

from floodgate import FloodgateError, Retry, RetryPolicy, parse_retry_after

MS = 0.001
SUN_06_NOV_1994_08_49_27_NS = 784_111_767 * 10**9


def test_genieos_backoff_without_jitter():
    policy = RetryPolicy.genieos().with_jitter("none")
    assert policy.max_retries == 5
    delays = [policy.delay(retry) for retry in range(6)]
    assert delays[:5] == pytest.approx([0.25, 0.5, 1.0, 2.0, 4.0])
    assert delays[5] is None


def test_license_api_backoff():
    policy = RetryPolicy.license_api().with_jitter("none")
    assert [policy.backoff(retry) for retry in range(5)] == [1.0, 2.0, 4.0, 8.0, None]


def test_retry_after_is_honoured_exactly():
    policy = RetryPolicy.genieos()
    assert policy.delay(0, 30) == 30.0
    assert policy.delay(1, datetime.timedelta(milliseconds=600)) == pytest.approx(0.6)
    assert policy.delay(5, 1.0) is None  # retries used up


def test_equal_jitter_is_deterministic_under_a_seed_and_bounded():
    one = RetryPolicy.genieos().with_seed(42)
    two = RetryPolicy.genieos().with_seed(42)
    delays = [one.delay(retry) for retry in range(5)]
    assert delays == [two.delay(retry) for retry in range(5)]
    for retry, delay in enumerate(delays):
        nominal = one.backoff(retry)
        assert nominal is not None and delay is not None
        assert nominal / 2 <= delay <= nominal


def test_full_jitter_stays_below_the_nominal_delay():
    policy = RetryPolicy(1, 2, 4, 8, jitter="full", seed=7)
    for retry in range(4):
        delay, nominal = policy.delay(retry), policy.backoff(retry)
        assert delay is not None and nominal is not None and 0 <= delay <= nominal


def test_custom_policy_is_capped_and_bounded():
    policy = RetryPolicy(0.1, 3, 9, datetime.timedelta(seconds=1), jitter="none", seed=1)
    assert [policy.backoff(retry) for retry in range(4)] == pytest.approx([0.1, 0.3, 0.9, 1.0])
    assert policy.with_max_retries(2).backoff(2) is None


def test_a_retry_sequence_counts_its_retries():
    retry = RetryPolicy.genieos().with_seed(1).start()
    assert isinstance(retry, Retry)
    assert retry.next_delay(parse_retry_after("0.6")) == pytest.approx(0.6)
    assert retry.retries == 1
    while retry.next_delay() is not None:
        pass
    assert retry.retries == 5
    assert retry.next_delay(10) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0.6", 0.6),
        ("120", 120.0),
        (" 2 ", 2.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 10.0),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 10.0),
        ("Sun Nov  6 08:49:37 1994", 10.0),
        ("Sun, 06 Nov 1994 08:49:17 GMT", 0.0),  # already past
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, SUN_06_NOV_1994_08_49_27_NS) == pytest.approx(seconds)


def test_parse_retry_after_against_the_current_time():
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT") == 0.0
    assert parse_retry_after("3") == 3.0


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: parse_retry_after("-1"), FloodgateError, "neither seconds nor an HTTP date"),
        (lambda: parse_retry_after("soon"), FloodgateError, "neither seconds nor an HTTP date"),
        (lambda: parse_retry_after(5), TypeError, "str"),
        (lambda: RetryPolicy(1, 0, 4, 8), FloodgateError, "retry policy needs factor >= 1"),
        (lambda: RetryPolicy(9, 2, 4, 8), FloodgateError, "initial delay <= max delay"),
        (lambda: RetryPolicy(1, 2, -1, 8), ValueError, "max_retries must be between 0 and 2\\*\\*32 - 1"),
        (lambda: RetryPolicy(1, 2**32, 4, 8), ValueError, "factor must be between"),
        (lambda: RetryPolicy(1, 2, 4, 8, jitter="some"), ValueError, "jitter must be 'none', 'equal' or 'full'"),
        (lambda: RetryPolicy(1, 2, 4, 8, jitter=None), TypeError, "jitter must be"),
        (lambda: RetryPolicy(1, 2, 4, 8, seed=-1), ValueError, "seed must be between"),
        (lambda: RetryPolicy.genieos().delay(-1), ValueError, "retry must be between"),
        (lambda: RetryPolicy.genieos().delay(0, -0.5), ValueError, "retry_after must be between"),
        (lambda: RetryPolicy.genieos().delay(0, "0.6"), TypeError, "retry_after must be seconds"),
    ],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()
