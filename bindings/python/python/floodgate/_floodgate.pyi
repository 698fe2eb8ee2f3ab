"""Type stubs for the floodgate extension module (checked by tests/test_stubs.py)."""

import datetime
import os
from collections.abc import Sequence
from types import TracebackType
from typing import ClassVar, Final, Literal, final

__all__ = [
    "Decision",
    "ErrorBody",
    "FloodgateError",
    "Headers",
    "InFlight",
    "KeyedInFlight",
    "KeyedLimiter",
    "KeyedWindows",
    "LeasedLayers",
    "LeasedLimiter",
    "Limiter",
    "MAX_KEY_LEN",
    "ManualClock",
    "Outcome",
    "Permit",
    "Plans",
    "Policy",
    "Quota",
    "RateLimitPolicy",
    "RedisInFlight",
    "RedisLayers",
    "RedisPermit",
    "Retry",
    "RetryPolicy",
    "SlidingWindow",
    "Suspensions",
    "Verdict",
    "parse_retry_after",
    "remove_segment",
]

_Seconds = int | float | datetime.timedelta
_Key = str | bytes | int
"""A keyed limit's key. A str is the key of its UTF-8 bytes (so "k" and b"k"
are one key); ints, 0 to 2**64 - 1, are keys of their own kind (7 and "7"
differ). Byte keys must be 1 to 4096 bytes (FloodgateError otherwise); any
other type, bool included, raises TypeError."""
_FullTable = Literal["deny", "admit", "overflow"]
_Segment = str | os.PathLike[str]
# A Redis URL, or a Redis Cluster's node URLs.
_Store = str | list[str] | tuple[str, ...]
_OnFailure = Literal["open", "closed", "local"]
"""Where a shared limiter's state lives: a name (1 to 200 ASCII letters,
digits, ".", "_" or "-": the file /dev/shm/floodgate.<name>) or the path of
a file every worker process can map. A bad name raises FloodgateError;
another type (bytes included) raises TypeError."""
_Jitter = Literal["none", "equal", "full"]

MAX_KEY_LEN: Final[int]
"""The longest byte key, in bytes (4096): a longer key raises FloodgateError."""

class FloodgateError(ValueError):
    """An argument floodgate refused (out of range: a negative cost, an empty
    or oversized key...); every such argument raises it, with the library's
    message. A wrong type (bool included) raises TypeError. The call changed
    no state."""

