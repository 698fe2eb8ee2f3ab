'use strict';
// Limiters are handles into this thread's process memory: sending one to a
// worker must fail loudly, not arrive as an empty object.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('node:worker_threads');
const { InFlight, KeyedLimiter, KeyedWindows, Limiter, Plans, Policy, Quota, SlidingWindow, Suspensions } = require('..');

test('a limiter in workerData or postMessage throws DataCloneError naming the rule', async (t) => {
  const keyed = new KeyedLimiter(Quota.perSecond(1), { capacity: 8 });
  const owners = [
    new Limiter(Quota.perSecond(1)),
    keyed,
    new KeyedWindows(5, 60_000_000_000n, { capacity: 8 }),
    SlidingWindow.perMinute(5),
    new Suspensions({ capacity: 8 }),
    new InFlight(4),
    Plans.genieos({ keyCapacity: 8, workspaceCapacity: 8 }),
    new Policy([{ limit: keyed, scope: 'key' }]),
  ];
  for (const owner of owners) {
    const name = owner.constructor.name;
    assert.throws(() => structuredClone(owner), { name: 'DataCloneError', message: /cannot be sent to another thread/ }, name);
    assert.throws(
      () => new Worker('1', { eval: true, workerData: { limiter: owner } }),
      { name: 'DataCloneError', message: /cannot be sent to another thread/ },
      name,
    );
  }
  const worker = new Worker("require('node:worker_threads').parentPort.on('message', () => {})", { eval: true });
  t.after(() => worker.terminate());
  assert.throws(() => worker.postMessage(keyed), { name: 'DataCloneError' });
  for (const owner of owners) owner.close();
});
