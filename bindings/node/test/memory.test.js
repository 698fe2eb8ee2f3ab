'use strict';
// Objects dropped without close() must not hold native memory the garbage
// collector cannot see: each handle weighs on V8 as external memory, so
// creating and dropping 1,500 default KeyedLimiters or 500 Plans.genieos()
// (1.7 and 7.8 MB of native tables each) stays under 300 MB RSS. Each count
// runs in a child process, bounded in time and stopped at the bound.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const BOUND_BYTES = 300_000_000;
const CHILD_TIMEOUT_MS = 180_000;

for (const [kind, count] of [['keyed', 1_500], ['plans', 500]]) {
  const name = `${count} dropped ${kind === 'keyed' ? 'KeyedLimiters' : 'Plans.genieos()'} stay under 300 MB RSS`;
  test(name, { timeout: CHILD_TIMEOUT_MS + 10_000 }, (t) => {
    const output = execFileSync(process.execPath, [path.join(__dirname, 'memory-child.js'), kind, String(count), String(BOUND_BYTES)], {
      encoding: 'utf8',
      timeout: CHILD_TIMEOUT_MS,
    });
    const { made, peakRss } = JSON.parse(output);
    t.diagnostic(`${kind}: ${made} made, peak RSS ${(peakRss / 1e6).toFixed(0)} MB`);
    assert.equal(made, count, `RSS passed 300 MB after ${made} objects`);
    assert.ok(peakRss <= BOUND_BYTES, `peak RSS ${peakRss}`);
  });
}
