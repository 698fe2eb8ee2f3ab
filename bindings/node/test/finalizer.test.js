'use strict';
// Handles dropped without close() are freed by the FinalizationRegistry, and
// closed ones are never freed twice. Runs in a child with --expose-gc.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const CHILD = `
const { Limiter, Quota, liveHandles } = require(${JSON.stringify(path.join(__dirname, '..'))});
const quota = Quota.perSecond(10);
const before = liveHandles();
const kept = Array.from({ length: 5 }, () => new Limiter(quota));
(function drop() { for (let i = 0; i < 1000; i += 1) new Limiter(quota).check(); })();
for (let i = 0; i < 200; i += 1) { const closed = new Limiter(quota); closed.close(); closed.close(); }
const afterCreate = liveHandles();
(async () => {
  for (let round = 0; round < 50 && liveHandles() > before + kept.length; round += 1) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const afterGc = liveHandles();
  kept.forEach((limiter) => limiter.close());
  console.log(JSON.stringify({ before, afterCreate, afterGc, end: liveHandles(), check: kept[0].closed }));
})();
`;

test('dropped limiters are finalized; closed ones are not freed again', () => {
  const output = execFileSync(process.execPath, ['--expose-gc', '-e', CHILD], { encoding: 'utf8', timeout: 60_000 });
  const result = JSON.parse(output);
  assert.equal(result.before, 0);
  assert.equal(result.afterCreate, 1005, '5 kept + 1000 dropped; the 200 closed ones freed at once');
  assert.equal(result.afterGc, 5, 'the finalizer freed every dropped limiter');
  assert.equal(result.end, 0, 'the count never went negative: no double free');
  assert.equal(result.check, true);
});

test('quota validation leaves no handle behind', () => {
  const { Quota, liveHandles } = require('..');
  const before = liveHandles();
  for (let i = 0; i < 100; i += 1) Quota.perSecond(i + 1);
  assert.throws(() => Quota.perSecond(0), RangeError);
  assert.equal(liveHandles(), before);
});

const MULTI_HANDLE_CHILD = `
const { ErrorBody, HeaderRenderer, InFlight, KeyedInFlight, KeyedLimiter, KeyedWindows, Plans, Policy, Quota, SlidingWindow, Suspensions, liveHandles } = require(${JSON.stringify(path.join(__dirname, '..'))});
const quota = Quota.perSecond(10);
(function drop() {
  for (let i = 0; i < 50; i += 1) {
    const keyed = new KeyedLimiter(quota, { capacity: 64 });
    keyed.check(1); // builds its number-key table: two handles
    const policy = new Policy([{ limit: keyed, scope: 'key' }, { limit: SlidingWindow.perMinute(5), scope: 'workspace' }]);
    policy.check(['k', null]);
    policy.check([7, null]); // a second native policy for number keys
    new InFlight(2).acquire();
    new HeaderRenderer();
    ErrorBody.genieosKey();
    const blocked = new Suspensions({ capacity: 4 });
    blocked.suspendUntil(3, null); // number-key set: two handles
    const windows = new KeyedWindows(5, 1e9, { capacity: 4 });
    windows.check('w');
    new Policy([{ limit: blocked, scope: 'key' }, { limit: windows, scope: 'workspace' }]).check(['k', 'w']);
    new KeyedInFlight(2, { capacity: 4 }).acquire(1); // two handles
    Plans.genieos({ keyCapacity: 4, workspaceCapacity: 4 }).check('hobby', 'k', 'w');
  }
})();
const afterCreate = liveHandles();
(async () => {
  for (let round = 0; round < 50 && liveHandles() > 0; round += 1) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  console.log(JSON.stringify({ afterCreate, afterGc: liveHandles() }));
})();
`;

test('objects owning several handles (keyed tables, per-kind policies) are finalized whole', () => {
  const output = execFileSync(process.execPath, ['--expose-gc', '-e', MULTI_HANDLE_CHILD], { encoding: 'utf8', timeout: 60_000 });
  const result = JSON.parse(output);
  assert.equal(
    result.afterCreate,
    50 * 15,
    'two tables, a window, two policies, a cap, two renderers; two suspension sets, a keyed window, a policy, two keyed caps, plans',
  );
  assert.equal(result.afterGc, 0);
});