@final
class Quota:
    """`count` requests per `period`, with up to `burst` at once."""

    def __new__(
        cls,
        count: int,
        period: _Seconds,
        *,
        burst: int | None = None,
        lockout: _Seconds | None = None,
    ) -> Quota: ...
    @staticmethod
    def per_period_ns(
        count: int, period_ns: int, *, burst: int | None = None, lockout: _Seconds | None = None
    ) -> Quota: ...
    @staticmethod
    def per_second(
        count: int, *, burst: int | None = None, lockout: _Seconds | None = None
    ) -> Quota: ...
    @staticmethod
    def per_minute(
        count: int, *, burst: int | None = None, lockout: _Seconds | None = None
    ) -> Quota: ...
    @staticmethod
    def per_hour(
        count: int, *, burst: int | None = None, lockout: _Seconds | None = None
    ) -> Quota: ...
    @staticmethod
    def per_day(
        count: int, *, burst: int | None = None, lockout: _Seconds | None = None
    ) -> Quota: ...
    @staticmethod
    def parse(text: str) -> list[Quota]:
        """The limits of ``"30/second"``, ``"600 per minute"``, ``"5/minute;100/hour"``."""
    def with_burst(self, burst: int) -> Quota: ...
    def with_lockout(self, lockout: _Seconds) -> Quota: ...
    @property
    def lockout(self) -> float: ...
    @property
    def lockout_ns(self) -> int: ...
    @property
    def count(self) -> int: ...
    @property
    def period(self) -> float: ...
    @property
    def period_ns(self) -> int: ...
    @property
    def burst(self) -> int: ...
    @property
    def emission_interval(self) -> float: ...
    @property
    def emission_interval_ns(self) -> int: ...
    @property
    def is_exact(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Outcome:
    """The verdict of one check."""

    ADMITTED: ClassVar[Outcome]
    DENIED: ClassVar[Outcome]
    CANNOT_FIT: ClassVar[Outcome]
    SUSPENDED: ClassVar[Outcome]
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __int__(self) -> int: ...

@final
class Decision:
    """The answer to a check; truthy when admitted."""

    @property
    def admitted(self) -> bool: ...
    @property
    def outcome(self) -> Outcome: ...
    @property
    def limit(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    @property
    def reset_after(self) -> float: ...
    @property
    def reset_after_ns(self) -> int: ...
    @property
    def retry_after(self) -> float | None: ...
    @property
    def retry_after_ns(self) -> int: ...
    @property
    def delay(self) -> float: ...
    @property
    def delay_ns(self) -> int: ...
    def in_warning_zone(self, percent: int = 20) -> bool: ...
    def __bool__(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ManualClock:
    """A clock that moves only when told to; limiters built on it share its time."""

    def __new__(cls, start_ns: int = 0) -> ManualClock: ...
    def now_ns(self) -> int: ...
    def advance(self, seconds: _Seconds) -> None: ...
    def advance_ns(self, ns: int) -> None: ...
    def set_ns(self, ns: int) -> None: ...

@final
class Limiter:
    """One lock-free GCRA bucket, safe to call from any number of threads.

    With `shared`, the bucket lives in that segment: every process building
    the limiter with it (gunicorn or uvicorn workers) charges one bucket, on
    the machine's monotonic clock. The first process creates the segment;
    the others wait for it (at most `shared_wait`, default 5 s: TimeoutError)
    and must ask for the same quota (FloodgateError names the field that
    differs). A system's refusal raises OSError.
    """

    def __new__(
        cls,
        quota: Quota,
        *,
        clock: ManualClock | None = None,
        shared: _Segment | None = None,
        shared_wait: _Seconds | None = None,
    ) -> Limiter: ...
    def check(self, cost: int = 1, now_ns: int | None = None) -> Decision: ...
    def reserve(self, cost: int, max_wait: _Seconds, now_ns: int | None = None) -> Decision: ...
    def peek(self, now_ns: int | None = None) -> Decision: ...
    def refund(self, amount: int = 1, now_ns: int | None = None) -> Decision: ...
    def reconfigure(self, quota: Quota, now_ns: int | None = None) -> None: ...
    def suspend_until(self, until_ns: int | None) -> None: ...
    def suspend_for(self, seconds: _Seconds) -> None: ...
    def lift_suspension(self) -> None: ...
    def now_ns(self) -> int: ...
    @property
    def quota(self) -> Quota: ...
    @property
    def is_shared(self) -> bool: ...

@final
class KeyedLimiter:
    """One GCRA bucket per key (str, bytes or int) in a fixed-size lock-free table.

    `capacity` keys of each kind: int keys and byte keys (str, bytes) live in
    separate tables, each allocated at its kind's first use (16 bytes per slot
    for ints, 24 for byte keys).

    With `shared`, the tables live in shared segments, as for Limiter: the
    byte keys' in the segment named, made or opened here, the int keys' in
    the file beside it with ".int" appended, made or opened at the first
    int key. Every process must build the limiter alike (quota, capacity,
    on_full, max_overrides).

    With `store` (a Redis URL, ``"redis://host:port/db"``, or a list of a
    Redis Cluster's node URLs, any of them) the buckets live
    in Redis: every process and host using that server, `prefix` (str or
    bytes, default ``"floodgate:"``) and quota enforces one limit, decided
    by the server's clock (`now_ns` is then rounded down to the
    microsecond). Limits with different quotas need different prefixes.
    Each call waits for Redis at most `deadline` (seconds or a timedelta,
    default 5 ms), with the GIL released; when Redis gives no answer
    `on_failure` decides: ``"open"`` (admit, the default), ``"closed"``
    (deny) or ``"local"`` (this process's share of the limit: with N hosts
    counted by heartbeats in Redis, the rate and burst divided by N). Keys are str or bytes (an int raises TypeError); `capacity`,
    `on_full` and `max_overrides` do not apply, and `reserve`,
    `set_quota`, `clear_quota`, `reset`, `quota_for` and `reconfigure`
    raise TypeError. `store_counters` reports how often Redis decided and
    how often it did not answer. A limiter built before a fork (gunicorn
    ``--preload``) connects again in each child at its first use there.
    """

    def __new__(
        cls,
        quota: Quota,
        *,
        capacity: int = 65536,
        on_full: _FullTable = "deny",
        max_overrides: int | None = None,
        clock: ManualClock | None = None,
        shared: _Segment | None = None,
        shared_wait: _Seconds | None = None,
        store: _Store | None = None,
        prefix: str | bytes | None = None,
        deadline: _Seconds | None = None,
        on_failure: _OnFailure | None = None,
    ) -> KeyedLimiter: ...
    def check(self, key: _Key, cost: int = 1, now_ns: int | None = None) -> Decision: ...
    def reserve(
        self, key: _Key, cost: int, max_wait: _Seconds, now_ns: int | None = None
    ) -> Decision: ...
    def peek(self, key: _Key, now_ns: int | None = None) -> Decision: ...
    def refund(self, key: _Key, amount: int = 1, now_ns: int | None = None) -> Decision: ...
    def set_quota(self, key: _Key, quota: Quota, now_ns: int | None = None) -> None: ...
    def clear_quota(self, key: _Key, now_ns: int | None = None) -> None: ...
    def reset(self, key: _Key, now_ns: int | None = None) -> None: ...
    def quota_for(self, key: _Key) -> Quota: ...
    def reconfigure(self, quota: Quota, now_ns: int | None = None) -> None: ...
    def now_ns(self) -> int: ...
    @property
    def quota(self) -> Quota: ...
    @property
    def capacity(self) -> int: ...
    @property
    def full_table_events(self) -> int: ...
    @property
    def is_shared(self) -> bool: ...
    @property
    def store_counters(self) -> dict[str, int] | None: ...
    def __len__(self) -> int: ...

@final
class SlidingWindow:
    """At most `limit` units per sliding `window`, safe from any number of threads.

    With `shared`, the counter lives in that segment, as for Limiter; every
    process must build it alike (limit, window).
    """

    def __new__(
        cls,
        limit: int,
        window: _Seconds,
        *,
        clock: ManualClock | None = None,
        shared: _Segment | None = None,
        shared_wait: _Seconds | None = None,
    ) -> SlidingWindow: ...
    def check(self, cost: int = 1, now_ns: int | None = None) -> Decision: ...
    def peek(self, now_ns: int | None = None) -> Decision: ...
    def refund(self, amount: int = 1, now_ns: int | None = None) -> Decision: ...
    def reconfigure(self, limit: int) -> None: ...
    def now_ns(self) -> int: ...
    @property
    def limit(self) -> int: ...
    @property
    def window(self) -> float: ...
    @property
    def window_ns(self) -> int: ...
    @property
    def is_shared(self) -> bool: ...

@final
class InFlight:
    """At most `limit` permits out at once; lock-free.

    With `shared`, the permits live in that segment, as for Limiter: every
    process building the cap with it (the same limit) shares one `limit`.
    Permits held by a process that dies come back: an acquire that finds
    the cap full frees a dead holder's permit.
    """

    def __new__(
        cls, limit: int, *, shared: _Segment | None = None, shared_wait: _Seconds | None = None
    ) -> InFlight: ...
    def try_acquire(self) -> Permit | None: ...
    @property
    def limit(self) -> int: ...
    @property
    def in_flight(self) -> int: ...
    @property
    def is_shared(self) -> bool: ...

@final
class KeyedInFlight:
    """At most `limit` permits out at once per key (str, bytes or int, as for
    KeyedLimiter); a key's cap is made by its first acquire. Raises
    FloodgateError when a new key finds no room among `capacity`.

    With `shared`, the caps live in shared segments, as for KeyedLimiter,
    and a dead process's permits come back, as for InFlight. Every process
    must give the same limit and capacity.
    """

    def __new__(
        cls,
        limit: int,
        capacity: int,
        *,
        shared: _Segment | None = None,
        shared_wait: _Seconds | None = None,
    ) -> KeyedInFlight: ...
    def try_acquire(self, key: _Key) -> Permit | None: ...
    def in_flight(self, key: _Key) -> int: ...
    @property
    def limit(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def is_shared(self) -> bool: ...

@final
class Permit:
    """One unit of an InFlight or KeyedInFlight cap: release(), a with block,
    or dropping it gives it back; a second release() raises FloodgateError."""

    def release(self) -> int: ...
    @property
    def in_flight(self) -> int: ...
    @property
    def limit(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    def __enter__(self) -> Permit: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> Literal[False]: ...

@final
class RateLimitPolicy:
    """A named quota for the IETF draft RateLimit-Policy / RateLimit fields."""

    def __new__(cls, name: str, quota: int, window: _Seconds) -> RateLimitPolicy: ...
    @staticmethod
    def from_quota(name: str, quota: Quota) -> RateLimitPolicy: ...
    @property
    def field(self) -> str: ...

@final
class Headers:
    """Which rate-limit header fields to render from a decision, and how."""

    def __new__(
        cls,
        *,
        retry_after_decimals: int | None = 1,
        policy: RateLimitPolicy | None = None,
        legacy: bool = True,
    ) -> Headers: ...
    def render(
        self, decision: Decision, scope: str = "key", now_unix_ns: int | None = None
    ) -> list[tuple[str, str]]: ...

@final
class ErrorBody:
    """The JSON body of a 429 response (GenieOS or Clarifai shape)."""

    @staticmethod
    def genieos(code: str, message: str) -> ErrorBody: ...
    @staticmethod
    def genieos_key() -> ErrorBody: ...
    @staticmethod
    def genieos_workspace() -> ErrorBody: ...
    @staticmethod
    def clarifai(details: str) -> ErrorBody: ...
    def with_type(self, kind: str) -> ErrorBody: ...
    def with_code(self, code: str) -> ErrorBody: ...
    def with_numeric_code(self, code: int) -> ErrorBody: ...
    def with_message(self, template: str) -> ErrorBody: ...
    def with_description(self, text: str) -> ErrorBody: ...
    def with_retry_after_decimals(self, decimals: int | None) -> ErrorBody: ...
    def render(self, decision: Decision, scope: str = "key", request_id: str = "") -> str: ...

@final
class KeyedWindows:
    """At most `limit` units per sliding `window` for each key (str, bytes or int).

    A key's window is made at its first check and kept; `capacity` keys of
    each kind (int; str and bytes).

    With `shared`, the tables live in shared segments, as for KeyedLimiter,
    both made or opened here. Every process must build the windows alike
    (limit, window, capacity, on_full).

    With `store` (a Redis URL, or a list of a Redis Cluster's node URLs)
    the windows live in Redis, with the decisions of local windows of the
    same limit and window (`now_ns` rounded down to the microsecond);
    `prefix` (default ``"floodgate:window:"``), `deadline` and `on_failure`
    are KeyedLimiter's (``"local"`` keeps the limit divided by the hosts
    counted). Keys are str or bytes; `capacity` and `on_full` do not apply;
    `reset` and `set_limit` raise TypeError, and such windows cannot be a
    Policy layer. `store_counters` is as KeyedLimiter's.
    """

    def __new__(
        cls,
        limit: int,
        window: _Seconds,
        *,
        capacity: int = 10000,
        on_full: _FullTable = "deny",
        clock: ManualClock | None = None,
        shared: _Segment | None = None,
        shared_wait: _Seconds | None = None,
        store: _Store | None = None,
        prefix: str | bytes | None = None,
        deadline: _Seconds | None = None,
        on_failure: _OnFailure | None = None,
    ) -> KeyedWindows: ...
    def check(self, key: _Key, cost: int = 1, now_ns: int | None = None) -> Decision: ...
    def peek(self, key: _Key, now_ns: int | None = None) -> Decision: ...
    def refund(self, key: _Key, amount: int = 1, now_ns: int | None = None) -> Decision: ...
    def reset(self, key: _Key, now_ns: int | None = None) -> None: ...
    def set_limit(self, key: _Key, limit: int) -> None: ...
    def now_ns(self) -> int: ...
    @property
    def limit(self) -> int: ...
    @property
    def window(self) -> float: ...
    @property
    def window_ns(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def full_table_events(self) -> int: ...
    @property
    def is_shared(self) -> bool: ...
    @property
    def store_counters(self) -> dict[str, int] | None: ...
    def __len__(self) -> int: ...

@final
class Suspensions:
    """Keys refused with Outcome.SUSPENDED until a time or indefinitely; keys
    as for KeyedLimiter. Put it first in a Policy to refuse a suspended
    request before any bucket is charged.

    With `shared`, the tables live in shared segments, as for KeyedLimiter:
    a suspension made by one process refuses the key in every process.
    Every process must give the same capacity.
    """

    def __new__(
        cls,
        capacity: int,
        *,
        clock: ManualClock | None = None,
        shared: _Segment | None = None,
        shared_wait: _Seconds | None = None,
    ) -> Suspensions: ...
    def suspend_until(self, key: _Key, until_ns: int | None) -> None: ...
    def suspend_for(self, key: _Key, seconds: _Seconds) -> None: ...
    def lift(self, key: _Key) -> None: ...
    def check(self, key: _Key, now_ns: int | None = None) -> Decision | None: ...
    @property
    def capacity(self) -> int: ...
    @property
    def is_shared(self) -> bool: ...
    def now_ns(self) -> int: ...

_Layer = Limiter | SlidingWindow | KeyedLimiter | KeyedWindows | Suspensions

_Tier = int | str
"""A tier of Plans: its index (from Plans.tier) or its name."""

@final
class Plans:
    """Plan tiers: a token bucket per API key (str or bytes; int keys raise
    TypeError) and a sliding window per workspace (an int), either of which a
    tier may leave out (None); checked together, a denial charges neither.

    With `shared`, every tier's tables live in that one segment, as for
    Limiter; every process must build the plans alike (window, tiers and
    their order, capacities: a difference in the tiers or the key capacity
    is reported as "options").
    """

    def __new__(
        cls,
        window: _Seconds,
        tiers: dict[str, tuple[Quota | None, int | None]],
        *,
        key_capacity: int = 100000,
        workspace_capacity: int = 10000,
        clock: ManualClock | None = None,
        shared: _Segment | None = None,
        shared_wait: _Seconds | None = None,
    ) -> Plans: ...
    @staticmethod
    def genieos(
        *,
        key_capacity: int = 100000,
        workspace_capacity: int = 10000,
        clock: ManualClock | None = None,
        shared: _Segment | None = None,
        shared_wait: _Seconds | None = None,
    ) -> Plans: ...
    def tier(self, name: str) -> int | None: ...
    @property
    def tiers(self) -> list[str]: ...
    def check(
        self,
        tier: _Tier,
        key: str | bytes,
        workspace: int,
        cost: int = 1,
        now_ns: int | None = None,
    ) -> Verdict: ...
    def reconfigure_tier(self, tier: _Tier, key_quota: Quota | None, workspace_limit: int | None) -> None: ...
    def counters(self, tier: _Tier) -> dict[str, int]: ...
    def now_ns(self) -> int: ...
    @property
    def is_shared(self) -> bool: ...
    def __len__(self) -> int: ...

@final
class Policy:
    """Layers checked together; a denial charges no layer. Every layer runs
    on one timeline: one ManualClock, the process's monotonic clock, or,
    when every layer is shared, the machine's (FloodgateError otherwise)."""

    def __new__(
        cls,
        layers: Sequence[tuple[str, _Layer]],
        *,
        shadow: Sequence[tuple[str, _Layer]] = (),
    ) -> Policy: ...
    def check(
        self,
        keys: Sequence[_Key | None] | None = None,
        cost: int = 1,
        now_ns: int | None = None,
    ) -> Verdict: ...
    def counters(self) -> dict[str, int]: ...
    def layer_counters(self, index: int) -> dict[str, int]: ...
    def now_ns(self) -> int: ...
    @property
    def scopes(self) -> list[str]: ...
    @property
    def keyed(self) -> list[bool]:
        """Per layer, in the order keys are listed: whether it takes a key."""
    def __len__(self) -> int: ...

@final
class RedisInFlight:
    """At most `limit` requests per key (str or bytes) in flight at once,
    kept in Redis: every process and host using the same `store` (a Redis
    URL, or a list of a Redis Cluster's node URLs) and `prefix` (default
    ``"floodgate:inflight:"``) shares each key's cap. Each permit is leased
    for `lease` (seconds or a timedelta, default 30 s): renew it while a
    request outlasts it; a dead host's permits come back one lease after it
    last took or renewed them. `deadline` and `on_failure` are
    KeyedLimiter's (``"local"`` keeps the cap divided by the hosts counted,
    its permits given back locally). Calls wait for Redis without the GIL.
    """

    def __new__(
        cls,
        limit: int,
        *,
        store: _Store,
        prefix: str | bytes | None = None,
        lease: _Seconds | None = None,
        deadline: _Seconds | None = None,
        on_failure: _OnFailure | None = None,
    ) -> RedisInFlight: ...
    def try_acquire(self, key: str | bytes) -> RedisPermit | None: ...
    @property
    def limit(self) -> int: ...
    @property
    def lease(self) -> float: ...
    @property
    def store_counters(self) -> dict[str, int]: ...

@final
class RedisPermit:
    """One unit of a RedisInFlight cap, leased: release(), a with block, or
    dropping it gives it back (dropping waits for Redis, at most the
    deadline, holding the GIL: prefer release() or a with block); renew()
    extends the lease."""

    def release(self) -> int | None:
        """The key's permits still out fleet-wide, or None when not known
        (Redis gave no answer; or the permit was this process's share's).
        A second release, or one after the lease ended, raises FloodgateError."""
    def renew(self) -> bool: ...
    @property
    def in_flight(self) -> int: ...
    @property
    def limit(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    @property
    def lease_end_us(self) -> int | None: ...
    def __enter__(self) -> RedisPermit: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> Literal[False]: ...

@final
class RedisLayers:
    """Several limits kept in Redis and checked for one request by one
    script: every layer admits and is charged, or none is (a Policy's
    verdict). Each layer is ``(name, quota, prefix)``: the scope a verdict
    reports, its quota, and the prefix of its buckets' Redis keys (each
    layer needs its own). `store`, `deadline` and `on_failure` are
    KeyedLimiter's; a degraded answer is given in the first layer's name.
    On Redis Cluster one call's keys must share a hash tag."""

    def __new__(
        cls,
        layers: list[tuple[str, Quota, str | bytes]],
        *,
        store: _Store,
        deadline: _Seconds | None = None,
        on_failure: _OnFailure | None = None,
    ) -> RedisLayers: ...
    def check(self, keys: Sequence[_Key | None], cost: int = 1, now_ns: int | None = None) -> Verdict:
        """Every key must be a str or bytes (TypeError otherwise)."""
    @property
    def keyed(self) -> list[bool]:
        """Every layer takes a key."""
    @property
    def store_counters(self) -> dict[str, int]: ...

@final
class LeasedLimiter:
    """A GCRA bucket per key kept in Redis, as ``KeyedLimiter(store=...)``'s
    (same keys: the two may share a prefix and quota), checked locally from
    tokens this process leases from the Redis bucket ahead of time; no
    process admits a request the Redis bucket was not charged for. A check
    takes nanoseconds while its key's lease lasts and waits for Redis (up to
    ``deadline``) only for a key's first lease or a lease spent before its
    refill landed. ``lease_time`` (default 0.5 s) is how long a lease is
    meant to last; ``low_water`` (percent, default 25): lease more below it;
    ``fleet_size`` (default 1): how many processes share the keys, one
    holding at most ``burst / (2 * fleet_size)`` tokens of a key;
    ``capacity`` (default 16384): keys kept locally (others are decided in
    Redis). Checks only: refunds, peeks and resets go to a
    ``KeyedLimiter(store=...)`` on the same prefix."""

    def __new__(
        cls,
        quota: Quota,
        *,
        store: _Store,
        prefix: str | bytes | None = None,
        deadline: _Seconds | None = None,
        on_failure: _OnFailure | None = None,
        lease_time: _Seconds | None = None,
        low_water: int | None = None,
        fleet_size: int | None = None,
        capacity: int | None = None,
    ) -> LeasedLimiter: ...
    def check(self, key: _Key, cost: int = 1) -> Decision:
        """The key must be a str or bytes (TypeError otherwise)."""
    @property
    def quota(self) -> Quota: ...
    @property
    def store_counters(self) -> dict[str, int]: ...
    @property
    def lease_counters(self) -> dict[str, int]:
        """local, leases, waited, granted, give_backs, returned, exact."""

@final
class LeasedLayers:
    """RedisLayers' limits, each checked locally from a lease per layer and
    key (LeasedLimiter's options): a refusal by one layer spends no token of
    the others. Each layer leases from its own key, so no hash tag is
    needed on Redis Cluster."""

    def __new__(
        cls,
        layers: list[tuple[str, Quota, str | bytes]],
        *,
        store: _Store,
        deadline: _Seconds | None = None,
        on_failure: _OnFailure | None = None,
        lease_time: _Seconds | None = None,
        low_water: int | None = None,
        fleet_size: int | None = None,
        capacity: int | None = None,
    ) -> LeasedLayers: ...
    def check(self, keys: Sequence[_Key | None], cost: int = 1) -> Verdict:
        """Every key must be a str or bytes (TypeError otherwise)."""
    @property
    def keyed(self) -> list[bool]:
        """Every layer takes a key."""
    @property
    def store_counters(self) -> dict[str, int]: ...
    @property
    def lease_counters(self) -> dict[str, int]: ...

@final
class Verdict:
    """The answer to a layered check; truthy when admitted."""

    @property
    def admitted(self) -> bool: ...
    @property
    def decision(self) -> Decision: ...
    @property
    def scope(self) -> str: ...
    @property
    def layer(self) -> int: ...
    def __bool__(self) -> bool: ...

@final
class RetryPolicy:
    """When and how often a client retries: Retry-After exactly, else jittered backoff."""

    def __new__(
        cls,
        initial: _Seconds,
        factor: int,
        max_retries: int,
        max_delay: _Seconds,
        *,
        jitter: _Jitter = "equal",
        seed: int | None = None,
    ) -> RetryPolicy: ...
    @staticmethod
    def genieos() -> RetryPolicy: ...
    @staticmethod
    def license_api() -> RetryPolicy: ...
    def with_max_retries(self, max_retries: int) -> RetryPolicy: ...
    def with_jitter(self, jitter: _Jitter) -> RetryPolicy: ...
    def with_seed(self, seed: int) -> RetryPolicy: ...
    @property
    def max_retries(self) -> int: ...
    def backoff(self, retry: int) -> float | None: ...
    def delay(self, retry: int, retry_after: _Seconds | None = None) -> float | None: ...
    def start(self) -> Retry: ...

@final
class Retry:
    """One request's retries under a RetryPolicy."""

    def next_delay(self, retry_after: _Seconds | None = None) -> float | None: ...
    @property
    def retries(self) -> int: ...

def parse_retry_after(value: str, now_unix_ns: int | None = None) -> float: ...

def remove_segment(shared: _Segment) -> None:
    """Deletes a shared segment and its int keys' segment, if they exist
    (OSError if the system refuses). Processes that map them keep using
    them; the next limiter built with the name makes new ones."""
