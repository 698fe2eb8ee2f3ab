'use strict';
// Limits kept in Redis (RedisLimiter, KeyedLimiter({ store }), rateLimit({
// store })) against a real redis-server started on a free 127.0.0.1 port and
// stopped by its PID: decisions equal the local KeyedLimiter's, checks are
// Promises that leave the event loop free, Express answers 429 with the
// standard headers through Redis, and two cluster workers share one limit.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const express = require('express');
const fastify = require('fastify');
const { KeyedLimiter, KeyedWindows, Quota, RedisInFlight, RedisLimiter, RedisWindows, fastifyRateLimit, rateLimit } = require('..');
const { freePort, startRedis } = require('./redis-server.js');
const { hammer, startCluster, stopCluster } = require('./cluster-client.js');

/** Generous: a loaded 2-core machine must not turn a slow answer into a failure. */
const DEADLINE_MS = 2_000;
let serial = 0;
/** A prefix no other test or run used. */
const freshPrefix = () => `node:${process.pid}:${Date.now()}:${(serial += 1)}:`;

let redis;
test.before(async () => {
  redis = await startRedis();
});
test.after(() => redis?.stop());

const kept = (quota, opts = {}) =>
  new RedisLimiter(quota, { store: redis.url, prefix: freshPrefix(), deadlineMs: DEADLINE_MS, onFailure: 'closed', ...opts });

const fields = (d) => [d.admitted, d.outcome, d.limit, d.remaining];

test('a burst through Redis gets the local limiter\'s decisions', async () => {
  const quota = Quota.perMinute(5, { burst: 5 });
  const local = new KeyedLimiter(quota);
  const remote = kept(quota);
  for (let i = 0; i < 8; i += 1) {
    for (const key of ['a', Buffer.from('b')]) {
      const expected = local.check(key, 1, 0);
      const got = await remote.check(key);
      assert.deepEqual(fields(got), fields(expected), `check ${i} of ${key}`);
    }
  }
  const denied = await remote.check('a');
  assert.equal(denied.outcome, 'denied');
  assert.ok(denied.retryAfterNs > 0);
  assert.equal((await remote.check('a', 6)).outcome, 'cannot_fit');
  assert.equal((await remote.peek('a')).remaining, 0);
  assert.equal((await remote.refund('a', 2)).remaining, 2);
  const counters = remote.counters;
  assert.equal(counters.failedOpen + counters.failedClosed, 0);
  assert.ok(counters.exact > 0);
  remote.close();
  assert.throws(() => remote.check('a'), /closed/);
});

test('KeyedLimiter({ store }) is a RedisLimiter; two on one prefix share the buckets', async () => {
  const prefix = freshPrefix();
  const quota = Quota.perMinute(2, { burst: 2 });
  const first = new KeyedLimiter(quota, { store: redis.url, prefix, deadlineMs: DEADLINE_MS });
  const second = new KeyedLimiter(quota, { store: redis.url, prefix, deadlineMs: DEADLINE_MS });
  assert.ok(first instanceof RedisLimiter);
  assert.equal((await first.check('k', 2)).remaining, 0);
  assert.equal((await second.check('k')).admitted, false);
});

