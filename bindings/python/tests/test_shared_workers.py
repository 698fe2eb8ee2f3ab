"""One limit across worker processes: `uvicorn --workers 2`, gunicorn with 2
uvicorn workers (with and without --preload) and gunicorn with 2 threaded
WSGI workers serve tests/shared_apps.py (the ASGI or WSGI middleware, a
KeyedLimiter at 30/s, burst 60; and, under uvicorn, GenieOS Plans whose
hobby tier gives each key the same limit, with Suspensions). Eight keep-alive connections, spread over
both workers, hammer one key for 2 s. With ``shared=`` the workers charge one
bucket: about burst + rate x 2 s = 120 requests are admitted in all. Without
it each worker has its own bucket and the key gets about twice that.

Each server runs in its own process on a listening socket this test binds on
127.0.0.1 (port chosen by the kernel) and hands over as file descriptor 3;
it is stopped by its PID, and every wait is bounded."""

import collections
import contextlib
import http.client
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import floodgate

HERE = pathlib.Path(__file__).parent
BIN = pathlib.Path(sys.executable).parent
STARTUP_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 30
CONNECTIONS = 8
HAMMER_S = 2.0
KEY = "gos_live_hammered"

GUNICORN = [str(BIN / "gunicorn"), "--bind", "fd://3", "--workers", "2", "--log-level", "warning"]
SERVERS = {
    "uvicorn": [str(BIN / "uvicorn"), "--fd", "3", "--workers", "2", "--log-level", "warning", "shared_apps:app"],
    "uvicorn-plans": [
        str(BIN / "uvicorn"),
        *["--fd", "3", "--workers", "2", "--log-level", "warning", "shared_apps:plans_app"],
    ],
    "gunicorn-uvicorn": [*GUNICORN, "--worker-class", "uvicorn.workers.UvicornWorker", "shared_apps:app"],
    # --preload: the limiter is built once, in the server, and the forked
    # workers inherit its mapping.
    "gunicorn-uvicorn-preload": [
        *GUNICORN,
        "--preload",
        "--worker-class",
        "uvicorn.workers.UvicornWorker",
        "shared_apps:app",
    ],
    # Threads keep connections alive, which this test needs (sync workers close them).
    "gunicorn-wsgi": [*GUNICORN, "--worker-class", "gthread", "--threads", "4", "shared_apps:wsgi_app"],
}


@contextlib.contextmanager
def serving(command, segment):
    """The port of a running server of ``command``, its limiter in
    ``segment`` (None: each worker's own); stopped by PID afterwards."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted connections. uvicorn takes a socket given by fd
    # for a Unix one and sets no TCP_NODELAY itself: its response's two
    # writes would wait out the client's delayed ACK (40 ms) each time.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", 0))  # a free port chosen by the kernel
    listener.listen(64)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    env = {key: value for key, value in os.environ.items() if key != "FLOODGATE_TEST_SEGMENT"}
    if segment is not None:
        env["FLOODGATE_TEST_SEGMENT"] = segment
    process = subprocess.Popen(
        command,
        cwd=HERE,
        env=env,
        stdin=subprocess.DEVNULL,
        pass_fds=[3],  # kept open in the child: the listener, placed there by preexec_fn
        preexec_fn=lambda: os.dup2(fd, 3),
        start_new_session=True,  # its workers in its own process group, for the last resort below
    )
    listener.close()
    try:
        yield process, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # The server and the workers it started, by its process group's id.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STARTUP_TIMEOUT_S)


def ask(connection, key):
    """One request on a keep-alive connection: its status and the worker's pid."""
    connection.request("GET", "/", headers={"x-api-key": key})
    response = connection.getresponse()
    response.read()
    return response.status, response.getheader("x-worker-pid")


def connections_to_both_workers(process, port):
    """CONNECTIONS keep-alive connections, as evenly spread over the two
    workers as they come: the kernel hands each new connection to one of
    them, so connections are opened until both have some. Each probe is a
    key of its own, leaving the hammered key untouched."""
    by_worker = collections.defaultdict(list)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    for probe in range(10_000):
        assert process.poll() is None, f"the server exited with {process.returncode}"
        assert time.monotonic() < deadline, f"connections reached only the workers {sorted(by_worker)}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        try:
            status, pid = ask(connection, f"probe-{probe}")
        except OSError:  # not listening yet
            connection.close()
            time.sleep(0.1)
            continue
        assert status == 200
        by_worker[pid].append(connection)
        if len(by_worker) == 2 and sum(map(len, by_worker.values())) >= CONNECTIONS:
            break
    assert len(by_worker) == 2, f"expected 2 workers, got {sorted(by_worker)}"
    # Alternate between the workers while both have connections left.
    queues = list(by_worker.values())
    chosen = []
    while len(chosen) < CONNECTIONS:
        for queue in queues:
            if queue and len(chosen) < CONNECTIONS:
                chosen.append(queue.pop())
    for queue in queues:
        for connection in queue:
            connection.close()
    return chosen


def hammer(connections):
    """Each connection sends requests for KEY, one after another, for
    HAMMER_S seconds; the counts of (status, worker pid)."""
    counts = [collections.Counter() for _ in connections]
    start = threading.Barrier(len(connections) + 1)
    deadline = []

    def run(connection, counted):
        start.wait(timeout=STARTUP_TIMEOUT_S)
        while time.monotonic() < deadline[0]:
            counted[ask(connection, KEY)] += 1

    threads = [threading.Thread(target=run, args=pair, daemon=True) for pair in zip(connections, counts)]
    for thread in threads:
        thread.start()
    deadline.append(time.monotonic() + HAMMER_S)
    start.wait(timeout=STARTUP_TIMEOUT_S)
    for thread in threads:
        thread.join(timeout=HAMMER_S + REQUEST_TIMEOUT_S)
        assert not thread.is_alive(), "a request got no answer"
    for connection in connections:
        connection.close()
    return sum(counts, collections.Counter())


def admitted_by_worker(counts):
    admitted = collections.Counter()
    for (status, pid), count in counts.items():
        assert status in (200, 429), f"unexpected status {status}"
        admitted[pid] += count if status == 200 else 0
    return admitted


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_workers_on_one_segment_admit_one_limit(server):
    segment = f"pytest-{os.getpid()}-{server}"
    try:
        with serving(SERVERS[server], segment) as (process, port):
            counts = hammer(connections_to_both_workers(process, port))
    finally:
        # The segment and those named under it (the plans app's).
        for path in pathlib.Path("/dev/shm").glob(f"floodgate.{segment}*"):
            floodgate.remove_segment(path)
    admitted = admitted_by_worker(counts)
    total = sum(admitted.values())
    print(f"{server} shared: admitted {dict(admitted)}, total {total}, answered {sum(counts.values())}")
    assert len(admitted) == 2, f"both workers answered: {counts}"
    # burst 60 + 30/s x 2 s = 120, the last in-flight requests aside.
    assert 115 <= total <= 121, f"admitted {total} ({dict(admitted)} by worker) of {sum(counts.values())}"


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_workers_without_a_segment_each_admit_the_limit(server):
    with serving(SERVERS[server], None) as (process, port):
        counts = hammer(connections_to_both_workers(process, port))
    admitted = admitted_by_worker(counts)
    total = sum(admitted.values())
    print(f"{server} per process: admitted {dict(admitted)}, total {total}, answered {sum(counts.values())}")
    # Each worker's own bucket admits about 120: the limit times two.
    assert all(count > 100 for count in admitted.values()), f"{dict(admitted)} by worker"
    assert total > 121
