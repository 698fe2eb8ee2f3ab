"""Real clients against real servers on 127.0.0.1: requests with urllib3's
Retry honouring Retry-After, and httpx waiting what Retry-After says, against
uvicorn (FastAPI), gunicorn (Flask) and gunicorn (Django). Each client gets
a 429, waits the header's time, and its retry is admitted: no request lands
inside a cooldown.

Each server runs in its own process on a listening socket this test binds
(port chosen by the kernel) and hands over as file descriptor 3; it is
stopped by its PID, and every wait is bounded."""

import os
import pathlib
import socket
import subprocess
import sys
import time

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from floodgate import parse_retry_after

HERE = pathlib.Path(__file__).parent
BIN = pathlib.Path(sys.executable).parent
STARTUP_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 30

SERVERS = {
    "uvicorn-fastapi": [str(BIN / "uvicorn"), "--fd", "3", "--log-level", "warning", "served_apps:fastapi_app"],
    "gunicorn-flask": [str(BIN / "gunicorn"), "--bind", "fd://3", "--workers", "1", "served_apps:flask_app"],
    "gunicorn-django": [str(BIN / "gunicorn"), "--bind", "fd://3", "--workers", "1", "django_site:application"],
}


@pytest.fixture(params=sorted(SERVERS))
def server(request):
    """The base URL of a running server; stopped by PID afterwards."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # a free port chosen by the kernel
    listener.listen(64)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    process = subprocess.Popen(
        SERVERS[request.param],
        cwd=HERE,
        stdin=subprocess.DEVNULL,
        pass_fds=[3],  # kept open in the child: the listener, placed there by preexec_fn
        preexec_fn=lambda: os.dup2(fd, 3),
    )
    listener.close()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, f"{request.param} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"{request.param} did not answer"
            try:
                if httpx.get(f"{base}/tick", timeout=REQUEST_TIMEOUT_S).status_code in (200, 429):
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STARTUP_TIMEOUT_S)


def denied_now(base):
    """Sends requests until one is refused (the route allows 1 per 3 s), so
    the client is inside a cooldown; returns that 429."""
    for _ in range(10):
        response = httpx.get(f"{base}/tick", timeout=REQUEST_TIMEOUT_S)
        if response.status_code == 429:
            return response
    raise AssertionError("no 429 in 10 requests")


def test_requests_retries_after_retry_after_and_is_admitted(server):
    denied_now(server)
    session = requests.Session()
    retry = Retry(total=3, status_forcelist=[429], respect_retry_after_header=True, backoff_factor=0, raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    with session:
        response = session.get(f"{server}/tick", timeout=REQUEST_TIMEOUT_S)
        history = response.raw.retries.history
    assert response.status_code == 200
    # One 429 (inside the cooldown), one wait of Retry-After, one admitted retry.
    assert [entry.status for entry in history] == [429]


def test_httpx_waits_retry_after_and_is_admitted(server):
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        denied = denied_now(server)
        wait = parse_retry_after(denied.headers["retry-after"])
        assert wait in (1.0, 2.0, 3.0)  # whole seconds, rounded up: never 0
        time.sleep(wait)
        assert client.get(f"{server}/tick").status_code == 200
