'use strict';
// Shared mode: limiters whose state lives in a segment every process and
// worker thread of the host maps. Each test's segments are named after
// this process (unique per run) and removed at the end. Two objects built
// on one segment in one process stand for two worker processes; the cluster
// itself is in cluster.test.js.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const fastify = require('fastify');
const {
  FloodgateError,
  FloodgateRangeError,
  KeyedLimiter,
  Limiter,
  Policy,
  Quota,
  STATUS,
  fastifyRateLimit,
  rateLimit,
} = require('..');

const quota = Quota.perHour(30, { burst: 60 });

/** A segment name unique to this run and test, removed (with `remove`) when the test ends. */
function segment(t, what, remove = (name) => KeyedLimiter.removeShared(name)) {
  const name = `node-test-${what}-${process.pid}`;
  t.after(() => remove(name));
  return name;
}

const exists = (name) => fs.existsSync(`/dev/shm/floodgate.${name}`);

test('two Limiters on one segment charge one bucket; isShared says so', (t) => {
  const name = segment(t, 'limiter', (n) => Limiter.removeShared(n));
  const one = new Limiter(quota, { shared: name });
  const two = new Limiter(quota, { shared: { name, waitMs: 100 } });
  assert.equal(one.isShared, true);
  assert.equal(new Limiter(quota).isShared, false);
  assert.equal(one.check(60).admitted, true);
  assert.equal(two.check(1).admitted, false);
  assert.equal(two.peek().remaining, 0);
  assert.ok(exists(name));
  one.close();
  two.close();
  Limiter.removeShared(name);
  assert.ok(!exists(name));
  Limiter.removeShared(name); // a missing segment is not an error
});

test('a segment holding another quota, capacity or kind throws FloodgateError saying what differs', (t) => {
  const name = segment(t, 'mismatch');
  new KeyedLimiter(quota, { capacity: 64, shared: name }).close();
  assert.throws(() => new KeyedLimiter(quota, { capacity: 128, shared: name }), {
    name: 'FloodgateError',
    code: 'ERR_FLOODGATE_SEGMENT_MISMATCH',
    status: STATUS.SEGMENT_MISMATCH,
    message: /the shared segment's capacity is 64, this build asked for 128/,
  });
  assert.throws(() => new KeyedLimiter(Quota.perHour(31, { burst: 60 }), { capacity: 64, shared: name }), {
    code: 'ERR_FLOODGATE_SEGMENT_MISMATCH',
    message: /quota count is 30, this build asked for 31/,
  });
  assert.throws(() => new Limiter(quota, { shared: name }), (error) => error instanceof FloodgateError && /kind/.test(error.message));
});

test('a bad shared option throws TypeError (its type) or RangeError (its value) and creates nothing', (t) => {
  const name = segment(t, 'bad');
  for (const shared of [5, null, ['x'], {}, { name: 'a', path: '/tmp/a' }, { name: 1 }, { path: null }]) {
    assert.throws(() => new Limiter(quota, { shared }), TypeError, JSON.stringify(shared));
    assert.throws(() => new KeyedLimiter(quota, { shared }), TypeError, JSON.stringify(shared));
  }
  assert.throws(() => new Limiter(quota, { shared: { name, waitMs: -1 } }), RangeError);
  assert.throws(() => new Limiter(quota, { shared: 'a\0b' }), RangeError);
  for (const shared of ['', '../etc', 'a/b', 'x'.repeat(201)]) {
    assert.throws(() => new Limiter(quota, { shared }), (error) => error instanceof FloodgateRangeError && error.code === 'ERR_FLOODGATE_INVALID_SEGMENT_NAME');
  }
  assert.throws(() => new Limiter(quota, { shared: { path: '/nonexistent-floodgate-dir/x' } }), { code: 'ERR_FLOODGATE_SEGMENT_IO' });
  assert.ok(!exists(name));
});

test('a KeyedLimiter shares byte keys in its segment and number keys in <name>.u64; removeShared removes both', (t) => {
  const name = segment(t, 'keyed');
  const one = new KeyedLimiter(quota, { capacity: 1_024, shared: name });
  const two = new KeyedLimiter(quota, { capacity: 1_024, shared: name });
  assert.equal(one.isShared && two.isShared, true);
  assert.equal(one.check('alice', 60).admitted, true);
  assert.equal(two.check('alice').admitted, false);
  assert.equal(two.check(Buffer.from('bob')).admitted, true);
  assert.equal(one.check(7, 60).admitted, true);
  assert.equal(two.check(7n).admitted, false);
  two.setQuota('carol', Quota.perHour(1, { burst: 1 }));
  assert.equal(one.quotaFor('carol').burst, 1n); // per-key quotas too
  assert.ok(exists(name) && exists(`${name}.u64`));
  one.close();
  two.close();
  KeyedLimiter.removeShared(name);
  assert.ok(!exists(name) && !exists(`${name}.u64`));
});

test('a shared KeyedLimiter reconfigured before its first number key opens that table as every process does', (t) => {
  const name = segment(t, 'reconfigured');
  const one = new KeyedLimiter(quota, { capacity: 64, shared: name });
  one.reconfigure(Quota.perHour(30, { burst: 10 }));
  assert.equal(one.check(7, 10).admitted, true); // the number-key table, built now: burst 10 in force
  assert.equal(one.check(7).admitted, false);
  const two = new KeyedLimiter(quota, { capacity: 64, shared: name });
  assert.equal(two.check(7).admitted, false);
});

