"""floodgate.Policy: layered checks over Limiter, SlidingWindow and KeyedLimiter layers."""

import threading

import pytest

from floodgate import (
    FloodgateError,
    Headers,
    KeyedLimiter,
    Limiter,
    ManualClock,
    Outcome,
    Policy,
    Quota,
    SlidingWindow,
    Verdict,
)

HOBBY = Quota.per_second(30, burst=60)


def genieos(clock=None):
    """GenieOS Hobby: 30 r/s burst 60 per key, 600/min for the workspace."""
    clock = clock or ManualClock()
    keys = KeyedLimiter(HOBBY, clock=clock)
    workspace = SlidingWindow(600, 60, clock=clock)
    return Policy([("key", keys), ("workspace", workspace)]), keys, workspace, clock


def test_61st_request_of_a_hobby_key_is_denied_by_the_key_layer():
    policy, keys, workspace, _ = genieos()
    for _ in range(60):
        verdict = policy.check(["gos_live_a", None])
        assert verdict.admitted and bool(verdict)
    denied = policy.check(["gos_live_a", None])
    assert isinstance(denied, Verdict)
    assert not denied
    assert (denied.scope, denied.layer) == ("key", 0)
    assert denied.decision.outcome == Outcome.DENIED
    assert denied.decision.retry_after_ns == 33_333_334
    # The denial charged no layer: the workspace window saw 60, not 61.
    assert workspace.peek().remaining == 540
    assert policy.counters() == {"admitted": 60, "denied": 1, "suspended": 0}
    assert policy.layer_counters(0) == {"denied": 1, "shadow_denied": 0, "suspended": 0}
    # Another key of the workspace still passes.
    assert policy.check(["gos_live_b", None]).admitted
    assert keys.peek("gos_live_b").remaining == 59


def test_25_hobby_keys_sharing_a_workspace_hit_its_window():
    policy, keys, _, _ = genieos()
    admitted = 0
    for index in range(25):
        for _ in range(24):
            if policy.check([f"gos_live_{index:02d}", None]).admitted:
                admitted += 1
    assert admitted == 600
    denied = policy.check(["gos_live_fresh", None])
    assert (denied.admitted, denied.scope, denied.layer) == (False, "workspace", 1)
    assert denied.decision.limit == 600
    # The fresh key was refunded: its bucket is full.
    assert keys.peek("gos_live_fresh").remaining == 60


def test_admitted_verdict_reports_the_tightest_layer():
    policy, _, workspace, _ = genieos()
    workspace.check(590)
    verdict = policy.check(["gos_live_a", None])
    assert verdict.admitted
    assert (verdict.scope, verdict.decision.remaining) == ("workspace", 9)
    verdict = Policy([("key", Limiter(HOBBY)), ("ip", Limiter(Quota.per_second(100)))]).check()
    assert (verdict.scope, verdict.decision.remaining) == ("key", 59)


def test_layers_stay_the_python_objects_that_made_them():
    policy, keys, workspace, clock = genieos()
    keys.check("gos_live_a", 60)  # spent directly, outside the policy
    assert policy.check(["gos_live_a", None]).scope == "key"
    policy.check(["gos_live_b", None], cost=5)
    assert keys.peek("gos_live_b").remaining == 55
    assert workspace.peek().remaining == 595
    keys.set_quota("gos_live_a", Quota.per_second(120, burst=240))  # moved to Scale
    assert policy.check(["gos_live_a", None]).admitted
    workspace.reconfigure(5)
    verdict = policy.check(["gos_live_c", None])
    assert (verdict.admitted, verdict.scope) == (False, "workspace")
    clock.advance(120)
    assert policy.check(["gos_live_c", None]).admitted


def test_int_and_bytes_keys_and_keys_for_every_layer():
    clock = ManualClock()
    per_ip = KeyedLimiter(Quota.per_second(2), clock=clock)
    per_token = KeyedLimiter(Quota.per_second(5), clock=clock)
    per_workspace = KeyedLimiter(Quota.per_minute(600), clock=clock)
    policy = Policy([("ip", per_ip), ("token", per_token), ("workspace", per_workspace)])
    assert policy.scopes == ["ip", "token", "workspace"] and len(policy) == 3
    assert policy.check(["203.0.113.7", b"tok_1", 42]).admitted
    assert policy.check(("203.0.113.7", b"tok_2", 42)).admitted
    denied = policy.check(["203.0.113.7", b"tok_3", 42])
    assert denied.scope == "ip"
    assert per_workspace.peek(42).remaining == 598
    assert per_token.peek("tok_3").remaining == 5


def test_shadow_layers_count_but_never_deny():
    clock = ManualClock()
    key = Limiter(HOBBY, clock=clock)
    trial = Limiter(Quota.per_second(1), clock=clock)
    policy = Policy([("key", key)], shadow=[("new-endpoint-limit", trial)])
    assert policy.scopes == ["key", "new-endpoint-limit"]
    assert all(policy.check().admitted for _ in range(3))
    assert policy.layer_counters(1) == {"denied": 0, "shadow_denied": 2, "suspended": 0}
    assert policy.counters()["admitted"] == 3
    assert key.peek().remaining == 57
    only_shadow = Policy([], shadow=[("trial", Limiter(Quota.per_second(1), clock=clock))])
    assert only_shadow.check().admitted and only_shadow.check().admitted


