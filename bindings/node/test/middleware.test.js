'use strict';
// The middleware against real servers on 127.0.0.1 (a free port picked by the
// OS), with a bounded number of requests; every server is closed at the end.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { ErrorBody, HeaderRenderer, KeyedLimiter, Limiter, Plans, Policy, Quota, SlidingWindow, fastifyHook, keys, rateLimit } = require('..');

const ISO_SECOND = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

async function serve(t, guard) {
  const server = http.createServer((req, res) => {
    if (!guard(req, res)) return;
    res.end('served');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${server.address().port}`;
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

test('node:http: two API keys are independent; the 61st request of one is 429 with the GenieOS body', async (t) => {
  const perKey = new KeyedLimiter(Quota.perHour(30, { burst: 60 }), { capacity: 1_024 });
  const base = await serve(t, rateLimit({ preset: 'genieos', limiter: perKey, key: keys.header('x-api-key') }));

  for (let i = 0; i < 60; i += 1) {
    const ok = await get(base, '/', { 'x-api-key': 'key_a' });
    assert.equal(ok.status, 200, `request ${i + 1}`);
    assert.equal(ok.body, 'served');
    assertRateLimitHeaders(ok, { limit: 60, remaining: 59 - i });
    assert.equal(ok.headers.get('retry-after'), null);
  }
  const denied = await get(base, '/', { 'x-api-key': 'key_a', 'x-request-id': 'req_test' });
  assert.equal(denied.status, 429);
  assertRateLimitHeaders(denied, { limit: 60, remaining: 0 });
  const retryAfter = denied.headers.get('retry-after');
  assert.match(retryAfter, /^\d+(\.\d)?$/);
  assert.ok(Number(retryAfter) > 0 && Number(retryAfter) <= 120, `Retry-After ${retryAfter}`);
  assert.equal(denied.headers.get('content-type'), 'application/json');
  assert.deepEqual(JSON.parse(denied.body), {
    error: {
      type: 'rate_limit_exceeded',
      code: 'key_rate_limit',
      message: `API key exceeded its rate limit. Retry after ${retryAfter}s.`,
      retry_after_seconds: Number(retryAfter),
      request_id: 'req_test',
    },
  });
  const other = await get(base, '/', { 'x-api-key': 'key_b' });
  assert.equal(other.status, 200, 'the other key still passes');
  assertRateLimitHeaders(other, { limit: 60, remaining: 59 });
  const generatedId = JSON.parse((await get(base, '/', { 'x-api-key': 'key_a' })).body).error.request_id;
  assert.match(generatedId, /^req_[0-9a-f]{32}$/);
  const anonymous = await get(base, '/');
  assert.equal(anonymous.status, 200, 'no key: charged to the client address');
  assertRateLimitHeaders(anonymous, { limit: 60, remaining: 59 });
});

test('node:http with a Policy: a workspace denial reports scope workspace and the workspace body', async (t) => {
  // Per hour, so no token comes back while the test runs on a loaded machine.
  const perKey = new KeyedLimiter(Quota.perHour(30, { burst: 60 }), { capacity: 1_024 });
  const workspaces = new KeyedLimiter(Quota.perHour(10), { capacity: 1_024 });
  const policy = new Policy([
    { limit: perKey, scope: 'key' },
    { limit: workspaces, scope: 'workspace' },
  ]);
  const workspaceOf = { key_1: 'ws_a', key_2: 'ws_a', key_3: 'ws_b' };
  const guard = rateLimit({ preset: 'genieos',
    policy,
    keys: (req) => {
      const key = req.headers['x-api-key'];
      return key === undefined ? null : [key, workspaceOf[key]];
    },
    now: () => Date.UTC(2026, 3, 20, 12, 33, 58),
  });
  const base = await serve(t, guard);
  for (let i = 0; i < 10; i += 1) {
    const ok = await get(base, '/', { 'x-api-key': i % 2 ? 'key_1' : 'key_2' });
    assert.equal(ok.status, 200);
    assertRateLimitHeaders(ok, { limit: 10, remaining: 9 - i, scope: 'workspace' });
  }
  const denied = await get(base, '/', { 'x-api-key': 'key_1', 'x-request-id': 'r1' });
  assert.equal(denied.status, 429);
  assertRateLimitHeaders(denied, { limit: 10, remaining: 0, scope: 'workspace' });
  assert.equal(denied.headers.get('retry-after'), '360', 'one workspace request per 6 minutes');
  const body = JSON.parse(denied.body).error;
  assert.equal(body.code, 'workspace_rate_limit');
  assert.equal(body.message, 'Workspace exceeded its rate limit. Retry after 360s.');
  assert.equal((await get(base, '/', { 'x-api-key': 'key_3' })).status, 200, 'another workspace passes');
  assert.equal(perKey.peek('key_1').remaining, 55, 'the refused request charged no key');
  const anonymous = await get(base);
  assert.equal(anonymous.status, 200, 'keys() returned null: every keyed layer charged the client address');
  assert.equal(perKey.peek('127.0.0.1').remaining, 59);
  assert.equal(workspaces.peek('127.0.0.1').remaining, 9);
});

test('node:http with a Policy: a suspended layer answers 403 with a suspended body', async (t) => {
  const account = new Limiter(Quota.perSecond(100));
  const perKey = new KeyedLimiter(Quota.perSecond(100), { capacity: 64 });
  const policy = new Policy([
    { limit: perKey, scope: 'key' },
    { limit: account, scope: 'account' },
  ]);
  const base = await serve(t, rateLimit({ preset: 'genieos', policy, keys: () => ['k', null] }));
  assert.equal((await get(base)).status, 200);
  account.suspendUntil(null);
  const refused = await get(base, '/', { 'x-request-id': 'r9' });
  assert.equal(refused.status, 403);
  assert.equal(refused.headers.get('x-ratelimit-limit'), null);
  assert.deepEqual(JSON.parse(refused.body).error, {
    type: 'suspended',
    code: 'account_suspended',
    message: 'This account is suspended.',
    retry_after_seconds: null,
    request_id: 'r9',
  });
});

test('node:http with Plans: key then workspace denials; an unlimited tier passes without headers', async (t) => {
  const plans = Plans.genieos({ keyCapacity: 64, workspaceCapacity: 8 });
  const plan = (req) => {
    const key = req.headers['x-api-key'];
    if (key === undefined) return null;
    return [key.startsWith('gos_test_') ? 'sandbox' : 'hobby', key, req.headers['x-workspace'] ?? 'ws_1'];
  };
  const base = await serve(t, rateLimit({ preset: 'genieos', plans, plan, cost: (req) => Number(req.headers['x-cost'] ?? 1) }));
  const first = await get(base, '/', { 'x-api-key': 'gos_live_1' });
  assert.equal(first.status, 200);
  assertRateLimitHeaders(first, { limit: 60, remaining: 59 });
  const byKey = await get(base, '/', { 'x-api-key': 'gos_live_1', 'x-cost': '60' });
  assert.equal(byKey.status, 429);
  assert.equal(byKey.headers.get('x-ratelimit-scope'), 'key');
  assert.equal(JSON.parse(byKey.body).error.code, 'key_rate_limit');
  for (let i = 0; i < 10; i += 1) {
    assert.equal((await get(base, '/', { 'x-api-key': `gos_live_w${i}`, 'x-workspace': 'ws_2', 'x-cost': '60' })).status, 200);
  }
  const byWorkspace = await get(base, '/', { 'x-api-key': 'gos_live_w10', 'x-workspace': 'ws_2' });
  assert.equal(byWorkspace.status, 429);
  assertRateLimitHeaders(byWorkspace, { limit: 600, remaining: 0, scope: 'workspace' });
  assert.equal(JSON.parse(byWorkspace.body).error.code, 'workspace_rate_limit');
  const sandbox = await get(base, '/', { 'x-api-key': 'gos_test_1', 'x-cost': '1000' });
  assert.equal(sandbox.status, 200);
  assert.equal(sandbox.headers.get('x-ratelimit-limit'), null, 'nothing to advertise for an unlimited tier');
  const planless = await get(base, '/', { 'x-request-id': 'r0' });
  assert.equal(planless.status, 400, 'plan() returned null: no tier to charge, so refused, never unlimited');
  assert.deepEqual(JSON.parse(planless.body).error, {
    type: 'invalid_request',
    code: 'invalid_key',
    message: 'The request has no usable key.',
    request_id: 'r0',
  });
});

test('cost function, custom body and header renderer; Express with next()', async (t) => {
  const express = require('express');
  const perPath = new KeyedLimiter(Quota.perHour(30, { burst: 60 }), { capacity: 64 });
  const app = express();
  app.use(
    rateLimit({ preset: 'genieos',
      limiter: perPath,
      key: keys.path,
      cost: (req) => (req.method === 'POST' ? 30 : 1),
      scope: 'endpoint',
      headers: new HeaderRenderer({ retryAfterDecimals: 0 }),
      errorBody: ErrorBody.clarifai('exceeded limit of {limit} requests per second', { numericCode: 11005 }),
      requestId: () => 'fixed',
    }),
  );
  app.all('/{*any}', (req, res) => res.json({ ok: true }));
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  });
  const base = `http://127.0.0.1:${server.address().port}`;
  const post = await fetch(`${base}/a?x=1`, { method: 'POST' });
  assert.equal(post.status, 200);
  assert.deepEqual(await post.json(), { ok: true });
  assert.equal(post.headers.get('x-ratelimit-remaining'), '30');
  assert.equal(post.headers.get('x-ratelimit-scope'), 'endpoint');
  for (let i = 0; i < 30; i += 1) assert.equal((await get(base, '/a')).status, 200);
  const denied = await get(base, '/a?y=2');
  assert.equal(denied.status, 429);
  assert.equal(denied.headers.get('retry-after'), '120', 'whole seconds');
  assert.deepEqual(JSON.parse(denied.body), {
    status: {
      code: 11005,
      description: 'Making too many requests',
      details: 'exceeded limit of 60 requests per second',
      req_id: 'fixed',
    },
  });
  assert.equal((await get(base, '/b')).headers.get('x-ratelimit-remaining'), '59', 'another path has its own bucket');
});

test('Express: a failing key function is reported to onError and the request charged to the fallback key', async (t) => {
  const express = require('express');
  const app = express();
  const reported = [];
  const perKey = new KeyedLimiter(Quota.perHour(1), { capacity: 8 });
  app.use(
    rateLimit({ preset: 'genieos',
      limiter: perKey,
      key: () => {
        throw new Error('no key store');
      },
      onError: (error) => reported.push(error.message),
    }),
  );
  app.get('/', (req, res) => res.end('served'));
  app.use((error, req, res, next) => res.status(503).end(error.message));
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  });
  const base = `http://127.0.0.1:${server.address().port}`;
  const first = await get(base);
  assert.equal(first.status, 200);
  assert.equal(first.body, 'served');
  assert.equal((await get(base)).status, 429, 'the client address was charged: its one request an hour is spent');
  assert.deepEqual(reported, ['no key store', 'no key store']);
});

