"""floodgate.KeyedLimiter: one bucket per str, bytes or int key."""

import threading

import pytest

from floodgate import FloodgateError, KeyedLimiter, ManualClock, Outcome, Quota

SECOND_NS = 1_000_000_000
HOBBY = Quota.per_second(30, burst=60)  # GenieOS per-key default


def keyed(quota=HOBBY, **options):
    clock = ManualClock()
    return KeyedLimiter(quota, clock=clock, **options), clock


def test_each_key_has_its_own_bucket():
    limiter, _ = keyed()
    assert all(limiter.check("gos_live_a").admitted for _ in range(60))
    denied = limiter.check("gos_live_a")
    assert denied.outcome == Outcome.DENIED
    assert denied.retry_after_ns == 33_333_334
    other = limiter.check("gos_live_b")
    assert other.admitted and other.remaining == 59


def test_str_and_its_utf8_bytes_are_one_key_ints_are_another_kind():
    limiter, _ = keyed()
    limiter.check("7", 10)
    assert limiter.peek(b"7").remaining == 50
    assert limiter.peek("ключ").remaining == 60
    limiter.check("ключ", 5)
    assert limiter.peek("ключ".encode()).remaining == 55
    assert limiter.peek(7).remaining == 60
    limiter.check(7, 1)
    assert limiter.peek(7).remaining == 59
    assert limiter.peek("7").remaining == 50
    assert len(limiter) == 3


def test_int_keys_cover_the_whole_u64_range():
    limiter, _ = keyed()
    assert limiter.check(0).remaining == 59
    assert limiter.check(2**64 - 1, 2).remaining == 58
    assert limiter.peek(0).remaining == 59


@pytest.mark.parametrize(
    ("key", "error", "message"),
    [
        ("", FloodgateError, "key must not be empty"),
        (b"", FloodgateError, "key must not be empty"),
        ("k" * 4097, FloodgateError, "key exceeds MAX_KEY_LEN"),
        (-1, ValueError, "key must be between 0 and 2\\*\\*64 - 1"),
        (2**64, ValueError, "key must be between 0 and 2\\*\\*64 - 1"),
        (None, TypeError, "key must be str, bytes or int, got NoneType"),
        (1.5, TypeError, "key must be str, bytes or int, got float"),
        (True, TypeError, "key must be str, bytes or int, got bool"),
        (bytearray(b"k"), TypeError, "key must be str, bytes or int, got bytearray"),
        (("a", 1), TypeError, "key must be str, bytes or int, got tuple"),
    ],
)
def test_bad_keys_raise_and_change_nothing(key, error, message):
    limiter, _ = keyed()
    for call in (
        lambda: limiter.check(key),
        lambda: limiter.peek(key),
        lambda: limiter.refund(key),
        lambda: limiter.reserve(key, 1, 1.0),
        lambda: limiter.set_quota(key, Quota.per_second(1)),
        lambda: limiter.clear_quota(key),
        lambda: limiter.quota_for(key),
    ):
        with pytest.raises(error, match=message):
            call()
    assert len(limiter) == 0


def test_longest_key_is_accepted():
    limiter, _ = keyed()
    assert limiter.check("k" * 4096).admitted
    assert limiter.check(b"\x00" * 4096).admitted


def test_refund_peek_and_supplied_time():
    limiter = KeyedLimiter(Quota.per_second(1))
    assert limiter.check("a", 1, 5 * SECOND_NS).admitted
    assert not limiter.check("a", 1, now_ns=5_500_000_000).admitted
    assert limiter.refund("a", 1, now_ns=5_500_000_000).remaining == 1
    assert limiter.check("a", now_ns=5_500_000_000).admitted
    assert limiter.peek("a", now_ns=6_500_000_000).remaining == 1
    assert limiter.check("a", 2, 7 * SECOND_NS).outcome == Outcome.CANNOT_FIT


def test_peek_of_an_unknown_key_reads_full_and_inserts_nothing():
    limiter, _ = keyed()
    assert limiter.peek("nobody").remaining == 60
    assert limiter.peek(42).remaining == 60
    assert len(limiter) == 0


def test_per_key_quota_at_runtime():
    limiter, _ = keyed(Quota.per_second(15))  # Clarifai: 15 r/s unless agreed otherwise
    limiter.check("acme", 4)
    limiter.set_quota("acme", Quota.per_second(100))
    assert limiter.quota_for("acme") == Quota.per_second(100)
    assert limiter.quota_for("other") == Quota.per_second(15)
    assert limiter.peek("acme").remaining == 96
    limiter.clear_quota("acme")
    assert limiter.quota_for("acme") == Quota.per_second(15)
    assert limiter.peek("acme").remaining == 11
    limiter.set_quota(9, Quota.per_second(2))
    assert limiter.quota_for(9).count == 2


