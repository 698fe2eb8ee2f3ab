"""The README's quick starts, run as written: each code block is executed
as a module and its sixth request in a minute must be refused with the
standard headers."""

import pathlib
import re
import sys
import types

import pytest

README = pathlib.Path(__file__).parent.parent / "README.md"
WHOLE_SECONDS = re.compile(r"[1-9][0-9]*")


def quick_start(framework):
    """The code block under the README's ``### <framework>`` heading, run as a module."""
    match = re.search(rf"^### {framework}\n\n```python\n(.*?)^```", README.read_text(), re.S | re.M)
    assert match is not None, f"no {framework} quick start in the README"
    module = types.ModuleType(f"readme_{framework.lower()}")
    sys.modules[module.__name__] = module
    exec(compile(match[1], f"README.md ({framework})", "exec"), module.__dict__)
    return module


def assert_standard_denial(status, headers, body):
    assert status == 429
    assert WHOLE_SECONDS.fullmatch(headers["retry-after"])
    assert headers["x-ratelimit-limit"] == "5"
    assert headers["x-ratelimit-remaining"] == "0"
    assert WHOLE_SECONDS.fullmatch(headers["x-ratelimit-reset"])
    assert headers["ratelimit-policy"] == '"5-per-60s";q=5;w=60'
    assert re.fullmatch(r'"5-per-60s";r=0;t=[0-9]+', headers["ratelimit"])
    assert body["error"]["code"] == "rate_limited"


@pytest.mark.parametrize("framework", ["FastAPI", "Flask", "Django"])
def test_quick_start_blocks_are_at_most_twelve_lines(framework):
    match = re.search(rf"^### {framework}\n\n```python\n(.*?)^```", README.read_text(), re.S | re.M)
    assert match is not None and len(match[1].splitlines()) <= 12


def test_fastapi_quick_start():
    from fastapi.testclient import TestClient

    client = TestClient(quick_start("FastAPI").app)
    responses = [client.get("/hello") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert responses[0].json() == {"hello": "world"}
    denied = responses[5]
    assert_standard_denial(denied.status_code, {k.lower(): v for k, v in denied.headers.items()}, denied.json())


def test_flask_quick_start():
    client = quick_start("Flask").app.test_client()
    responses = [client.get("/hello") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    denied = responses[5]
    assert_standard_denial(denied.status_code, {k.lower(): v for k, v in denied.headers.items()}, denied.json)


def test_django_quick_start():
    import django_site  # noqa: F401  (configures Django)
    from django.test import Client, override_settings
    from django.urls import path

    views = quick_start("Django")
    urls = types.ModuleType("readme_django_urls")
    urls.urlpatterns = [path("hello", views.hello)]
    with override_settings(ROOT_URLCONF=urls):
        client = Client(REMOTE_ADDR="192.0.2.55")
        responses = [client.get("/hello") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    denied = responses[5]
    assert_standard_denial(denied.status_code, {k.lower(): v for k, v in denied.headers.items()}, denied.json())
