'use strict';
// The middleware against real servers on 127.0.0.1 (a free port picked by the
// OS), with a bounded number of requests; every server is closed at the end.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { Limiter, Quota, fastifyHook, keys, rateLimit } = require('..');

const ISO_SECOND = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

async function close(server) {
  server.closeAllConnections?.();
  await new Promise((resolve) => server.close(resolve));
}

async function get(base, path = '/', headers = {}) {
  const response = await fetch(base + path, { headers });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

function assertRateLimitHeaders(response, { limit, remaining, scope = 'key' }) {
  assert.equal(response.headers.get('x-ratelimit-limit'), String(limit));
  assert.equal(response.headers.get('x-ratelimit-remaining'), String(remaining));
  assert.match(response.headers.get('x-ratelimit-reset'), ISO_SECOND);
  assert.equal(response.headers.get('x-ratelimit-scope'), scope);
}

test('node:http: headers on every response, 429 with Retry-After and the JSON body', async (t) => {
  const limiter = new Limiter(Quota.perHour(3));
  const guard = rateLimit({ limiter, key: keys.header('x-api-key') });
  const server = http.createServer((req, res) => {
    if (!guard(req, res)) return;
    res.end('served');
  });
  const base = await listen(server);
  t.after(() => close(server));

  for (let remaining = 2; remaining >= 0; remaining -= 1) {
    const ok = await get(base, '/', { 'x-api-key': 'k1' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'served');
    assertRateLimitHeaders(ok, { limit: 3, remaining });
    assert.equal(ok.headers.get('retry-after'), null);
  }
  const denied = await get(base, '/', { 'x-api-key': 'k1', 'x-request-id': 'req_test' });
  assert.equal(denied.status, 429);
  assertRateLimitHeaders(denied, { limit: 3, remaining: 0 });
  const retryAfter = Number(denied.headers.get('retry-after'));
  assert.ok(retryAfter > 0 && retryAfter <= 1200, `Retry-After ${retryAfter}`);
  assert.equal(denied.headers.get('content-type'), 'application/json');
  const body = JSON.parse(denied.body);
  assert.deepEqual(Object.keys(body.error), ['type', 'code', 'message', 'retry_after_seconds', 'request_id']);
  assert.equal(body.error.type, 'rate_limit_exceeded');
  assert.equal(body.error.code, 'key_rate_limit');
  assert.equal(body.error.retry_after_seconds, retryAfter);
  assert.equal(body.error.message, `API key exceeded its rate limit. Retry after ${denied.headers.get('retry-after')}s.`);
  assert.equal(body.error.request_id, 'req_test');

  const generatedId = JSON.parse((await get(base, '/', { 'x-api-key': 'k1' })).body).error.request_id;
  assert.match(generatedId, /^req_[0-9a-f]{32}$/);

  const anonymous = await get(base, '/');
  assert.equal(anonymous.status, 200, 'no key: not limited');
  assert.equal(anonymous.headers.get('x-ratelimit-limit'), null);
});

test('per-key buckets through a keyed checker; cost function; fixed clock', async (t) => {
  const buckets = new Map();
  const keyed = {
    check(key, cost) {
      let bucket = buckets.get(key);
      if (bucket === undefined) buckets.set(key, (bucket = new Limiter(Quota.perSecond(30, { burst: 60 }))));
      return bucket.check(cost, 0);
    },
  };
  t.after(() => buckets.forEach((bucket) => bucket.close()));
  const guard = rateLimit({
    limiter: keyed,
    key: keys.path,
    cost: (req) => (req.method === 'POST' ? 30 : 1),
    now: () => Date.UTC(2026, 3, 20, 12, 33, 58),
    scope: 'endpoint',
  });
  const server = http.createServer((req, res) => {
    if (guard(req, res)) res.end(req.url);
  });
  const base = await listen(server);
  t.after(() => close(server));

  const post = await fetch(`${base}/a?x=1`, { method: 'POST' });
  assert.equal(post.status, 200);
  assert.equal(post.headers.get('x-ratelimit-remaining'), '30');
  assert.equal(post.headers.get('x-ratelimit-scope'), 'endpoint');
  await post.text();
  for (let i = 0; i < 30; i += 1) assert.equal((await get(base, '/a')).status, 200);
  const denied = await get(base, '/a?y=2');
  assert.equal(denied.status, 429);
  assert.equal(denied.headers.get('retry-after'), '0.1', '1/30 s rounds up to 0.1');
  assert.equal(denied.headers.get('x-ratelimit-reset'), '2026-04-20T12:34:00Z');
  const other = await get(base, '/b');
  assert.equal(other.status, 200, 'another key has its own bucket');
  assert.equal(other.headers.get('x-ratelimit-remaining'), '59');
});

test('Express: app.use(rateLimit(...)) with next()', async (t) => {
  const express = require('express');
  const limiter = new Limiter(Quota.perHour(2));
  const app = express();
  app.use(rateLimit({ limiter, key: keys.ip, retryAfterDecimals: 0 }));
  app.get('/', (req, res) => res.json({ ok: true }));
  const server = http.createServer(app);
  const base = await listen(server);
  t.after(() => close(server));

  const first = await get(base);
  assert.equal(first.status, 200);
  assert.deepEqual(JSON.parse(first.body), { ok: true });
  assertRateLimitHeaders(first, { limit: 2, remaining: 1 });
  assert.equal((await get(base)).status, 200);
  const denied = await get(base);
  assert.equal(denied.status, 429);
  assert.match(denied.headers.get('retry-after'), /^[1-9]\d*$/, 'whole seconds, never 0');
  assert.equal(JSON.parse(denied.body).error.code, 'key_rate_limit');
});

test('Express: a failing key function goes to the error handler', async (t) => {
  const express = require('express');
  const app = express();
  app.use(rateLimit({ limiter: new Limiter(Quota.perSecond(1)), key: () => { throw new Error('no key store'); } }));
  app.get('/', (req, res) => res.end('unreachable'));
  app.use((error, req, res, next) => res.status(503).end(error.message));
  const server = http.createServer(app);
  const base = await listen(server);
  t.after(() => close(server));
  const response = await get(base);
  assert.equal(response.status, 503);
  assert.equal(response.body, 'no key store');
});

test('fastifyHook sets headers through the reply and answers 429', async () => {
  const limiter = new Limiter(Quota.perHour(1));
  const hook = fastifyHook({ limiter, key: () => 'k', now: () => Date.UTC(2026, 0, 1) });
  const reply = () => {
    const state = { headers: {}, status: 200, type: null, body: null };
    const api = {
      headers(fields) { Object.assign(state.headers, fields); return api; },
      code(status) { state.status = status; return api; },
      type(value) { state.type = value; return api; },
      send(body) { state.body = body; return Promise.resolve(api); },
    };
    return { api, state };
  };
  const request = { raw: { headers: {}, url: '/' } };
  const first = reply();
  await hook(request, first.api);
  assert.equal(first.state.status, 200);
  assert.equal(first.state.body, null);
  assert.equal(first.state.headers['X-RateLimit-Remaining'], '0');
  const second = reply();
  await hook(request, second.api);
  assert.equal(second.state.status, 429);
  assert.equal(second.state.type, 'application/json');
  assert.equal(JSON.parse(second.state.body).error.type, 'rate_limit_exceeded');
  assert.ok(Number(second.state.headers['Retry-After']) > 0);
});

test('rateLimit refuses bad options up front', () => {
  const limiter = new Limiter(Quota.perSecond(1));
  assert.throws(() => rateLimit(), TypeError);
  assert.throws(() => rateLimit({}), TypeError);
  assert.throws(() => rateLimit({ limiter: { check: 1 } }), TypeError);
  assert.throws(() => rateLimit({ limiter, key: 'x-api-key' }), TypeError);
  assert.throws(() => rateLimit({ limiter, cost: -1 }), RangeError);
  assert.throws(() => rateLimit({ limiter, cost: '1' }), TypeError);
  assert.throws(() => rateLimit({ limiter, scope: 'two words' }), TypeError);
  assert.throws(() => rateLimit({ limiter, message: 5 }), TypeError);
  assert.throws(() => rateLimit({ limiter, retryAfterDecimals: 10 }), RangeError);
  assert.throws(() => rateLimit({ limiter, requestId: 'r' }), TypeError);
  assert.throws(() => keys.header(''), TypeError);
  const throwing = rateLimit({ limiter, key: () => { throw new Error('boom'); } });
  assert.throws(() => throwing({ headers: {} }, {}), /boom/, 'node:http callers see the error');
});