test('checks in flight together each get their own answer: exactly the burst is admitted', async () => {
  const limiter = kept(Quota.perMinute(10, { burst: 10 }));
  const decisions = await Promise.all(Array.from({ length: 60 }, (_, i) => limiter.check(i % 2 === 0 ? 'k' : Buffer.from('k'))));
  assert.equal(decisions.filter((d) => d.admitted).length, 10);
  const remaining = decisions.filter((d) => d.admitted).map((d) => d.remaining).sort((a, b) => a - b);
  assert.deepEqual(remaining, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // close() while calls run frees the handle once they have answered.
  const pending = [limiter.check('other'), limiter.check('other')];
  limiter.close();
  assert.deepEqual((await Promise.all(pending)).map((d) => d.admitted), [true, true]);
  assert.equal(limiter.closed, true);
});

test('200 checks in flight at once (far more than libuv\'s pool) admit exactly the burst', async () => {
  const limiter = kept(Quota.perMinute(50, { burst: 50 }));
  const decisions = await Promise.all(Array.from({ length: 200 }, () => limiter.check('k')));
  assert.equal(decisions.filter((d) => d.admitted).length, 50);
  // Each decided by Redis, or by a denial Redis gave that the deny cache
  // remembers (which of the two depends on when each call was sent).
  const { exact, cached, failedOpen, failedClosed } = limiter.counters;
  assert.equal(exact + cached, 200);
  assert.equal(failedOpen + failedClosed, 0);
  limiter.close();
});

test('worker threads check through Redis beside the main thread, each answered on its own loop', async () => {
  const { Worker } = require('node:worker_threads');
  const prefix = freshPrefix();
  const script = `const { parentPort, workerData } = require('node:worker_threads');
    const { Quota, RedisLimiter } = require(workerData.entry);
    const limiter = new RedisLimiter(Quota.perMinute(30), { store: workerData.url, prefix: workerData.prefix, deadlineMs: workerData.deadlineMs, onFailure: 'closed' });
    Promise.all(Array.from({ length: 10 }, () => limiter.check('k'))).then((ds) => parentPort.postMessage(ds.filter((d) => d.admitted).length));`;
  const workerData = { entry: require.resolve('..'), url: redis.url, prefix, deadlineMs: DEADLINE_MS };
  const run = () => new Promise((resolve, reject) => {
    const worker = new Worker(script, { eval: true, workerData });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const here = kept(Quota.perMinute(30), { prefix });
  const [first, second, mine] = await Promise.all([run(), run(), Promise.all(Array.from({ length: 10 }, () => here.check('k')))]);
  assert.equal(first + second + mine.filter((d) => d.admitted).length, 30);
});

test('a check in flight keeps the process alive until it is answered', () => {
  const script = `const { Quota, RedisLimiter } = require(${JSON.stringify(require.resolve('..'))});
    new RedisLimiter(Quota.perMinute(5), { store: ${JSON.stringify(redis.url)}, prefix: ${JSON.stringify(freshPrefix())}, deadlineMs: ${DEADLINE_MS}, onFailure: 'closed' })
      .check('k').then((d) => console.log(d.admitted ? 'admitted' : 'denied'));`;
  const output = require('node:child_process').execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(output.trim(), 'admitted');
});

test('a check is a Promise: the event loop runs while Redis is waited for', async (t) => {
  // A listener that accepts and never answers: the check waits its whole deadline.
  const accepted = new Set();
  const silent = net.createServer((socket) => accepted.add(socket));
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  // Its connections too (the store's wire stays connected, waiting for checks).
  t.after(() => {
    for (const socket of accepted) socket.destroy();
    silent.close();
  });
  const limiter = new RedisLimiter(Quota.perSecond(30), {
    store: `redis://127.0.0.1:${silent.address().port}/`,
    deadlineMs: 300,
    onFailure: 'closed',
  });
  let ticks = 0;
  const timer = setInterval(() => {
    ticks += 1;
  }, 1);
  const pending = limiter.check('k');
  assert.ok(pending instanceof Promise);
  const decision = await pending;
  clearInterval(timer);
  assert.equal(decision.admitted, false);
  assert.ok(ticks > 0, 'timers fired during the check');
  const counters = limiter.counters;
  assert.equal(counters.failedClosed, 1);
  assert.equal(counters.timeouts + counters.errors, 1);
});

test('a server that is away gets the failure policy', async () => {
  const url = `redis://127.0.0.1:${await freePort()}/`;
  const open = new RedisLimiter(Quota.perSecond(1), { store: url, deadlineMs: 1_000, onFailure: 'open' });
  const closed = new RedisLimiter(Quota.perSecond(1), { store: url, deadlineMs: 1_000, onFailure: 'closed' });
  assert.equal((await open.check('k')).admitted, true);
  assert.equal((await closed.check('k')).admitted, false);
  assert.equal(open.counters.failedOpen, 1);
});

test('failing local admits this process\'s share and counts it', async () => {
  // Nothing listens on port 1, so the fleet is never counted: this process
  // alone (N = 1), whose share is the whole limit.
  const local = new RedisLimiter(Quota.perMinute(3), { store: 'redis://127.0.0.1:1/', deadlineMs: 1_000, onFailure: 'local' });
  const admitted = [];
  for (let i = 0; i < 4; i += 1) admitted.push((await local.check('k')).admitted);
  assert.deepEqual(admitted, [true, true, true, false]);
  const counters = local.counters;
  assert.deepEqual([counters.localAdmitted, counters.localDenied], [3, 1]);
  assert.deepEqual([counters.failedOpen, counters.failedClosed, counters.exact], [0, 0, 0]);
  local.close();
});

test('a store given as an array of node URLs is a Redis Cluster; bad forms throw', async () => {
  // Nothing connects before a check, and nothing listens on ports 1 and 2:
  // the cluster answers by the failure policy.
  const nodes = ['redis://127.0.0.1:1/', 'redis://127.0.0.1:2/'];
  const onCluster = new RedisLimiter(Quota.perSecond(1), { store: nodes, deadlineMs: 500, onFailure: 'closed' });
  assert.equal((await onCluster.check('k')).admitted, false);
  assert.equal(onCluster.counters.failedClosed, 1);
  onCluster.close();
  const quota = Quota.perSecond(30);
  assert.throws(() => new RedisLimiter(quota, { store: [] }), RangeError);
  assert.throws(() => new RedisLimiter(quota, { store: ['redis://127.0.0.1:1/', 7000] }), TypeError);
  assert.throws(() => new RedisLimiter(quota, { store: ['redis://127.0.0.1:1/', 'http://x'] }), RangeError);
  assert.throws(() => new RedisLimiter(quota, { store: ['redis://127.0.0.1:1/\0'] }), RangeError);
  assert.throws(() => new RedisLimiter(quota, { store: new Set(nodes) }), TypeError);
  assert.ok(rateLimit({ windowMs: 60_000, limit: 10, store: nodes, onFailure: 'local' }));
});

/** A day's window: a test never straddles two, whose weighted counts would make decisions depend on the hour. */
const DAY_NS = 86_400_000_000_000;

test('windows kept in Redis decide as local windows; KeyedWindows({ store }) is one', async () => {
  const local = new KeyedWindows(3, DAY_NS);
  const windows = new KeyedWindows(3, DAY_NS, { store: redis.url, prefix: freshPrefix(), deadlineMs: DEADLINE_MS, onFailure: 'closed' });
  assert.ok(windows instanceof RedisWindows);
  assert.deepEqual([windows.limit, windows.windowNs], [3, DAY_NS]);
  // A fresh key: nothing of a previous window weighs, so both decide alike whenever they run.
  for (const cost of [1, 1, 1, 1, 4]) {
    const expected = local.check('k', cost);
    assert.deepEqual(fields(await windows.check('k', cost)), fields(expected), `cost ${cost}`);
  }
  assert.equal((await windows.refund('k', 2)).remaining, 2);
  assert.equal((await windows.peek('k')).remaining, 2);
  assert.throws(() => windows.check(42), TypeError);
  assert.throws(() => windows.check(''), RangeError);
  const counters = windows.counters;
  assert.deepEqual([counters.exact, counters.failedClosed, counters.errors], [7, 0, 0]);
  windows.close();
  assert.throws(() => windows.check('k'), /closed/);
});

test('windows kept in Redis fail local and refuse bad input', async () => {
  const local = new RedisWindows(2, DAY_NS, { store: 'redis://127.0.0.1:1/', deadlineMs: 1_000, onFailure: 'local' });
  const admitted = [];
  for (let i = 0; i < 3; i += 1) admitted.push((await local.check('k')).admitted);
  assert.deepEqual(admitted, [true, true, false]);
  assert.deepEqual([local.counters.localAdmitted, local.counters.localDenied], [2, 1]);
  local.close();
  assert.throws(() => new RedisWindows(0, DAY_NS, { store: redis.url }), RangeError);
  assert.throws(() => new RedisWindows(3, 999, { store: redis.url }), RangeError);
  assert.throws(() => new RedisWindows(3, -1, { store: redis.url }), RangeError);
  assert.throws(() => new RedisWindows(3, DAY_NS, { store: redis.url, onFailure: 'maybe' }), RangeError);
  assert.throws(() => new RedisWindows(3, DAY_NS, { store: redis.url, capacity: 10 }), TypeError);
  assert.throws(() => new RedisWindows(3, DAY_NS, { store: 6379 }), TypeError);
});

test('an in-flight cap kept in Redis leases permits; a permit is released once', async () => {
  const prefix = freshPrefix();
  const caps = new RedisInFlight(2, { store: redis.url, prefix, deadlineMs: DEADLINE_MS, onFailure: 'closed' });
  const other = new RedisInFlight(2, { store: redis.url, prefix, deadlineMs: DEADLINE_MS });
  const first = await caps.acquire('k');
  const second = await other.acquire(Buffer.from('k')); // one cap per key, whoever asks
  assert.deepEqual([first.inFlight, second.inFlight, first.limit], [1, 2, 2]);
  assert.ok(first.leaseEndUs > 0);
  assert.equal(await caps.acquire('k'), null);
  assert.equal(await first.renew(), true);
  assert.equal(await first.release(), 1);
  assert.equal(first.released, true);
  assert.throws(() => first.release(), { code: 'ERR_FLOODGATE_PERMIT_ALREADY_RELEASED' });
  await second[Symbol.asyncDispose]();
  const again = await caps.acquire('k');
  assert.equal(again.inFlight, 1);
  await again.release();
  const counters = caps.counters;
  assert.deepEqual([counters.exact, counters.failedClosed], [6, 0]);
  assert.equal(caps.limit, 2);
  caps.close();
  other.close();
});

test('an in-flight cap kept in Redis fails local and refuses bad input', async () => {
  const caps = new RedisInFlight(1, { store: 'redis://127.0.0.1:1/', deadlineMs: 1_000, onFailure: 'local' });
  const permit = await caps.acquire('k');
  assert.deepEqual([permit.inFlight, permit.leaseEndUs], [1, 0]);
  assert.equal(await caps.acquire('k'), null);
  assert.equal(await permit.release(), null);
  const again = await caps.acquire('k');
  assert.ok(again !== null);
  await again.release();
  assert.deepEqual([caps.counters.localAdmitted, caps.counters.localDenied], [2, 1]);
  assert.throws(() => caps.acquire(7), TypeError);
  assert.throws(() => caps.acquire(''), RangeError);
  caps.close();
  assert.throws(() => new RedisInFlight(0, { store: redis.url }), RangeError);
  assert.throws(() => new RedisInFlight(2, { store: redis.url, leaseMs: 0 }), RangeError);
  assert.throws(() => new RedisInFlight(2, { store: redis.url, onFailure: 'maybe' }), RangeError);
  assert.throws(() => new RedisInFlight(2, { store: redis.url, capacity: 4 }), TypeError);
  assert.throws(() => new RedisInFlight(2, { store: 6379 }), TypeError);
});

test('bad input throws TypeError or RangeError before anything is sent', () => {
  const quota = Quota.perSecond(30);
  assert.throws(() => new RedisLimiter(quota, { store: 6379 }), TypeError);
  assert.throws(() => new RedisLimiter(quota, { store: 'http://127.0.0.1/' }), RangeError);
  assert.throws(() => new RedisLimiter(quota, { store: redis.url, onFailure: 'maybe' }), RangeError);
  assert.throws(() => new RedisLimiter(quota, { store: redis.url, onFailure: true }), TypeError);
  assert.throws(() => new RedisLimiter(quota, { store: redis.url, prefix: 7 }), TypeError);
  assert.throws(() => new RedisLimiter(quota, { store: redis.url, deadlineMs: 0 }), RangeError);
  assert.throws(() => new RedisLimiter(quota, { store: redis.url, capacity: 10 }), TypeError);
  assert.throws(() => new RedisLimiter('30/s', { store: redis.url }), TypeError);
  const limiter = kept(quota);
  assert.throws(() => limiter.check(42), TypeError);
  assert.throws(() => limiter.check(''), RangeError);
  assert.throws(() => limiter.check('k', -1), RangeError);
  assert.throws(() => limiter.check('x'.repeat(5000)), RangeError);
  assert.equal(limiter.counters.exact, 0);
  assert.throws(() => rateLimit({ prefix: 'x:' }), TypeError);
  assert.throws(() => rateLimit({ store: redis.url, shared: 'seg' }), TypeError);
  assert.throws(() => rateLimit({ limiter, store: redis.url }), TypeError);
});

/** Serves `app` on a free port for the test; resolves its base URL. */
async function serve(t, app) {
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${server.address().port}`;
}

test('Express answers 429 with the standard headers through Redis', async (t) => {
  const app = express();
  app.use(rateLimit({ windowMs: 60_000, limit: 2, store: redis.url, storeMode: 'exact', prefix: freshPrefix(), deadlineMs: DEADLINE_MS, onFailure: 'closed' }));
  app.get('/', (req, res) => res.send('served'));
  const base = await serve(t, app);
  const first = await fetch(base);
  const second = await fetch(base);
  const denied = await fetch(base);
  assert.equal(first.status, 200);
  assert.equal(await first.text(), 'served');
  assert.equal(second.status, 200);
  assert.equal(denied.status, 429);
  assert.match(first.headers.get('ratelimit-policy'), /^"2-in-60sec";q=2;w=60$/);
  assert.match(first.headers.get('ratelimit'), /^"2-in-60sec";r=1;t=\d+$/);
  assert.match(denied.headers.get('ratelimit'), /^"2-in-60sec";r=0;t=\d+$/);
  assert.match(denied.headers.get('retry-after'), /^[1-9]\d*$/);
  assert.equal(denied.headers.get('x-ratelimit-remaining'), '0');
  assert.equal((await denied.json()).error.code, 'rate_limited');
});

test('rateLimit takes a RedisLimiter as its limiter', async (t) => {
  const limiter = kept(Quota.perMinute(1, { burst: 1 }));
  const app = express();
  app.use(rateLimit({ limiter, keyGenerator: (req) => req.get('x-api-key') }));
  app.get('/', (req, res) => res.send('served'));
  const base = await serve(t, app);
  const ask = (key) => fetch(base, { headers: { 'x-api-key': key } }).then((res) => res.status);
  assert.deepEqual([await ask('a'), await ask('a'), await ask('b')], [200, 429, 200]);
  assert.equal((await limiter.peek('a')).remaining, 0);
});

test('the Fastify plugin limits through Redis, a round trip per check (storeMode: exact)', async (t) => {
  const server = fastify({ logger: false });
  await server.register(fastifyRateLimit, { windowMs: 60_000, limit: 1, store: redis.url, storeMode: 'exact', prefix: freshPrefix(), deadlineMs: DEADLINE_MS });
  server.get('/', async () => 'ok');
  await server.ready();
  t.after(() => server.close());
  assert.equal((await server.inject({ url: '/' })).statusCode, 200);
  const denied = await server.inject({ url: '/' });
  assert.equal(denied.statusCode, 429);
  assert.equal(denied.headers['x-ratelimit-limit'], '1');
});

test('Node cluster, 2 Express workers, rateLimit({ store, storeMode: "exact" }): one limit through Redis', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster('-', '2', redis.url, freshPrefix(), 'exact');
  t.after(() => stopCluster(cluster));
  const { admitted, denied, workers } = await hammer(cluster.port);
  assert.equal(workers.size, 2, 'both workers answered');
  assert.ok(denied > 0);
  // One bucket: burst 60 + 30/s x 2 s = 120 at most (each worker its own:
  // about 240). A Redis that does not answer in time denies (onFailure
  // 'closed'), so a failure cannot pass this test.
  assert.ok(admitted >= 60 && admitted <= 121, `admitted ${admitted}`);
});
