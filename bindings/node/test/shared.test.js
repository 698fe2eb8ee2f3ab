'use strict';
// Shared mode: limiters, windows, caps, suspensions and plans whose state
// lives in a segment every process and worker thread of the host maps. Each test's segments are named after
// this process (unique per run) and removed at the end. Two objects built
// on one segment in one process stand for two worker processes; the cluster
// itself is in cluster.test.js.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const fastify = require('fastify');
const {
  FloodgateError,
  FloodgateRangeError,
  InFlight,
  KeyedInFlight,
  KeyedLimiter,
  KeyedWindows,
  Limiter,
  Plans,
  Policy,
  Quota,
  STATUS,
  SlidingWindow,
  Suspensions,
  fastifyRateLimit,
  machineNowNs,
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

test('machineNowNs reads the timeline shared objects check on, in every process alike', (t) => {
  const name = segment(t, 'machine-now', (n) => Limiter.removeShared(n));
  const one = new Limiter(Quota.perSecond(5), { shared: name });
  const two = new Limiter(Quota.perSecond(5), { shared: name });
  const before = machineNowNs();
  assert.equal(typeof before, 'bigint');
  assert.ok(one.check(5, before).admitted);
  assert.ok(!two.check(1, before).admitted);
  // One token per 200 ms: admitted again 200 ms later on the same timeline.
  assert.ok(two.check(1, before + 200_000_000n).admitted);
  assert.ok(machineNowNs() >= before);
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

const HOUR_NS = 3_600_000_000_000;

/** The FloodgateError a build on a segment holding other settings throws, naming `field`. */
const mismatch = (field) => ({ code: 'ERR_FLOODGATE_SEGMENT_MISMATCH', message: new RegExp(`the shared segment's ${field} is`) });

test('two SlidingWindows on one segment count in one window and share reconfigure(); other settings are refused', (t) => {
  const name = segment(t, 'window', (n) => SlidingWindow.removeShared(n));
  const one = new SlidingWindow(10, HOUR_NS, { shared: name });
  const two = new SlidingWindow(10, HOUR_NS, { shared: { name } });
  assert.equal(one.isShared && two.isShared, true);
  assert.equal(new SlidingWindow(10, HOUR_NS).isShared, false);
  assert.equal(one.check(10).admitted, true);
  assert.equal(two.check(1).admitted, false);
  two.reconfigure(15);
  assert.equal(one.limit, 15);
  assert.equal(one.peek().remaining, 5);
  assert.throws(() => new SlidingWindow(20, HOUR_NS, { shared: name }), mismatch('window limit'));
  assert.throws(() => new SlidingWindow(10, HOUR_NS / 2, { shared: name }), mismatch('window \\(ns\\)'));
  assert.throws(() => new InFlight(10, { shared: name }), mismatch('kind'));
  assert.throws(() => SlidingWindow.perMinute(10, { shared: 5 }), TypeError);
  assert.ok(exists(name));
  SlidingWindow.removeShared(name);
  assert.ok(!exists(name));
});

test('KeyedWindows share byte keys in their segment and number keys in <name>.u64, with setLimit() and reset()', (t) => {
  const name = segment(t, 'keyed-windows', (n) => KeyedWindows.removeShared(n));
  const build = (opts = {}) => new KeyedWindows(10, HOUR_NS, { capacity: 64, shared: name, ...opts });
  const [one, two] = [build(), build()];
  assert.equal(one.isShared && two.isShared, true);
  assert.equal(one.check('ws_1', 10).admitted, true);
  assert.equal(two.check('ws_1').admitted, false);
  assert.equal(two.check(Buffer.from('ws_2')).admitted, true);
  assert.equal(one.check(7, 10).admitted, true);
  assert.equal(two.check(7n).admitted, false);
  two.setLimit('ws_1', 30);
  assert.equal(one.peek('ws_1').remaining, 20);
  one.reset(7);
  assert.equal(two.peek(7).remaining, 10);
  assert.throws(() => build({ capacity: 65 }), mismatch('capacity'));
  assert.throws(() => build({ onFull: 'admit' }), mismatch('options'));
  assert.ok(exists(name) && exists(`${name}.u64`));
  KeyedWindows.removeShared(name);
  assert.ok(!exists(name) && !exists(`${name}.u64`));
});

test('Suspensions on one segment: a key suspended or lifted by one is so in the other, number keys too', (t) => {
  const name = segment(t, 'suspensions', (n) => Suspensions.removeShared(n));
  const [one, two] = [new Suspensions({ capacity: 50, shared: name }), new Suspensions({ capacity: 50, shared: name })];
  assert.equal(one.isShared && two.isShared, true);
  assert.equal(new Suspensions({ capacity: 50 }).isShared, false);
  one.suspendUntil('cust_42', null);
  assert.equal(two.check('cust_42').outcome, 'suspended');
  two.lift('cust_42');
  assert.equal(one.check('cust_42'), null);
  two.suspendFor(42, HOUR_NS);
  assert.ok(one.check(42n).retryAfterNs > 0);
  assert.throws(() => new Suspensions({ capacity: 51, shared: name }), mismatch('capacity'));
  assert.throws(() => new KeyedWindows(10, HOUR_NS, { capacity: 50, shared: name }), mismatch('kind'));
  Suspensions.removeShared(name);
  assert.ok(!exists(name) && !exists(`${name}.u64`));
});

test('Plans on one segment share each key, each workspace and reconfigureTier(); Plans.genieos too', (t) => {
  const name = segment(t, 'plans', (n) => Plans.removeShared(n));
  const genieos = segment(t, 'plans-genieos', (n) => Plans.removeShared(n));
  const tiers = [
    { name: 'free' },
    { name: 'hobby', keyQuota: Quota.perHour(100, { burst: 100 }), workspaceLimit: 600 },
  ];
  const build = (opts = {}) => new Plans(tiers, { keyCapacity: 100, workspaceCapacity: 10, shared: name, ...opts });
  const [one, two] = [build(), build()];
  assert.equal(one.isShared && two.isShared, true);
  assert.equal(one.check('hobby', 'k', 'w', 100).admitted, true);
  assert.equal(two.check('hobby', 'k', 'w').admitted, false);
  two.reconfigureTier('hobby', { keyQuota: Quota.perHour(100, { burst: 100 }), workspaceLimit: 150 });
  const changed = one.check('hobby', 'k2', 'w');
  assert.deepEqual([changed.scope, changed.limit, changed.remaining], ['workspace', 150, 49]);
  assert.throws(() => build({ workspaceCapacity: 11 }), mismatch('capacity'));
  assert.throws(() => build({ keyCapacity: 101 }), mismatch('options'));
  assert.throws(() => Plans.genieos({ keyCapacity: 100, workspaceCapacity: 10, shared: name }), FloodgateError);

  const [first, second] = [Plans.genieos({ keyCapacity: 100, shared: genieos }), Plans.genieos({ keyCapacity: 100, shared: genieos })];
  assert.equal(first.isShared && !Plans.genieos({ keyCapacity: 100 }).isShared, true);
  assert.equal(first.check('hobby', 'k', 'w', 60).admitted, true);
  assert.equal(second.check('hobby', 'k', 'w').admitted, false);
});

test('two InFlight caps on one segment share one limit, and a permit goes back through either', (t) => {
  const name = segment(t, 'inflight', (n) => InFlight.removeShared(n));
  const [one, two] = [new InFlight(2, { shared: name }), new InFlight(2, { shared: name })];
  assert.equal(one.isShared && two.isShared && !new InFlight(2).isShared, true);
  const first = one.acquire();
  assert.equal(two.acquire().inFlight, 2);
  assert.equal(one.acquire(), null);
  assert.equal(two.release(first), 1);
  assert.throws(() => one.release(first), { code: 'ERR_FLOODGATE_PERMIT_ALREADY_RELEASED' });
  assert.equal(two.inFlight, 1);
  assert.throws(() => new InFlight(3, { shared: name }), mismatch('capacity'));
  assert.throws(() => new InFlight(2, { shared: ['x'] }), TypeError);
});

test('KeyedInFlight caps on one segment share each key\'s limit, number keys in <name>.u64', (t) => {
  const name = segment(t, 'keyed-inflight', (n) => KeyedInFlight.removeShared(n));
  const build = (limit = 1, capacity = 8) => new KeyedInFlight(limit, { capacity, shared: name });
  const [one, two] = [build(), build()];
  assert.equal(one.isShared && two.isShared, true);
  const alice = one.acquire('alice');
  assert.equal(two.acquire('alice'), null);
  assert.notEqual(two.acquire('bob'), null);
  assert.equal(two.release('alice', alice), 0);
  assert.notEqual(one.acquire(7), null);
  assert.equal(two.acquire(7n), null);
  assert.equal(two.inFlight(7), 1);
  assert.throws(() => build(2), { code: 'ERR_FLOODGATE_SEGMENT_MISMATCH', message: /options is 1, this build asked for 2/ });
  assert.throws(() => build(1, 9), mismatch('capacity'));
  assert.ok(exists(name) && exists(`${name}.u64`));
  KeyedInFlight.removeShared(name);
  assert.ok(!exists(name) && !exists(`${name}.u64`));
});

test('every kind refuses a bad shared option before it builds anything', () => {
  const builds = [
    (shared) => new SlidingWindow(10, HOUR_NS, { shared }),
    (shared) => new KeyedWindows(10, HOUR_NS, { capacity: 8, shared }),
    (shared) => new Suspensions({ capacity: 8, shared }),
    (shared) => new InFlight(2, { shared }),
    (shared) => new KeyedInFlight(2, { capacity: 8, shared }),
    (shared) => new Plans([{ name: 'free' }], { shared }),
    (shared) => Plans.genieos({ shared }),
  ];
  for (const build of builds) {
    for (const shared of [5, null, {}, { name: 'a', path: '/tmp/a' }]) assert.throws(() => build(shared), TypeError, `${build} ${JSON.stringify(shared)}`);
    assert.throws(() => build('../etc'), { code: 'ERR_FLOODGATE_INVALID_SEGMENT_NAME' }, String(build));
  }
});

/** Runs `source` in a new node process with `args`; resolves its stdout as JSON. */
function inProcess(source, args) {
  const child = spawn(process.execPath, ['-e', source, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`child exited ${code}: ${stderr}`))));
  });
}

