"""Standard defaults (whole-second Retry-After, epoch reset, IETF fields from
the limit, a neutral body) and the GenieOS and Clarifai formats as presets."""

import asyncio
import doctest
import json

import httpx
import pytest

from floodgate import KeyedLimiter, ManualClock, Policy, Quota, RateLimitPolicy
from floodgate.asgi import RateLimitMiddleware
from floodgate.gate import client_key
from floodgate.responses import Responses

WALL_CLOCK_NS = 1_776_688_440 * 10**9  # 2026-04-20T12:34:00Z
HOBBY = Quota.per_second(30, burst=60)


async def served(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served"})


def get_many(app, count, client="203.0.113.7"):
    async def run():
        transport = httpx.ASGITransport(app=app, client=(client, 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return [await http.get("/") for _ in range(count)]

    return asyncio.run(run())


def middleware(limiter, **options):
    return RateLimitMiddleware(served, limiter, wall_clock=lambda: WALL_CLOCK_NS, **options)


def hobby():
    return KeyedLimiter(HOBBY, clock=ManualClock())


def test_default_retry_after_is_whole_seconds_rounded_up_never_zero():
    denied = get_many(middleware(hobby()), 61)[60]
    assert denied.status_code == 429
    # The wait is 33.3 ms: one whole second, not "0.1" (which urllib3 refuses) nor "0".
    assert denied.headers["retry-after"] == "1"


def test_default_reset_is_epoch_seconds_and_ietf_fields_come_from_the_limit():
    first, *_, denied = get_many(middleware(hobby()), 61)
    assert first.headers["x-ratelimit-limit"] == "60"
    assert first.headers["x-ratelimit-remaining"] == "59"
    assert first.headers["x-ratelimit-reset"] == str(1_776_688_440 + 1)
    # q is the burst, w the time an empty bucket takes to refill (60 x 33.3 ms).
    assert first.headers["ratelimit-policy"] == '"60-per-2s";q=60;w=2'
    assert first.headers["ratelimit"] == '"60-per-2s";r=59;t=1'
    assert "x-ratelimit-scope" not in first.headers
    assert denied.headers["ratelimit"] == '"60-per-2s";r=0;t=2'


def test_default_body_is_neutral_for_an_ip_limit():
    denied = get_many(middleware(hobby(), scope_name="ip"), 61)[60]
    error = denied.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"] == "Too many requests. Retry after 1s."
    assert error["retry_after_seconds"] == 1
    assert "API key" not in denied.text


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        ("draft-6", {"ratelimit-policy": "60;w=2", "ratelimit-limit": "60", "ratelimit-remaining": "0", "ratelimit-reset": "2"}),
        ("draft-7", {"ratelimit-policy": "60;w=2", "ratelimit": "limit=60, remaining=0, reset=2"}),
        ("draft-8", {"ratelimit-policy": '"60-per-2s";q=60;w=2', "ratelimit": '"60-per-2s";r=0;t=2'}),
    ],
)
def test_the_ietf_draft_is_an_option(draft, expected):
    denied = get_many(middleware(hobby(), standard_headers=draft), 61)[60]
    assert {name: denied.headers.get(name) for name in expected} == expected


def test_ietf_and_legacy_fields_can_be_turned_off():
    (response,) = get_many(middleware(hobby(), standard_headers=False, legacy_headers=False), 1)
    assert not [name for name in response.headers if "ratelimit" in name]


def test_genieos_preset_keeps_its_formats():
    first, *_, denied = get_many(middleware(hobby(), preset="genieos"), 61)
    assert first.headers["x-ratelimit-reset"] == "2026-04-20T12:34:01Z"
    assert first.headers["x-ratelimit-scope"] == "key"
    assert "ratelimit-policy" not in first.headers
    assert denied.headers["retry-after"] == "0.1"
    assert denied.json()["error"]["message"] == "API key exceeded its rate limit. Retry after 0.1s."


def test_clarifai_preset_answers_11005():
    limiter = KeyedLimiter(Quota.per_second(15), clock=ManualClock())
    denied = get_many(middleware(limiter, preset="clarifai"), 16)[15]
    status = denied.json()["status"]
    assert (status["code"], status["description"]) == (11005, "Making too many requests")
    assert status["details"] == "exceeded limit of 15 requests per second"
    assert denied.headers["retry-after"] == "1"


def test_a_policy_answers_with_one_set_of_fields_the_most_restrictive():
    clock = ManualClock()
    minute, hour = Quota.per_minute(5), Quota.per_hour(100)
    policy = Policy([("minute", KeyedLimiter(minute, clock=clock)), ("hour", KeyedLimiter(hour, clock=clock))])
    policies = {"minute": RateLimitPolicy.from_quota("minute", minute), "hour": RateLimitPolicy.from_quota("hour", hour)}
    app = middleware(policy, keys=lambda scope: ["k", "k"], policies=policies)
    responses = get_many(app, 6)
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    for response in responses:
        assert "," not in response.headers["x-ratelimit-limit"]
    assert responses[0].headers["x-ratelimit-limit"] == "5"
    assert responses[0].headers["ratelimit-policy"] == '"minute";q=5;w=60'
    assert responses[5].headers["retry-after"] == "12"


def test_ipv6_clients_are_grouped_by_prefix():
    assert client_key("2001:db8:0:1ff:1:2:3:4") == "2001:db8:0:100::/56"
    assert client_key("2001:db8:0:1ff:1:2:3:4", 64) == "2001:db8:0:1ff::/64"
    assert client_key("::ffff:198.51.100.4") == "198.51.100.4"
    assert client_key("198.51.100.4") == "198.51.100.4"
    limiter = KeyedLimiter(Quota.per_hour(1), clock=ManualClock())
    assert get_many(middleware(limiter), 1, client="2001:db8:0:1ff::1")[0].status_code == 200
    # Another address of the same /56 is the same client.
    assert get_many(middleware(limiter), 1, client="2001:db8:0:1aa::9")[0].status_code == 429
    assert get_many(middleware(limiter, ipv6_prefix=128), 1, client="2001:db8:0:1aa::9")[0].status_code == 200


def test_bad_preset_options_are_refused():
    with pytest.raises(ValueError, match="preset must be"):
        Responses("github")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="standard_headers must be"):
        Responses(standard_headers="draft-9")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ipv6_prefix"):
        middleware(hobby(), ipv6_prefix=129)


def test_the_module_examples_run():
    import floodgate
    import floodgate.responses

    for module in (floodgate, floodgate.responses):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__


def test_responses_body_is_json_with_the_request_id():
    limiter = hobby()
    limiter.check("k", 60)
    body = Responses().body(limiter.check("k"), "ip", "req_1")
    assert json.loads(body)["error"]["request_id"] == "req_1"
