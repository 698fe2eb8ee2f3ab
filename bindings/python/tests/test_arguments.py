"""Bad arguments: bool is never a number, and every out-of-range value raises
one family, FloodgateError (a ValueError subclass), with the library's message."""

import pytest

from floodgate import (
    FloodgateError,
    KeyedLimiter,
    KeyedWindows,
    Limiter,
    Plans,
    Quota,
    RetryPolicy,
    SlidingWindow,
)

HOBBY = Quota.per_second(30, burst=60)


@pytest.mark.parametrize("flag", [True, False])
def test_a_bool_is_not_a_cost(flag):
    limiter = Limiter(HOBBY)
    keyed = KeyedLimiter(HOBBY, capacity=8)
    with pytest.raises(TypeError, match="cost must be an int, got bool"):
        limiter.check(flag)
    with pytest.raises(TypeError, match="cost must be an int, got bool"):
        keyed.check("k", flag)
    with pytest.raises(TypeError):
        KeyedLimiter(HOBBY, capacity=flag)
    assert limiter.check(0).remaining == 60, "nothing was charged"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: Limiter(HOBBY).check(-1), id="negative cost"),
        pytest.param(lambda: Limiter(HOBBY).check(2**64), id="cost past 2**64 - 1"),
        pytest.param(lambda: KeyedLimiter(HOBBY, capacity=8).check("k", -1), id="negative keyed cost"),
        pytest.param(lambda: KeyedLimiter(HOBBY, capacity=0), id="zero capacity"),
        pytest.param(lambda: KeyedLimiter(HOBBY, capacity=-1), id="negative capacity"),
        pytest.param(lambda: KeyedLimiter(HOBBY, capacity=8).check(-1), id="negative key"),
        pytest.param(lambda: KeyedLimiter(HOBBY, capacity=8).check(""), id="empty key"),
        pytest.param(lambda: KeyedLimiter(HOBBY, capacity=8).check("k" * 4097), id="4,097-byte key"),
        pytest.param(lambda: KeyedLimiter(HOBBY, capacity=8).check("\ud800"), id="lone surrogate"),
        pytest.param(lambda: Plans.genieos().check("hobby", "\udfff", 1), id="lone surrogate plan key"),
        pytest.param(lambda: KeyedLimiter(HOBBY, capacity=8, on_full="drop"), id="unknown on_full"),
        pytest.param(lambda: Quota.per_second(0), id="zero count"),
        pytest.param(lambda: SlidingWindow(5, -1.0), id="negative window"),
        pytest.param(lambda: KeyedWindows(0, 60), id="zero limit"),
        pytest.param(lambda: Plans.genieos().check("hobby", "k", -1), id="negative workspace"),
        pytest.param(lambda: RetryPolicy.genieos().with_jitter("some"), id="unknown jitter"),
    ],
)
def test_every_out_of_range_argument_raises_floodgate_error(call):
    with pytest.raises(FloodgateError) as raised:
        call()
    assert isinstance(raised.value, ValueError)
    assert str(raised.value), "the library's message"


def test_zero_and_negative_costs_raise_the_same_family():
    limiter = Limiter(HOBBY)
    assert limiter.check(0).admitted, "zero is a peek, not an error"
    with pytest.raises(FloodgateError, match="cost must be between 0 and 2\\*\\*64 - 1, got -1"):
        limiter.check(-1)
    with pytest.raises(FloodgateError):
        Limiter(Quota.per_second(1, burst=1)).reserve(0, -1)
