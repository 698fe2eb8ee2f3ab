'use strict';
// Standard defaults, the GenieOS and Clarifai presets, stacked limits, and
// express-rate-limit's options, against Express on 127.0.0.1 (a free port);
// every server is closed at the end, every loop is bounded.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const express = require('express');
const { KeyedLimiter, Quota, StandardHeaders, keys, rateLimit } = require('..');
const { addressKey } = require('../lib/client-address.js');

async function serve(t, ...middlewares) {
  const app = express();
  for (const middleware of middlewares) app.use(middleware);
  app.get('/', (req, res) => res.json({ rateLimit: req.rateLimit ?? null, custom: req.quota ?? null }));
  app.get('/fail', (req, res) => res.status(500).end('failed'));
  const server = http.createServer(app);
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

test('by default: whole-second Retry-After, epoch-second reset, draft-8 fields from the limit, a neutral body', async (t) => {
  const base = await serve(t, rateLimit({ windowMs: 60_000, limit: 3 }));
  for (let i = 0; i < 3; i += 1) assert.equal((await get(base)).status, 200);
  const before = Math.floor(Date.now() / 1000);
  const denied = await get(base, '/', { 'x-request-id': 'req_1' });
  assert.equal(denied.status, 429);
  const retryAfter = denied.headers.get('retry-after');
  assert.match(retryAfter, /^[1-9]\d*$/, 'whole seconds, never 0');
  assert.ok(Number(retryAfter) <= 20, `Retry-After ${retryAfter}: one request of 3 per minute refills in 20 s`);
  assert.equal(denied.headers.get('x-ratelimit-limit'), '3');
  assert.equal(denied.headers.get('x-ratelimit-remaining'), '0');
  const reset = Number(denied.headers.get('x-ratelimit-reset'));
  assert.ok(reset >= before && reset <= before + 61, `X-RateLimit-Reset ${reset} is epoch seconds`);
  assert.equal(denied.headers.get('ratelimit-policy'), '"3-in-60sec";q=3;w=60');
  assert.match(denied.headers.get('ratelimit'), /^"3-in-60sec";r=0;t=\d+$/);
  assert.equal(denied.headers.get('x-ratelimit-scope'), null);
  const body = JSON.parse(denied.body);
  assert.equal(body.error.code, 'rate_limited');
  assert.equal(body.error.message, `Too many requests. Retry after ${retryAfter}s.`);
  assert.equal(body.error.request_id, 'req_1');
  assert.doesNotMatch(denied.body, /API key/);
});

test('presets: GenieOS (fractional Retry-After, ISO reset, scope, its body) and Clarifai (11005)', async (t) => {
  const genieos = await serve(t, rateLimit({ windowMs: 60_000, limit: 1, preset: 'genieos' }));
  await get(genieos);
  const g = await get(genieos);
  assert.equal(g.status, 429);
  assert.match(g.headers.get('x-ratelimit-reset'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(g.headers.get('x-ratelimit-scope'), 'key');
  assert.match(g.headers.get('retry-after'), /^\d+(\.\d)?$/);
  assert.equal(JSON.parse(g.body).error.code, 'key_rate_limit');
  const clarifai = await serve(t, rateLimit({ windowMs: 60_000, limit: 1, preset: 'clarifai' }));
  await get(clarifai);
  const c = await get(clarifai);
  assert.equal(c.status, 429);
  assert.equal(JSON.parse(c.body).status.code, 11005);
  assert.match(c.headers.get('retry-after'), /^[1-9]\d*$/);
  assert.throws(() => rateLimit({ preset: 'github' }), TypeError);
});

test('standardHeaders draft-6 and draft-7, legacyHeaders false', () => {
  const quota = Quota.perSecond(30, { burst: 60 });
  const limiter = new KeyedLimiter(quota, { capacity: 8 });
  const decision = limiter.check('k', 60, 0);
  const policy = { quota: 60, windowSeconds: 2 };
  const six = new StandardHeaders({ standardHeaders: 'draft-6', legacyHeaders: false }).render(decision, { policy, nowMs: 0 });
  assert.deepEqual(six, { 'RateLimit-Policy': '60;w=2', 'RateLimit-Limit': '60', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '2' });
  const seven = new StandardHeaders({ standardHeaders: 'draft-7' }).render(decision, { policy, nowMs: 1_000 });
  assert.equal(seven.RateLimit, 'limit=60, remaining=0, reset=2');
  assert.equal(seven['X-RateLimit-Reset'], '3');
  assert.deepEqual(new StandardHeaders({ standardHeaders: false, legacyHeaders: false }).render(decision), {});
  assert.throws(() => new StandardHeaders({ standardHeaders: 'draft-9' }), TypeError);
  assert.throws(() => new StandardHeaders({ legacyHeaders: 'yes' }), TypeError);
  limiter.close();
});

test('stacked limits answer with one set of headers: the most restrictive', async (t) => {
  const base = await serve(t, rateLimit({ windowMs: 60_000, limit: 100, identifier: 'hour' }), rateLimit({ windowMs: 60_000, limit: 5, identifier: 'burst' }));
  const first = await get(base);
  assert.equal(first.headers.get('x-ratelimit-limit'), '5');
  assert.equal(first.headers.get('x-ratelimit-remaining'), '4');
  assert.match(first.headers.get('ratelimit'), /^"burst";r=4;/);
  const reversed = await serve(t, rateLimit({ windowMs: 60_000, limit: 5 }), rateLimit({ windowMs: 60_000, limit: 100 }));
  const again = await get(reversed);
  assert.equal(again.headers.get('x-ratelimit-limit'), '5');
  assert.equal(again.headers.get('x-ratelimit-remaining'), '4');
});

test("express-rate-limit's options: limit as an async function, keyGenerator, skip, requestPropertyName", async (t) => {
  const base = await serve(
    t,
    rateLimit({
      windowMs: 60_000,
      limit: async (req) => (req.headers['x-plan'] === 'pro' ? 4 : 2),
      keyGenerator: async (req) => req.headers['x-user'],
      skip: (req) => req.headers['x-internal'] === 'yes',
      requestPropertyName: 'quota',
    }),
  );
  const first = JSON.parse((await get(base, '/', { 'x-user': 'a', 'x-plan': 'pro' })).body);
  assert.equal(first.custom.limit, 4);
  assert.equal(first.custom.used, 1);
  assert.equal(first.custom.remaining, 3);
  assert.equal(first.custom.key, 'a');
  assert.ok(Date.parse(first.custom.resetTime) > Date.now() - 1_000);
  await get(base, '/', { 'x-user': 'b' });
  await get(base, '/', { 'x-user': 'b' });
  assert.equal((await get(base, '/', { 'x-user': 'b' })).status, 429, 'b has 2');
  assert.equal((await get(base, '/', { 'x-user': 'b', 'x-internal': 'yes' })).status, 200, 'skipped');
  assert.equal((await get(base, '/', { 'x-user': 'a', 'x-plan': 'pro' })).status, 200, 'a has 4');
});

test("express-rate-limit's options: message, statusCode, handler", async (t) => {
  const text = await serve(t, rateLimit({ windowMs: 60_000, limit: 1, message: 'slow down', statusCode: 503 }));
  await get(text);
  const denied = await get(text);
  assert.equal(denied.status, 503);
  assert.equal(denied.body, 'slow down');
  assert.ok(denied.headers.get('retry-after'));
  const json = await serve(t, rateLimit({ windowMs: 60_000, limit: 1, message: async () => ({ error: 'later' }) }));
  await get(json);
  assert.deepEqual(JSON.parse((await get(json)).body), { error: 'later' });
  const handled = await serve(
    t,
    rateLimit({ windowMs: 60_000, limit: 1, handler: (req, res, next, options) => res.status(options.statusCode ?? 429).json({ handled: req.rateLimit.remaining }) }),
  );
  await get(handled);
  const byHandler = await get(handled);
  assert.equal(byHandler.status, 429);
  assert.deepEqual(JSON.parse(byHandler.body), { handled: 0 });
  assert.ok(byHandler.headers.get('ratelimit'), 'headers are set before the handler runs');
});

test('skipFailedRequests and skipSuccessfulRequests refund once the response has finished', async (t) => {
  const limiter = new KeyedLimiter(Quota.perMinute(2), { capacity: 8 });
  const base = await serve(t, rateLimit({ limiter, keyGenerator: () => 'k', skipFailedRequests: true }));
  for (let i = 0; i < 5; i += 1) assert.equal((await get(base, '/fail')).status, 500, `failure ${i + 1} is not counted`);
  await get(base);
  await get(base);
  assert.equal((await get(base)).status, 429);
  const successes = new KeyedLimiter(Quota.perMinute(2), { capacity: 8 });
  const other = await serve(t, rateLimit({ limiter: successes, keyGenerator: () => 'k', skipSuccessfulRequests: true }));
  for (let i = 0; i < 5; i += 1) assert.equal((await get(other)).status, 200);
  await get(other, '/fail');
  await get(other, '/fail');
  assert.equal((await get(other, '/fail')).status, 429, 'only failures count');
  assert.throws(() => rateLimit({ policy: undefined, plans: undefined, limiter, skipFailedRequests: 'yes' }), TypeError);
});

test('resetKey lifts a block at once', async (t) => {
  const limiter = new KeyedLimiter(Quota.perHour(1), { capacity: 8 });
  const base = await serve(t, rateLimit({ limiter, keyGenerator: () => 'k' }));
  await get(base);
  assert.equal((await get(base)).status, 429);
  limiter.resetKey('k');
  assert.equal((await get(base)).status, 200);
});

test('IPv6 client addresses are grouped by prefix: /56 by default, ipv6Subnet to change it', () => {
  assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:0:0:0:0:0/56');
  assert.equal(addressKey('2001:db8:1:2ff::1'), '2001:db8:1:200:0:0:0:0/56');
  assert.equal(addressKey('2001:db8:1:2ff::1', 64), '2001:db8:1:2ff:0:0:0:0/64');
  assert.equal(addressKey('2001:db8:1:2ff::1', false), '2001:db8:1:2ff:0:0:0:1');
  assert.equal(addressKey('::ffff:203.0.113.9'), '203.0.113.9', 'IPv4-mapped: the IPv4 address');
  assert.equal(addressKey('203.0.113.7'), '203.0.113.7');
  assert.equal(keys.ip({ ip: '2001:db8:1:2:3:4:5:6' }), keys.ip({ ip: '2001:db8:1:2:ffff::1' }), 'one /56, one key');
  const limiter = new KeyedLimiter(Quota.perHour(1), { capacity: 8 });
  const guard = (ip, ipv6Subnet) => {
    const res = { fields: {}, statusCode: 200, setHeader(name, value) { this.fields[name] = value; }, removeHeader() {}, end() {} };
    return rateLimit({ limiter, ipv6Subnet })({ ip, headers: {} }, res);
  };
  assert.equal(guard('2001:db8:1:2:3:4:5:6'), true);
  assert.equal(guard('2001:db8:1:2:aaaa::1'), false, 'another address in the same /56 shares the bucket');
  assert.equal(guard('2001:db8:1:2:bbbb::1', 64), true, 'by /64: a new key');
  assert.equal(guard('2001:db8:1:2:cccc::1', 64), false, 'the same /64');
  assert.equal(guard('2001:db8:1:3:aaaa::1', 64), true, 'a /64 of its own');
  assert.throws(() => rateLimit({ ipv6Subnet: 0 }), RangeError);
  assert.throws(() => rateLimit({ ipv6Subnet: 129 }), RangeError);
});

test('option functions that throw or reject are reported, never let a request through unlimited', async (t) => {
  const errors = [];
  const onError = (error) => errors.push(error.message);
  const base = await serve(
    t,
    rateLimit({
      windowMs: 60_000,
      limit: async (req) => {
        if (req.headers['x-limit'] === 'broken') throw new Error('limit store down');
        return 1;
      },
      keyGenerator: async (req) => {
        if (req.headers['x-key'] === 'broken') throw new Error('key store down');
        return req.headers['x-key'];
      },
      skip: (req) => {
        if (req.headers['x-skip'] === 'broken') throw new Error('skip broke');
        return false;
      },
      message: (req) => {
        if (req.headers['x-key'] === 'b') throw new Error('message broke');
        return 'later';
      },
      onError,
    }),
  );
  const limitDown = await get(base, '/', { 'x-key': 'a', 'x-limit': 'broken' });
  assert.equal(limitDown.status, 400);
  assert.equal(JSON.parse(limitDown.body).error.code, 'invalid_request');
  // A failed key function is a bad key: the fallback key (the client address) is charged.
  assert.equal((await get(base, '/', { 'x-key': 'broken' })).status, 200);
  assert.equal((await get(base, '/', { 'x-key': 'broken' })).status, 429);
  assert.equal((await get(base, '/', { 'x-key': 'b', 'x-skip': 'broken' })).status, 200, 'a failed skip skips nothing');
  const fallbackBody = await get(base, '/', { 'x-key': 'b' });
  assert.equal(fallbackBody.status, 429);
  assert.equal(JSON.parse(fallbackBody.body).error.code, 'rate_limited', "a failed message function: the preset's body");
  assert.deepEqual(errors, ['limit store down', 'key store down', 'key store down', 'skip broke', 'message broke']);
});
