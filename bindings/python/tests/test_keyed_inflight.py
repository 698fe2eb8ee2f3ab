"""floodgate.KeyedInFlight: a cap on concurrent permits per key."""

import gc

import pytest

from floodgate import FloodgateError, KeyedInFlight, Permit


def test_each_key_has_its_own_cap():
    batches = KeyedInFlight(4, 100)
    held = [batches.try_acquire(7) for _ in range(4)]
    assert all(isinstance(permit, Permit) for permit in held)
    assert batches.try_acquire(7) is None
    assert batches.in_flight(7) == 4
    assert batches.try_acquire(8) is not None  # its own cap (dropped at once)
    assert batches.try_acquire("7") is not None  # ints are keys of their own kind
    assert batches.in_flight(8) == 0 and batches.in_flight("never") == 0
    first = held[0]
    assert first is not None
    assert (first.in_flight, first.limit, first.remaining) == (1, 4, 3)
    assert first.release() == 3
    assert batches.try_acquire(7) is not None


def test_permits_as_context_managers_and_str_bytes_share_a_cap():
    batches = KeyedInFlight(1, 10)
    with batches.try_acquire("ws") as permit:
        assert permit.in_flight == 1
        assert batches.try_acquire(b"ws") is None
        assert batches.in_flight(b"ws") == 1
    assert batches.in_flight("ws") == 0


def test_exit_releases_even_when_the_block_raises_and_after_an_early_release():
    batches = KeyedInFlight(1, 10)
    with pytest.raises(RuntimeError):
        with batches.try_acquire(1):
            raise RuntimeError("boom")
    assert batches.in_flight(1) == 0
    with batches.try_acquire(1) as permit:
        assert permit.release() == 0
    assert batches.in_flight(1) == 0


def test_double_release_raises_and_changes_nothing():
    batches = KeyedInFlight(2, 10)
    permit = batches.try_acquire("k")
    other = batches.try_acquire("k")
    assert permit is not None and other is not None
    permit.release()
    with pytest.raises(FloodgateError):
        permit.release()
    assert batches.in_flight("k") == 1


def test_dropping_a_permit_gives_it_back():
    batches = KeyedInFlight(1, 10)
    permit = batches.try_acquire("k")
    assert batches.in_flight("k") == 1
    del permit
    gc.collect()
    assert batches.in_flight("k") == 0


def test_a_full_table_refuses_a_new_key():
    batches = KeyedInFlight(1, 1)
    kept = batches.try_acquire("a")
    assert kept is not None
    with pytest.raises(FloodgateError):
        batches.try_acquire("b")
    assert batches.in_flight("b") == 0


def test_bad_arguments():
    with pytest.raises(FloodgateError):
        KeyedInFlight(0, 10)
    with pytest.raises(FloodgateError):
        KeyedInFlight(4, 0)
    with pytest.raises(ValueError):
        KeyedInFlight(-1, 10)
    with pytest.raises(TypeError):
        KeyedInFlight("4", 10)  # type: ignore[arg-type]
    batches = KeyedInFlight(4, 10)
    with pytest.raises(TypeError):
        batches.try_acquire(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        batches.in_flight(1.0)  # type: ignore[arg-type]
    with pytest.raises(FloodgateError):
        batches.try_acquire(b"")
    assert (batches.limit, batches.capacity) == (4, 10)
    assert repr(batches) == "KeyedInFlight(4, 10)"