test('a segment may be any file: { path }', (t) => {
  const file = path.join(os.tmpdir(), `floodgate-node-test-${process.pid}`);
  t.after(() => Limiter.removeShared({ path: file }));
  const one = new Limiter(quota, { shared: { path: file } });
  const two = new Limiter(quota, { shared: { path: file } });
  assert.equal(one.check(60).admitted, true);
  assert.equal(two.check(1).admitted, false);
  assert.ok(fs.existsSync(file));
});

test('a Policy over shared limiters charges the shared tables', (t) => {
  const name = segment(t, 'policy');
  const perKey = new KeyedLimiter(quota, { capacity: 64, shared: name });
  const policy = new Policy([{ limit: perKey, scope: 'key' }]);
  const elsewhere = new KeyedLimiter(quota, { capacity: 64, shared: name });
  assert.equal(policy.check(['alice'], 60).admitted, true);
  assert.equal(elsewhere.check('alice').admitted, false);
  assert.equal(elsewhere.refund('alice', 1).remaining, 1);
  assert.equal(policy.check(['alice']).admitted, true);
  assert.equal(policy.check(['alice']).admitted, false);
});

/** Runs `source` in a worker thread with `workerData` and resolves its one message. */
function inThread(source, workerData) {
  const worker = new Worker(source, { eval: true, workerData });
  return new Promise((resolve, reject) => {
    worker.once('message', (message) => {
      resolve(message);
      worker.terminate();
    });
    worker.once('error', reject);
  });
}

test('worker_threads: two threads opening the same shared limiter share it', async (t) => {
  const name = segment(t, 'threads');
  const source = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { KeyedLimiter, Limiter, Quota } = require(workerData.package);
    const quota = Quota.perHour(30, { burst: 60 });
    const limiter = new Limiter(quota, { shared: workerData.name + '.one' });
    const keyed = new KeyedLimiter(quota, { capacity: 64, shared: workerData.name });
    parentPort.postMessage({
      shared: limiter.isShared && keyed.isShared,
      bucket: limiter.check(workerData.cost).admitted,
      key: keyed.check('alice', workerData.cost).admitted,
    });`;
  t.after(() => Limiter.removeShared(`${name}.one`));
  const pkg = path.join(__dirname, '..');
  const first = await inThread(source, { package: pkg, name, cost: 60 });
  const second = await inThread(source, { package: pkg, name, cost: 1 });
  assert.deepEqual(first, { shared: true, bucket: true, key: true });
  assert.deepEqual(second, { shared: true, bucket: false, key: false });
});

/** A node:http server on 127.0.0.1 behind `guard`, closed when the test ends; resolves its base URL. */
async function serve(t, guard) {
  const server = http.createServer((req, res) => {
    if (guard(req, res)) res.end('served');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${server.address().port}`;
}

test('rateLimit({ shared }): a table per limit in <name>.<limit>; two servers on it charge one table', async (t) => {
  const name = segment(t, 'middleware', (n) => KeyedLimiter.removeShared(`${n}.3`));
  const options = { windowMs: 60_000, limit: 3, keyGenerator: () => 'one-key', shared: name };
  const servers = [await serve(t, rateLimit(options)), await serve(t, rateLimit(options))];
  assert.ok(exists(`${name}.3`));
  const statuses = [];
  for (let i = 0; i < 6; i += 1) statuses.push((await fetch(servers[i % 2])).status);
  assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
  const limiter = new KeyedLimiter(quota, { capacity: 8 });
  assert.throws(() => rateLimit({ limiter, shared: name }), TypeError);
  assert.throws(() => rateLimit({ policy: new Policy([{ limit: limiter, scope: 'key' }]), keys: () => ['k'], shared: name }), TypeError);
  assert.throws(() => rateLimit({ windowMs: 1_000, limit: 1, shared: 7 }), TypeError);
});

test('the Fastify plugin takes shared once: a route with its own limit gets <name>.<route>.<limit>', async (t) => {
  const name = segment(t, 'fastify', (n) => {
    KeyedLimiter.removeShared(`${n}.2`);
    KeyedLimiter.removeShared(`${n}._login.1`);
  });
  const build = async () => {
    const server = fastify({ logger: false });
    await server.register(fastifyRateLimit, { windowMs: 60_000, limit: 2, keyGenerator: () => 'one-key', shared: name });
    server.get('/', async () => 'root');
    server.get('/login', { config: { rateLimit: { limit: 1 } } }, async () => 'login');
    await server.ready();
    t.after(() => server.close());
    return server;
  };
  const [one, two] = [await build(), await build()];
  assert.ok(exists(`${name}.2`) && exists(`${name}._login.1`));
  assert.equal((await one.inject({ url: '/login' })).statusCode, 200);
  assert.equal((await two.inject({ url: '/login' })).statusCode, 429);
  assert.equal((await two.inject({ url: '/' })).statusCode, 200);
  assert.equal((await one.inject({ url: '/' })).statusCode, 200);
  assert.equal((await two.inject({ url: '/' })).statusCode, 429);
});