test('fastifyHook sets headers through the reply and answers 429', async () => {
  const hook = fastifyHook({ preset: 'genieos', limiter: new KeyedLimiter(Quota.perHour(1), { capacity: 8 }), key: () => 'k' });
  const reply = () => {
    const state = { headers: {}, status: 200, type: null, body: null };
    const api = {
      raw: {},
      headers(fields) { Object.assign(state.headers, fields); return api; },
      code(status) { state.status = status; return api; },
      type(value) { state.type = value; return api; },
      send(body) { state.body = body; return Promise.resolve(api); },
    };
    return { api, state };
  };
  // Fastify's request: its own headers, url and ip (trustProxy applied), the node:http one as raw.
  const request = { headers: {}, url: '/', ip: '127.0.0.1', raw: { headers: {}, url: '/' } };
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
  const limiter = new KeyedLimiter(Quota.perSecond(1), { capacity: 8 });
  const policy = new Policy([{ limit: SlidingWindow.perMinute(5), scope: 'workspace' }]);
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, policy, keys: () => [] }), TypeError, 'one of limiter and policy');
  assert.throws(() => rateLimit({ preset: 'genieos', limiter: new Limiter(Quota.perSecond(1)) }), TypeError, 'a single Limiter is not per key');
  assert.throws(() => rateLimit({ preset: 'genieos', limiter: { check() {} } }), TypeError);
  assert.throws(() => rateLimit({ preset: 'genieos', policy: limiter, keys: () => [] }), TypeError);
  assert.throws(() => rateLimit({ preset: 'genieos', policy }), TypeError, 'a Policy needs keys');
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, key: 'x-api-key' }), TypeError);
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, cost: -1 }), RangeError);
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, cost: '1' }), TypeError);
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, scope: 'two words' }), TypeError);
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, retryAfterDecimals: 10 }), RangeError);
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, headers: {} }), TypeError);
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, errorBody: 'json' }), TypeError);
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, requestId: 'r' }), TypeError);
  assert.throws(() => keys.header(''), TypeError);
  const plans = Plans.genieos({ keyCapacity: 8, workspaceCapacity: 8 });
  assert.throws(() => rateLimit({ preset: 'genieos', plans }), TypeError, 'Plans need a plan function');
  assert.throws(() => rateLimit({ preset: 'genieos', plans: policy, plan: () => null }), TypeError);
  assert.throws(() => rateLimit({ preset: 'genieos', plans, limiter, plan: () => null }), TypeError, 'one of limiter, policy and plans');
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, onBadKey: 'ignore' }), TypeError);
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, fallbackKey: 'ip' }), TypeError);
  assert.throws(() => rateLimit({ preset: 'genieos', limiter, onError: true }), TypeError);
});

