'use strict';
// HTTP fuzzing of each middleware against a real server process on
// 127.0.0.1: thousands of requests with random header names, sizes (0 B to
// past the 16 KiB header limit) and bytes, sent over raw sockets so invalid
// bytes get through. Pass: no 5xx, the server stays up, and a normal key is
// still limited exactly afterwards (60 of 70 admitted at t = 0, 30/s burst 60).
// Bounded: REQUESTS per server, CONCURRENCY at once, TEST_TIMEOUT_MS overall.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { rawRequest } = require('./raw-http.js');

const REQUESTS = 3_000;
const CONCURRENCY = 16;
const TEST_TIMEOUT_MS = 240_000;
const STARTUP_TIMEOUT_MS = 30_000;
/** Node's default limit on a request's header block (--max-http-header-size). */
const HEADER_LIMIT = 16 * 1024;
const SEED = 0x5eed_f00d;

/** xorshift32: the same requests on every run, so a failure replays. */
function random(seed) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
  const int = (low, high) => low + Math.floor(next() * (high - low + 1));
  const pick = (items) => items[int(0, items.length - 1)];
  return { next, int, pick };
}

const TCHAR = Buffer.from("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 'latin1');

/** `size` random bytes from one of several alphabets, the hostile ones included. */
function bytes(rand, size) {
  const alphabet = rand.int(0, 5);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) {
    switch (alphabet) {
      case 0: out[i] = rand.int(0x21, 0x7e); break; // printable ASCII
      case 1: out[i] = rand.int(0x80, 0xff); break; // obs-text: latin-1 to Node
      case 2: out[i] = rand.int(0x00, 0xff); break; // anything, CR/LF/NUL included
      case 3: out[i] = rand.pick([0x20, 0x09, 0x2c]); break; // whitespace and commas
      default: out[i] = rand.pick(TCHAR); // token characters
    }
  }
  if (alphabet === 5 && size >= 3) out.set([0xed, 0xa0, 0x80], 0); // an encoded lone surrogate
  return out;
}

function headerName(rand) {
  switch (rand.int(0, 7)) {
    case 0: case 1: case 2: return Buffer.from(rand.pick(['X-Api-Key', 'x-api-key', 'X-API-KEY']), 'latin1');
    case 3: return Buffer.from('X-Request-Id', 'latin1');
    case 4: return bytes(rand, rand.int(0, 64)); // often invalid: a parser 400
    default: return Buffer.from(Array.from({ length: rand.int(1, 40) }, () => rand.pick(TCHAR)));
  }
}

function valueSize(rand) {
  const roll = rand.next();
  if (roll < 0.15) return 0;
  if (roll < 0.35) return rand.pick([1, 4095, 4096, 4097, 8192, HEADER_LIMIT - 64]);
  if (roll < 0.45) return rand.int(HEADER_LIMIT - 256, HEADER_LIMIT + 256); // around the limit: 431
  return rand.int(0, 512);
}

/** A random header block: 0 to 6 lines, each CRLF-terminated. */
function headerBlock(rand) {
  const lines = [];
  for (let n = rand.int(0, 6); n > 0; n -= 1) {
    lines.push(headerName(rand), Buffer.from(rand.pick([':', ': ', ':  '])), bytes(rand, valueSize(rand)), Buffer.from('\r\n'));
  }
  return Buffer.concat(lines);
}

/** Starts `node test/fuzz-server.js kind` and resolves { child, port }. */
function startServer(kind) {
  const child = spawn(process.execPath, [path.join(__dirname, 'fuzz-server.js'), kind], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server did not start: ${stderr}`)), STARTUP_TIMEOUT_MS);
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /PORT (\d+)/.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), stderr: () => stderr });
      }
    });
    child.on('exit', (code) => reject(new Error(`${kind} server exited with ${code}: ${stderr}`)));
  });
}

function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    process.kill(child.pid, 'SIGTERM');
  });
}

for (const kind of ['http', 'express', 'fastify']) {
  const name = `fuzz ${kind}: ${REQUESTS} hostile requests, no 5xx, the server stays up and a normal key is limited exactly`;
  test(name, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { child, port, stderr } = await startServer(kind);
    t.after(() => stopServer(child));
    const rand = random(SEED);
    const blocks = Array.from({ length: REQUESTS }, () => headerBlock(rand));
    const statuses = new Map();
    let next = 0;
    const worker = async () => {
      while (next < blocks.length) {
        const { status } = await rawRequest(port, blocks[next++]);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const serverErrors = [...statuses].filter(([status]) => status >= 500);
    t.diagnostic(`${kind}: ${REQUESTS} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.deepEqual(serverErrors, [], `no 5xx (stderr: ${stderr()})`);
    assert.equal(statuses.get(0) ?? 0, 0, 'every request was answered');
    assert.equal(child.exitCode, null, 'the server is still running');

    const burst = [];
    for (let i = 0; i < 70; i += 1) burst.push((await rawRequest(port, 'X-Api-Key: fuzz-probe\r\n')).status);
    assert.deepEqual(burst, [...Array(60).fill(200), ...Array(10).fill(429)]);
  });
}
