'use strict';
// Leased limits (LeasedLimiter, rateLimit({ store }) by default) against a
// real redis-server started on a free 127.0.0.1 port and stopped by its PID:
// a check is synchronous and admits no more than the Redis bucket was
// charged for, Express and Fastify answer 429 with headers through leases,
// two cluster workers share one limit, and bad input throws.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const express = require('express');
const fastify = require('fastify');
const { LeasedLimiter, Quota, RedisLimiter, fastifyRateLimit, rateLimit } = require('..');
const { startRedis } = require('./redis-server.js');
const { hammer, startCluster, stopCluster } = require('./cluster-client.js');

/** Generous: a loaded 2-core machine must not turn a slow answer into a failure. */
const DEADLINE_MS = 2_000;
let serial = 0;
/** A prefix no other test or run used. */
const freshPrefix = () => `node-lease:${process.pid}:${Date.now()}:${(serial += 1)}:`;

let redis;
test.before(async () => {
  redis = await startRedis();
});
test.after(() => redis?.stop());

const leased = (quota, opts = {}) =>
  new LeasedLimiter(quota, { store: redis.url, prefix: freshPrefix(), deadlineMs: DEADLINE_MS, onFailure: 'closed', ...opts });

test('a check is synchronous and admits exactly the burst of a bucket nothing refills', () => {
  // Per hour: nothing refills while the test runs.
  const limiter = leased(Quota.perHour(10, { burst: 10 }));
  let admitted = 0;
  for (let i = 0; i < 30; i += 1) {
    const decision = limiter.check(i % 2 === 0 ? 'k' : Buffer.from('k'));
    assert.equal(typeof decision.admitted, 'boolean', 'a Decision, not a Promise');
    if (decision.admitted) admitted += 1;
    else assert.ok(decision.retryAfterNs > 0);
  }
  assert.equal(admitted, 10);
  const { failedOpen, failedClosed, errors, leases } = limiter.counters;
  assert.equal(failedOpen + failedClosed + errors, 0);
  assert.ok(leases.leases >= 1 && leases.granted >= 10 && leases.local >= 1, JSON.stringify(leases));
  limiter.close();
  assert.equal(limiter.closed, true);
  assert.throws(() => limiter.check('k'), /closed/);
});

test('a leased and an exact limiter on one prefix share the Redis bucket', async () => {
  const prefix = freshPrefix();
  const quota = Quota.perHour(4, { burst: 4 });
  const limiter = leased(quota, { prefix, fleetSize: 2 });
  const exact = new RedisLimiter(quota, { store: redis.url, prefix, deadlineMs: DEADLINE_MS, onFailure: 'closed' });
  let admitted = 0;
  for (let i = 0; i < 6; i += 1) {
    if (limiter.check('k').admitted) admitted += 1;
    if ((await exact.check('k')).admitted) admitted += 1;
  }
  assert.equal(admitted, 4);
  limiter.close();
  exact.close();
});

test('failing local admits this process\'s share and counts it', () => {
  // Nothing listens on port 1: the lease call fails at once and the share (the whole quota: one host counted) answers.
  const limiter = new LeasedLimiter(Quota.perMinute(5), { store: 'redis://127.0.0.1:1/', deadlineMs: 1_000, onFailure: 'local' });
  assert.equal(limiter.check('k').admitted, true);
  const counters = limiter.counters;
  assert.deepEqual([counters.localAdmitted, counters.failedOpen], [1, 0]);
  limiter.close();
});

test('store takes a Redis Cluster\'s node URLs as RedisLimiter\'s does', () => {
  assert.throws(() => new LeasedLimiter(Quota.perMinute(5), { store: [] }), RangeError);
  assert.throws(() => new LeasedLimiter(Quota.perMinute(5), { store: [redis.url, 7] }), TypeError);
  const limiter = new LeasedLimiter(Quota.perMinute(5), { store: [redis.url] });
  limiter.close();
});

