"""floodgate.wsgi: the middleware in a Flask app, through Flask's test client."""

from flask import Flask

from floodgate import KeyedLimiter, ManualClock, Quota
from floodgate.wsgi import RateLimitMiddleware, header


def flask_app(**options):
    app = Flask(__name__)

    @app.get("/")
    def hello():
        return "hello"

    limiter = KeyedLimiter(Quota.parse("2/minute")[0], clock=ManualClock())
    app.wsgi_app = RateLimitMiddleware(app.wsgi_app, limiter, **options)  # type: ignore[method-assign]
    return app.test_client()


def test_standard_headers_and_body_on_the_third_request():
    client = flask_app()
    first, _, denied = (client.get("/", environ_base={"REMOTE_ADDR": "203.0.113.9"}) for _ in range(3))
    assert first.status_code == 200 and first.text == "hello"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert first.headers["RateLimit-Policy"] == '"2-per-60s";q=2;w=60'
    assert denied.status_code == 429
    assert denied.headers["Retry-After"] == "30"
    assert denied.headers["Content-Type"] == "application/json"
    assert denied.json["error"]["code"] == "rate_limited"


def test_keys_by_header_with_the_bad_key_rule():
    client = flask_app(key=header("x-api-key"))
    assert [client.get("/", headers={"X-Api-Key": "a"}).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/", headers={"X-Api-Key": "b"}).status_code == 200
    # No key: the client address is charged instead.
    assert client.get("/").status_code == 200
    strict = flask_app(key=header("x-api-key"), on_bad_key="reject")
    refused = strict.get("/")
    assert refused.status_code == 400 and refused.json["error"]["code"] == "invalid_key"


def test_genieos_preset():
    client = flask_app(preset="genieos")
    denied = [client.get("/") for _ in range(3)][2]
    assert denied.headers["Retry-After"] == "30"
    assert denied.headers["X-RateLimit-Scope"] == "key"
    assert denied.headers["X-RateLimit-Reset"].endswith("Z")


def test_stacked_middlewares_answer_with_one_set_of_fields():
    app = Flask(__name__)

    @app.get("/")
    def hello():
        return "hello"

    strict = KeyedLimiter(Quota.parse("2/minute")[0], clock=ManualClock())
    loose = KeyedLimiter(Quota.parse("100/minute")[0], clock=ManualClock())
    app.wsgi_app = RateLimitMiddleware(app.wsgi_app, strict)  # type: ignore[method-assign]
    app.wsgi_app = RateLimitMiddleware(app.wsgi_app, loose)  # type: ignore[method-assign]
    client = app.test_client()
    first, _, denied = (client.get("/") for _ in range(3))
    assert first.status_code == 200
    assert first.headers.getlist("X-RateLimit-Limit") == ["2"]
    assert first.headers.getlist("RateLimit-Policy") == ['"2-per-60s";q=2;w=60']
    # The inner, stricter limit refuses: its fields alone.
    assert denied.status_code == 429
    assert denied.headers.getlist("X-RateLimit-Limit") == ["2"]
    assert denied.headers.getlist("Retry-After") == ["30"]
