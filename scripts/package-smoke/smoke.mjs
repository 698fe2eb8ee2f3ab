// Smoke test of the installed npm package from ESM: named imports resolve
// through the package's exports map, and a check runs.
import assert from 'node:assert/strict';
import { Limiter, Quota, rateLimit, abiVersion } from 'floodgate-gcra';
import floodgate from 'floodgate-gcra';

assert.equal(typeof rateLimit, 'function');
assert.equal(floodgate.Limiter, Limiter);
assert.equal(abiVersion.major, 1);
assert.equal(new Limiter(Quota.perSecond(30, { burst: 60 })).check().remaining, 59);
console.log('node (ESM): named imports and check ok');