def test_a_suspended_layer_refuses_with_its_own_outcome_and_counter():
    clock = ManualClock()
    account = Limiter(HOBBY, clock=clock)
    policy = Policy([("account", account)])
    account.suspend_until(None)
    verdict = policy.check()
    assert verdict.decision.outcome == Outcome.SUSPENDED
    assert verdict.scope == "account"
    assert policy.counters() == {"admitted": 0, "denied": 0, "suspended": 1}
    assert policy.layer_counters(0)["suspended"] == 1


def test_headers_render_from_the_verdict():
    policy, _, workspace, _ = genieos()
    workspace.check(600)
    verdict = policy.check(["gos_live_a", None])
    fields = dict(Headers().render(verdict.decision, verdict.scope, now_unix_ns=0))
    assert fields["X-RateLimit-Scope"] == "workspace"
    assert fields["X-RateLimit-Limit"] == "600"
    assert "Retry-After" in fields


@pytest.mark.parametrize(
    ("keys", "error", "message"),
    [
        ([None, None], TypeError, "layer 0 \\(\"key\"\\) is keyed: its key must be a str, bytes or int"),
        (["gos_live_a", "ws_1"], TypeError, "layer 1 \\(\"workspace\"\\) is not keyed: its key must be None"),
        (["gos_live_a"], ValueError, "this policy has 2 layers, so it needs 2 keys, got 1"),
        (None, ValueError, "this policy has 2 layers, so it needs 2 keys, got 0"),
        ([1.5, None], TypeError, "key must be str, bytes or int, got float"),
        ([-1, None], ValueError, "key must be between 0 and 2\\*\\*64 - 1"),
        (["", None], FloodgateError, "key must not be empty"),
        ("ab", TypeError, "Can't extract `str` to `Vec`"),
    ],
)
def test_bad_keys_raise_and_charge_nothing(keys, error, message):
    policy, key_layer, workspace, _ = genieos()
    with pytest.raises(error, match=message):
        policy.check(keys)
    assert len(key_layer) == 0
    assert workspace.peek().remaining == 600
    assert policy.counters() == {"admitted": 0, "denied": 0, "suspended": 0}


@pytest.mark.parametrize(
    ("layers", "error", "message"),
    [
        ([], ValueError, "a policy needs at least one layer"),
        ([("key", HOBBY)], TypeError, "a policy layer must be a Limiter, SlidingWindow, KeyedLimiter, KeyedWindows or Suspensions, got Quota"),
        ([Limiter(HOBBY)], TypeError, "each layer must be a \\(name, limit\\) tuple"),
        ([("key", Limiter(HOBBY), True)], TypeError, "each layer must be a \\(name, limit\\) tuple"),
        ([(1, Limiter(HOBBY))], TypeError, "a layer's name must be a str"),
        ([("", Limiter(HOBBY))], ValueError, "a layer's name must not be empty"),
        ([("key", Limiter(HOBBY))] * 33, ValueError, "a policy has at most 32 layers, got 33"),
        (
            [("key", Limiter(HOBBY)), ("ip", Limiter(HOBBY, clock=ManualClock()))],
            ValueError,
            "every layer of a policy must run on one clock",
        ),
        (
            [("key", Limiter(HOBBY, clock=ManualClock())), ("ip", Limiter(HOBBY, clock=ManualClock()))],
            ValueError,
            "every layer of a policy must run on one clock",
        ),
    ],
)
def test_bad_layers(layers, error, message):
    with pytest.raises(error, match=message):
        Policy(layers)


def test_layer_counters_of_a_missing_layer():
    policy, _, _, _ = genieos()
    with pytest.raises(FloodgateError, match="no layer has that index"):
        policy.layer_counters(2)
    with pytest.raises(ValueError, match="index must be between"):
        policy.layer_counters(-1)


def test_supplied_time_and_cost():
    clock = ManualClock()
    policy = Policy([("key", KeyedLimiter(Quota.per_second(1), clock=clock))])
    assert policy.check([7], cost=1, now_ns=5_000_000_000).admitted
    assert not policy.check([7], now_ns=5_500_000_000).admitted
    assert policy.check([7], now_ns=6_000_000_000).admitted
    assert policy.check([8], cost=2).decision.outcome == Outcome.CANNOT_FIT


def test_monotonic_layers_share_the_process_timeline():
    keys = KeyedLimiter(Quota.per_hour(1))
    policy = Policy([("key", keys), ("global", Limiter(Quota.per_hour(100)))])
    assert policy.check(["a", None]).admitted
    # The key layer alone sees the charge the policy made on the same timeline.
    assert not keys.check("a").admitted
    assert not policy.check(["a", None]).admitted


def test_repr():
    policy, _, _, _ = genieos()
    assert repr(policy) == 'Policy(scopes=["key", "workspace"])'
    assert repr(policy.check(["k", None])) == 'Verdict(admitted=True, scope="key", layer=0)'


def test_many_threads_never_admit_beyond_the_workspace_window():
    clock = ManualClock()
    keys = KeyedLimiter(HOBBY, clock=clock)
    workspace = SlidingWindow(600, 60, clock=clock)
    policy = Policy([("key", keys), ("workspace", workspace)])
    results = [0] * 8
    start = threading.Barrier(8)

    def worker(index):
        start.wait()
        results[index] = sum(
            policy.check([f"key-{index}-{n % 20}", None]).admitted for n in range(400)
        )

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 160 keys x 60 burst is far above 600: the workspace window is the bound,
    # and no request is admitted past it even while denials refund their keys.
    assert sum(results) == 600
    assert policy.counters()["admitted"] == 600
    assert workspace.peek().remaining == 0