test('child processes checking one shared window and one shared keyed window admit its limit in all', async (t) => {
  const name = segment(t, 'window-processes', (n) => {
    SlidingWindow.removeShared(`${n}.all`);
    KeyedWindows.removeShared(n);
  });
  const LIMIT = 50;
  const ATTEMPTS = 100;
  const PROCESSES = 3;
  const source = `
    const [pkg, name, limit, attempts] = process.argv.slice(1);
    const { KeyedWindows, SlidingWindow } = require(pkg);
    const hour = 3_600_000_000_000;
    const window = new SlidingWindow(Number(limit), hour, { shared: name + '.all' });
    const keyed = new KeyedWindows(Number(limit), hour, { capacity: 64, shared: name });
    const admitted = { window: 0, string: 0, number: 0 };
    for (let i = 0; i < Number(attempts); i += 1) {
      admitted.window += window.check().admitted;
      admitted.string += keyed.check('ws_1').admitted;
      admitted.number += keyed.check(7).admitted;
    }
    process.stdout.write(JSON.stringify(admitted));`;
  const pkg = path.join(__dirname, '..');
  const started = process.hrtime.bigint();
  const tallies = await Promise.all(
    Array.from({ length: PROCESSES }, () => inProcess(source, [pkg, name, String(LIMIT), String(ATTEMPTS)])),
  );
  const elapsedNs = Number(process.hrtime.bigint() - started);
  // Within one window the processes admit exactly the limit; a window that
  // ended during the run lets its count slide out in proportion to the time
  // since (at most elapsed / window), plus one for the estimate's rounding.
  const upper = LIMIT + Math.ceil((LIMIT * elapsedNs) / HOUR_NS) + 1;
  for (const what of ['window', 'string', 'number']) {
    const total = tallies.reduce((sum, tally) => sum + tally[what], 0);
    const report = `${what}: ${PROCESSES} processes admitted ${total} of ${PROCESSES * ATTEMPTS} (limit ${LIMIT}, at most ${upper})`;
    t.diagnostic(report);
    assert.ok(total >= LIMIT && total <= upper, report);
  }
});
