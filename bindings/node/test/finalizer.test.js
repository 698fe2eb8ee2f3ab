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