test('rateLimit answers 400 instead of throwing when a request cannot be checked', () => {
  const limiter = new KeyedLimiter(Quota.perSecond(1), { capacity: 8 });
  const plans = Plans.genieos({ keyCapacity: 8, workspaceCapacity: 8 });
  const answered = (guard) => {
    const res = { statusCode: 200, fields: {}, body: null, setHeader(name, value) { this.fields[name] = value; }, end(body) { this.body = body; } };
    assert.equal(guard({ headers: {} }, res), false);
    return { status: res.statusCode, error: JSON.parse(res.body).error };
  };
  const reported = [];
  const onError = (error) => reported.push(error);
  const badPlan = answered(rateLimit({ preset: 'genieos', plans, plan: () => ['hobby', 'k'], onError }));
  assert.deepEqual([badPlan.status, badPlan.error.code], [400, 'invalid_key'], 'plan(req) returns three parts');
  assert.match(reported.pop().message, /plan\(req\) must return/);
  const noFallback = answered(rateLimit({ preset: 'genieos', limiter, key: () => '', fallbackKey: () => null }));
  assert.deepEqual([noFallback.status, noFallback.error.code], [400, 'invalid_key'], 'neither key nor fallback');
  const badBody = rateLimit({ preset: 'genieos', limiter, key: () => 'k', errorBody: () => 'not a body', onError });
  const res = { setHeader() {}, end() {} };
  badBody({ headers: {} }, res);
  const refused = answered(badBody);
  assert.deepEqual([refused.status, refused.error.code], [400, 'invalid_request']);
  assert.ok(reported.pop() instanceof TypeError, 'the bad errorBody reaches onError');
  const badCost = answered(rateLimit({ preset: 'genieos', limiter, key: () => 'c', cost: () => -1 }));
  assert.equal(badCost.status, 400);
  assert.equal(reported.length, 0);
});