test('bad input throws TypeError or RangeError before anything is sent', () => {
  const quota = Quota.perMinute(5);
  assert.throws(() => new LeasedLimiter(quota, { store: 7 }), TypeError);
  assert.throws(() => new LeasedLimiter(quota, { store: redis.url, leaseTimeMs: 0 }), RangeError);
  assert.throws(() => new LeasedLimiter(quota, { store: redis.url, lowWater: 101 }), RangeError);
  assert.throws(() => new LeasedLimiter(quota, { store: redis.url, onFailure: 'maybe' }), RangeError);
  assert.throws(() => new LeasedLimiter(quota, { store: redis.url, windowMs: 5 }), TypeError);
  assert.throws(() => new LeasedLimiter('5/s', { store: redis.url }), TypeError);
  const limiter = leased(quota);
  assert.throws(() => limiter.check(''), RangeError);
  assert.throws(() => limiter.check(5), TypeError);
  assert.throws(() => limiter.check('k', -1), RangeError);
  assert.equal(limiter.counters.leases.leases, 0, 'refused checks leased nothing');
  assert.throws(() => rateLimit({ store: redis.url, storeMode: 'fast' }), TypeError);
  assert.throws(() => rateLimit({ store: redis.url, storeMode: 'lease', skipFailedRequests: true }), TypeError);
  assert.throws(() => rateLimit({ limiter, skipSuccessfulRequests: true }), TypeError);
  assert.throws(() => rateLimit({ storeMode: 'exact' }), TypeError);
  limiter.close();
});

async function serve(t, app) {
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${server.address().port}`;
}

test('rateLimit({ store }) leases by default: Express answers 429 with the standard headers', async (t) => {
  const app = express();
  app.use(rateLimit({ windowMs: 60_000, limit: 2, store: redis.url, prefix: freshPrefix(), deadlineMs: DEADLINE_MS, onFailure: 'closed' }));
  app.get('/', (req, res) => res.send('served'));
  const base = await serve(t, app);
  const statuses = [];
  let denied;
  for (let i = 0; i < 3; i += 1) {
    const res = await fetch(base);
    statuses.push(res.status);
    if (res.status === 429) denied = res;
    else await res.text();
  }
  assert.deepEqual(statuses, [200, 200, 429]);
  assert.match(denied.headers.get('ratelimit'), /^"2-in-60sec";r=0;t=\d+$/);
  assert.match(denied.headers.get('retry-after'), /^[1-9]\d*$/);
  assert.equal((await denied.json()).error.code, 'rate_limited');
});

test('rateLimit takes a LeasedLimiter as its limiter', async (t) => {
  const limiter = leased(Quota.perMinute(1, { burst: 1 }));
  const app = express();
  app.use(rateLimit({ limiter, keyGenerator: (req) => req.get('x-api-key') }));
  app.get('/', (req, res) => res.send('served'));
  const base = await serve(t, app);
  const ask = (key) => fetch(base, { headers: { 'x-api-key': key } }).then((res) => res.status);
  assert.deepEqual([await ask('a'), await ask('a'), await ask('b')], [200, 429, 200]);
  assert.ok(limiter.counters.leases.leases >= 2);
});

test('the Fastify plugin leases by default', async (t) => {
  const server = fastify({ logger: false });
  await server.register(fastifyRateLimit, { windowMs: 60_000, limit: 1, store: redis.url, prefix: freshPrefix(), deadlineMs: DEADLINE_MS });
  server.get('/', async () => 'ok');
  await server.ready();
  t.after(() => server.close());
  assert.equal((await server.inject({ url: '/' })).statusCode, 200);
  const denied = await server.inject({ url: '/' });
  assert.equal(denied.statusCode, 429);
  assert.equal(denied.headers['x-ratelimit-limit'], '1');
});

test('Node cluster, 2 Express workers, rateLimit({ store, storeMode: "lease" }): one limit', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster('-', '2', redis.url, freshPrefix(), 'lease');
  t.after(() => stopCluster(cluster));
  const { admitted, denied, workers } = await hammer(cluster.port);
  assert.equal(workers.size, 2, 'both workers answered');
  assert.ok(denied > 0);
  // One bucket: burst 60 + 30/s x the hammer's 2 s = 120 at most, from the
  // moment the bucket was full (each worker its own: about 240). Leases
  // admit only tokens Redis was charged for; a Redis that does not answer in
  // time denies (onFailure 'closed'), so a failure cannot pass this test.
  assert.ok(admitted >= 60 && admitted <= 121, `admitted ${admitted}`);
});
