'use strict';
// A real HTTP client against real servers: got, retrying on 429 after the
// Retry-After the server sent, against node:http, Express and Fastify on
// 127.0.0.1. The server logs when each request arrived and when each answer
// left; no retry may arrive before the cooldown its 429 announced, and every
// retry must be admitted. One client, 2 requests per second, 4 requests per
// server: about 2 s of waiting each. Servers are closed at the end.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { performance } = require('node:perf_hooks');
const { fastifyRateLimit, rateLimit } = require('..');

const OPTIONS = { windowMs: 1_000, limit: 2 };
const REQUESTS = 4;

/** The server's log: [{ arrivedMs, leftMs, status, retryAfter }], in arrival order. */
function logger() {
  const log = [];
  /** `header(name)`: how the response's fields are read (Fastify keeps them on its reply). */
  const record = (res, header = (name) => res.getHeader(name)) => {
    const entry = { arrivedMs: performance.now(), leftMs: null, status: null, retryAfter: null };
    log.push(entry);
    res.once('finish', () => {
      entry.leftMs = performance.now();
      entry.status = res.statusCode;
      entry.retryAfter = header('retry-after') ?? null;
    });
  };
  return { log, record };
}

const servers = {
  'node:http': async (record) => {
    const guard = rateLimit(OPTIONS);
    const server = http.createServer((req, res) => {
      record(res);
      if (!guard(req, res)) return;
      res.end('served');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: server.address().port, close: () => new Promise((resolve) => server.close(resolve)) };
  },
  Express: async (record) => {
    const app = require('express')();
    app.use((req, res, next) => {
      record(res);
      next();
    });
    app.use(rateLimit(OPTIONS));
    app.get('/', (req, res) => res.send('served'));
    const server = http.createServer(app);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: server.address().port, close: () => new Promise((resolve) => server.close(resolve)) };
  },
  Fastify: async (record) => {
    const app = require('fastify')({ logger: false });
    app.addHook('onRequest', async (request, reply) => record(reply.raw, (field) => reply.getHeader(field)));
    await app.register(fastifyRateLimit, OPTIONS);
    app.get('/', async () => 'served');
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: app.server.address().port, close: () => app.close() };
  },
};

for (const [name, start] of Object.entries(servers)) {
  test(`got retries ${name}'s 429s after Retry-After, and no retry lands inside a cooldown`, { timeout: 30_000 }, async (t) => {
    const { default: got } = await import('got');
    const { log, record } = logger();
    const server = await start(record);
    t.after(() => server.close());
    const client = got.extend({
      prefixUrl: `http://127.0.0.1:${server.port}`,
      retry: { limit: 3, methods: ['GET'], statusCodes: [429], maxRetryAfter: 5_000 },
      timeout: { request: 10_000 },
    });
    for (let i = 0; i < REQUESTS; i += 1) {
      const response = await client.get('');
      assert.equal(response.statusCode, 200, `request ${i + 1} gets through in the end`);
      assert.equal(response.body, 'served');
    }
    const denials = log.filter((entry) => entry.status === 429);
    assert.ok(denials.length > 0, 'the client went over the limit');
    for (let i = 0; i < log.length; i += 1) {
      const entry = log[i];
      if (entry.status !== 429) continue;
      assert.match(String(entry.retryAfter), /^[1-9]\d*$/, 'whole seconds, never 0');
      const retry = log[i + 1];
      assert.ok(retry !== undefined, 'every 429 was retried');
      // Timers never fire early; 1 ms covers their rounding.
      const earliest = entry.leftMs + Number(entry.retryAfter) * 1_000 - 1;
      assert.ok(retry.arrivedMs >= earliest, `retry arrived ${(earliest - retry.arrivedMs).toFixed(1)} ms inside the cooldown`);
      assert.equal(retry.status, 200, 'a retry after Retry-After is admitted');
    }
  });
}