def test_per_key_quotas_are_bounded_by_max_overrides():
    limiter, _ = keyed(max_overrides=1)
    limiter.set_quota("a", Quota.per_second(5))
    with pytest.raises(FloodgateError, match="maximum number of per-key quotas"):
        limiter.set_quota("b", Quota.per_second(5))
    assert limiter.quota_for("b") == HOBBY


def test_reconfigure_keeps_usage_and_reaches_both_kinds():
    limiter, _ = keyed()
    limiter.check("a", 40)
    limiter.check(1, 40)
    limiter.reconfigure(Quota.per_second(50, burst=100))
    assert limiter.quota.burst == 100
    assert limiter.peek("a").remaining == 60
    assert limiter.peek(1).remaining == 60
    # A kind first used after the change starts from the new default.
    fresh, _ = keyed()
    fresh.check("a")
    fresh.reconfigure(Quota.per_second(50, burst=100))
    assert fresh.check(5).remaining == 99


def test_reserve_delays_instead_of_rejecting():
    limiter, _ = keyed(Quota.per_second(10))
    limiter.check("cust_1", 10)
    reserved = limiter.reserve("cust_1", 2, 1.0)
    assert reserved.admitted
    assert reserved.delay_ns == 200_000_000
    refused = limiter.reserve("cust_1", 10, 0.5)
    assert refused.outcome == Outcome.DENIED and refused.delay == 0.0
    limiter.refund("cust_1", 2)  # the caller gave up: cancel the reservation
    assert limiter.reserve("cust_1", 1, 1.0).delay_ns == 100_000_000


@pytest.mark.parametrize(
    ("on_full", "outcome"),
    [("deny", Outcome.DENIED), ("admit", Outcome.ADMITTED), ("overflow", Outcome.ADMITTED)],
)
def test_full_table_behaviour(on_full, outcome):
    limiter = KeyedLimiter(Quota.per_second(1), capacity=1, on_full=on_full, clock=ManualClock())
    assert limiter.check("first").admitted
    assert limiter.check("second").outcome == outcome
    assert limiter.full_table_events == 1
    assert limiter.capacity == 1


def test_overflow_bucket_is_shared_by_keys_without_a_slot():
    limiter = KeyedLimiter(Quota.per_second(1), capacity=1, on_full="overflow", clock=ManualClock())
    limiter.check("first")
    assert limiter.check("second").admitted
    assert not limiter.check("third").admitted


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"capacity": 0}, FloodgateError, "capacity must be at least 1"),
        ({"capacity": 2**32 + 1}, FloodgateError, "exceeds MAX_KEYED_CAPACITY"),
        ({"capacity": -1}, ValueError, "capacity must be between"),
        ({"capacity": "big"}, TypeError, "capacity must be an int"),
        ({"on_full": "drop"}, ValueError, "on_full must be 'deny', 'admit' or 'overflow'"),
        ({"on_full": 1}, TypeError, "on_full must be a str"),
        ({"max_overrides": -1}, ValueError, "max_overrides must be between"),
    ],
)
def test_bad_configuration(options, error, message):
    with pytest.raises(error, match=message):
        KeyedLimiter(HOBBY, **options)


def test_quota_must_be_a_quota():
    with pytest.raises(TypeError):
        KeyedLimiter(30)  # type: ignore[arg-type]


def test_now_ns_and_repr():
    limiter, clock = keyed()
    clock.advance(2)
    assert limiter.now_ns() == 2 * SECOND_NS
    assert repr(limiter) == "KeyedLimiter(Quota.per_period_ns(30, 1000000000, burst=60), capacity=65536)"


def test_many_threads_on_many_keys_never_exceed_a_keys_burst():
    limiter = KeyedLimiter(Quota.per_hour(1, burst=50), capacity=1024)
    keys = [f"key-{index}" for index in range(16)] + list(range(16))
    admitted = {key: 0 for key in keys}
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker():
        start.wait()
        mine = {key: 0 for key in keys}
        for _ in range(100):
            for key in keys:
                if limiter.check(key).admitted:
                    mine[key] += 1
        with lock:
            for key, count in mine.items():
                admitted[key] += count

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One per hour refills nothing during the test: exactly the burst each.
    assert admitted == {key: 50 for key in keys}


@pytest.mark.parametrize("key", ["gos_live_a", b"gos_live_a", 42])
def test_reset_gives_a_key_its_whole_burst_back_and_touches_no_other(key):
    limiter, _ = keyed()
    assert limiter.check(key, 60).admitted
    assert limiter.check("other", 10).admitted
    limiter.reset(key)
    assert limiter.peek(key).remaining == 60
    assert limiter.peek("other").remaining == 50
    limiter.reset("never_seen")  # nothing to reset: no error, nothing inserted
    with pytest.raises(FloodgateError):
        limiter.reset("")
