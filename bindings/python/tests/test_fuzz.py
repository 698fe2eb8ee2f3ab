"""HTTP fuzzing of the ASGI middleware behind a real uvicorn process on
127.0.0.1: thousands of requests with random header names, sizes (0 B to
past h11's 16 KiB header limit) and bytes, sent over raw sockets so invalid
bytes get through. Pass: no 5xx, the server stays up, and a normal key is
still limited exactly afterwards (60 of 70 admitted at t = 0, 30/s burst 60).
Bounded: REQUESTS, CONCURRENCY at once, TEST_TIMEOUT_S overall."""

import asyncio
import collections
import pathlib
import random
import subprocess
import sys
import tempfile
import time

REQUESTS = 3_000
CONCURRENCY = 16
TEST_TIMEOUT_S = 240
STARTUP_TIMEOUT_S = 30
RESPONSE_TIMEOUT_S = 10
HEADER_LIMIT = 16 * 1024  # h11's default for a request's head
SEED = 0x5EED_F00D  # the same requests on every run, so a failure replays

TCHAR = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
SERVER = pathlib.Path(__file__).with_name("fuzz_server.py")


def random_bytes(rand: random.Random, size: int) -> bytes:
    """``size`` bytes from one of several alphabets, the hostile ones included."""
    alphabet = rand.randint(0, 5)
    if alphabet == 0:
        data = bytes(rand.randint(0x21, 0x7E) for _ in range(size))  # printable ASCII
    elif alphabet == 1:
        data = bytes(rand.randint(0x80, 0xFF) for _ in range(size))  # obs-text, not UTF-8
    elif alphabet == 2:
        data = rand.randbytes(size)  # anything, CR/LF/NUL included
    elif alphabet == 3:
        data = bytes(rand.choice(b" \t,") for _ in range(size))  # whitespace and commas
    else:
        data = bytes(rand.choice(TCHAR) for _ in range(size))  # token characters
    if alphabet == 5 and size >= 3:
        data = b"\xed\xa0\x80" + data[3:]  # an encoded lone surrogate
    return data


def header_name(rand: random.Random) -> bytes:
    roll = rand.randint(0, 7)
    if roll <= 2:
        return rand.choice([b"X-Api-Key", b"x-api-key", b"X-API-KEY"])
    if roll == 3:
        return b"X-Request-Id"
    if roll == 4:
        return random_bytes(rand, rand.randint(0, 64))  # often invalid: a parser 400
    return bytes(rand.choice(TCHAR) for _ in range(rand.randint(1, 40)))


def value_size(rand: random.Random) -> int:
    roll = rand.random()
    if roll < 0.15:
        return 0
    if roll < 0.35:
        return rand.choice([1, 4095, 4096, 4097, 8192, HEADER_LIMIT - 64])
    if roll < 0.45:
        return rand.randint(HEADER_LIMIT - 256, HEADER_LIMIT + 256)  # around the limit
    return rand.randint(0, 512)


def header_block(rand: random.Random) -> bytes:
    """0 to 6 random header lines, each CRLF-terminated."""
    lines = []
    for _ in range(rand.randint(0, 6)):
        separator = rand.choice([b":", b": ", b":  "])
        lines.append(header_name(rand) + separator + random_bytes(rand, value_size(rand)) + b"\r\n")
    return b"".join(lines)


async def status_of(port: int, headers: bytes) -> int:
    """The status of ``GET /`` with ``headers``, or 0 when the server closed without one."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + b"\r\n")
        try:
            await writer.drain()
        except ConnectionError:
            pass  # the server answered and closed before reading everything
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n"), RESPONSE_TIMEOUT_S)
        except (asyncio.IncompleteReadError, ConnectionError):
            return 0
        return int(head.split()[1])
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def fuzz(port: int) -> collections.Counter[int]:
    rand = random.Random(SEED)
    blocks = [header_block(rand) for _ in range(REQUESTS)]
    statuses: collections.Counter[int] = collections.Counter()
    pending = iter(blocks)

    async def worker() -> None:
        for block in pending:
            statuses[await status_of(port, block)] += 1

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return statuses


async def burst(port: int) -> list[int]:
    return [await status_of(port, b"X-Api-Key: fuzz-probe\r\n") for _ in range(70)]


def test_fuzz_uvicorn_no_5xx_the_server_stays_up_and_a_normal_key_is_limited_exactly():
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [sys.executable, str(SERVER)], stdout=subprocess.PIPE, stderr=log, text=True
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            line = ""
            while not line.startswith("PORT "):
                assert time.monotonic() < deadline and server.poll() is None, "uvicorn did not start"
                line = server.stdout.readline()
            port = int(line.split()[1])
            statuses = asyncio.run(asyncio.wait_for(fuzz(port), TEST_TIMEOUT_S))
            alive = server.poll() is None
            probe = asyncio.run(asyncio.wait_for(burst(port), TEST_TIMEOUT_S))
        finally:
            server.terminate()
            server.wait(timeout=STARTUP_TIMEOUT_S)
            server.stdout.close()
        log.seek(0)
        logged = log.read().decode(errors="replace")
    print(f"uvicorn: {REQUESTS} requests, statuses {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) == REQUESTS
    assert [status for status in statuses if status >= 500] == [], logged[-4000:]
    assert statuses[0] == 0, "every request was answered"
    assert alive, "the server is still running"
    assert probe == [200] * 60 + [429] * 10
