"""floodgate.django: per-view limits and default limits, through Django's test client."""

import asyncio

import django_site
from django.test import AsyncClient, Client


def statuses(client, count, url, method="get", **options):
    return [getattr(client, method)(url, **options).status_code for _ in range(count)]


def test_default_limits_apply_to_views_without_their_own_and_not_to_exempt_ones():
    client = Client(REMOTE_ADDR="198.51.100.1")
    first, _, denied = (client.get("/default") for _ in range(3))
    assert first.status_code == 200 and first["X-RateLimit-Limit"] == "2"
    assert denied.status_code == 429
    assert denied["Retry-After"] == "30"
    assert denied.json()["error"]["code"] == "rate_limited"
    assert statuses(client, 4, "/health") == [200] * 4
    assert "X-RateLimit-Limit" not in client.get("/health")


def test_view_limits_answer_one_set_of_fields():
    client = Client(REMOTE_ADDR="198.51.100.2")
    responses = [client.get("/hello") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0]["X-RateLimit-Limit"] == "3"
    assert responses[0]["RateLimit-Policy"] == '"3-per-60s";q=3;w=60'
    assert responses[3]["Retry-After"] == "20"


def test_key_func_and_methods():
    client = Client(REMOTE_ADDR="198.51.100.3")
    assert statuses(client, 3, "/keyed") == [200] * 3  # GET is not limited
    assert statuses(client, 2, "/keyed", "post", headers={"x-api-key": "a"}) == [200, 429]
    assert statuses(client, 1, "/keyed", "post", headers={"x-api-key": "b"}) == [200]


def test_deduct_when_counts_only_failures():
    client = Client(REMOTE_ADDR="198.51.100.4")
    assert statuses(client, 4, "/login?ok=true") == [200] * 4
    assert statuses(client, 3, "/login") == [404, 404, 429]


def test_ipv6_clients_of_one_prefix_share_a_bucket():
    assert Client(REMOTE_ADDR="2001:db8:0:10::1").get("/default").status_code == 200
    assert Client(REMOTE_ADDR="2001:db8:0:20::2").get("/default").status_code == 200
    assert Client(REMOTE_ADDR="2001:db8:0:30::3").get("/default").status_code == 429


def test_async_view():
    async def run():
        client = AsyncClient(REMOTE_ADDR="198.51.100.5")
        return [(await client.get("/async")).status_code for _ in range(3)]

    assert asyncio.run(run()) == [200, 200, 429]


def test_the_wsgi_application_is_importable():
    assert callable(django_site.application)
