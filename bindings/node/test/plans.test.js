'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { FloodgateError, FloodgateRangeError, Plans, Quota, liveHandles } = require('..');

const SECOND = 1_000_000_000;
const rangeCode = (code) => (error) => error instanceof FloodgateRangeError && error.code === code;

function customPlans() {
  return new Plans(
    [
      { name: 'free', keyQuota: Quota.perSecond(1, { burst: 2 }), workspaceLimit: 3 },
      { name: 'keys-only', keyQuota: Quota.perSecond(1) },
      { name: 'internal' },
    ],
    { windowNs: SECOND, keyCapacity: 16, workspaceCapacity: 16 },
  );
}

test('custom tiers: key then workspace limits, by name or index, keys as strings or Buffers', () => {
  const plans = customPlans();
  const free = plans.tier('free');
  assert.equal(free, 0);
  assert.equal(plans.tier('internal'), 2);
  assert.equal(plans.check(free, 'a', 'w', 1, 0).remaining, 1);
  const second = plans.check('free', Buffer.from('a'), Buffer.from('w'), 1, 0);
  assert.equal(second.remaining, 0, 'the same key and workspace as bytes');
  assert.equal(second.scope, 'key', 'the key has the fewest left');
  const byKey = plans.check('free', 'a', 'w', 1, 0);
  assert.equal(byKey.outcome, 'denied');
  assert.equal(byKey.scope, 'key');
  assert.equal(plans.check('free', 'b', 'w', 1, 0).admitted, true, 'the workspace had one left');
  const byWorkspace = plans.check('free', 'c', 'w', 1, 0);
  assert.equal(byWorkspace.scope, 'workspace');
  assert.equal(byWorkspace.limit, 3);
  assert.equal(plans.check('keys-only', 'a', 'w').scope, 'key', 'the library clock');
  const internal = plans.check('internal', 'a', 'w', 1000, 0);
  assert.equal(internal.admitted, true);
  assert.equal(internal.limit, Infinity);
  assert.equal(internal.remaining, Infinity);
  assert.deepEqual(plans.counters('free'), { admitted: 3, denied: 2, suspended: 0 });
  assert.deepEqual(plans.counters(2), { admitted: 0, denied: 0, suspended: 0 }, 'an unlimited tier counts nothing');
  plans.close();
});

test('reconfigureTier changes limits, keeping usage; it cannot add or remove one', () => {
  const plans = customPlans();
  plans.check('free', 'a', 'w', 2, 0);
  plans.reconfigureTier('free', { keyQuota: Quota.perSecond(1, { burst: 5 }), workspaceLimit: 10 });
  const after = plans.check('free', 'a', 'w', 1, 0);
  assert.equal(after.admitted, true);
  assert.equal(after.remaining, 2, 'key: 2 used of 5, now 3 used');
  plans.reconfigureTier(0, { keyQuota: Quota.perSecond(1, { burst: 5 }), workspaceLimit: 4 });
  assert.equal(plans.check('free', 'b', 'w', 1, 0).remaining, 0, 'workspace: 4 counted of 4');
  assert.throws(() => plans.reconfigureTier('free', { workspaceLimit: 3 }), rangeCode('ERR_FLOODGATE_NO_SUCH_LAYER'));
  assert.throws(() => plans.reconfigureTier('internal', { workspaceLimit: 3 }), rangeCode('ERR_FLOODGATE_NO_SUCH_LAYER'));
  assert.throws(() => plans.reconfigureTier('free', { keyQuota: Quota.perSecond(1), workspaceLimit: 2 ** 22 }), rangeCode('ERR_FLOODGATE_LIMIT_TOO_LARGE'));
  assert.throws(() => plans.reconfigureTier('free', { keyQuota: { count: 1 } }), TypeError);
  assert.throws(() => plans.reconfigureTier('free', null), TypeError);
  assert.throws(() => plans.reconfigureTier('free', { keyQuota: Quota.perSecond(1), workspaceLimit: -1 }), RangeError);
  assert.equal(plans.check('free', 'c', 'w', 1, 0).outcome, 'denied', 'the refused reconfigurations changed nothing');
  plans.close();
});

test('bad arguments throw before any call and change nothing', () => {
  const before = liveHandles();
  assert.throws(() => new Plans('hobby'), TypeError);
  assert.throws(() => new Plans([]), rangeCode('ERR_FLOODGATE_NO_LAYERS'));
  assert.throws(() => new Plans([{}]), TypeError, 'a tier needs a name');
  assert.throws(() => new Plans([{ name: '' }]), RangeError);
  assert.throws(() => new Plans([{ name: 'a\0b' }]), RangeError);
  assert.throws(() => new Plans([null]), TypeError);
  assert.throws(() => new Plans([{ name: 'x', keyQuota: 30 }]), TypeError);
  assert.throws(() => new Plans([{ name: 'x', workspaceLimit: 2 ** 22 }]), rangeCode('ERR_FLOODGATE_LIMIT_TOO_LARGE'));
  assert.throws(() => new Plans([{ name: 'x', workspaceLimit: 5 }], { windowNs: 0 }), rangeCode('ERR_FLOODGATE_ZERO_WINDOW'));
  assert.throws(() => new Plans([{ name: 'x' }], { keyCapacity: -1 }), RangeError);
  assert.throws(() => new Plans([{ name: 'x' }], 'options'), TypeError);
  assert.throws(() => Plans.genieos({ workspaceCapacity: 1.5 }), RangeError);
  assert.throws(() => Plans.genieos({ keyCapacity: 2 ** 40 }), rangeCode('ERR_FLOODGATE_CAPACITY_TOO_LARGE'));
  assert.equal(liveHandles(), before, 'refused constructions leave no handle');

  const plans = customPlans();
  assert.throws(() => plans.tier('gold'), rangeCode('ERR_FLOODGATE_NO_SUCH_LAYER'));
  assert.throws(() => plans.tier(1), TypeError);
  assert.throws(() => plans.check('gold', 'a', 'w'), rangeCode('ERR_FLOODGATE_NO_SUCH_LAYER'));
  assert.throws(() => plans.check(3, 'a', 'w'), rangeCode('ERR_FLOODGATE_NO_SUCH_LAYER'));
  assert.throws(() => plans.check(-1, 'a', 'w'), RangeError);
  assert.throws(() => plans.check(0.5, 'a', 'w'), RangeError);
  assert.throws(() => plans.check(null, 'a', 'w'), TypeError);
  assert.throws(() => plans.check('free', 42, 'w'), TypeError, 'keys are strings or bytes');
  assert.throws(() => plans.check('free', 'a', 7n), TypeError);
  assert.throws(() => plans.check('free', '', 'w'), RangeError);
  assert.throws(() => plans.check('free', 'a', Buffer.alloc(0)), RangeError);
  assert.throws(() => plans.check('free', 'a', 'w'.repeat(4097)), RangeError);
  assert.throws(() => plans.check('free', 'a', 'w', -1), RangeError);
  assert.throws(() => plans.check('free', 'a', 'w', 1, '0'), TypeError);
  assert.throws(() => plans.counters('gold'), rangeCode('ERR_FLOODGATE_NO_SUCH_LAYER'));
  assert.deepEqual(plans.counters('free'), { admitted: 0, denied: 0, suspended: 0 }, 'nothing was charged');
  plans.close();
  plans.close();
  assert.equal(plans.closed, true);
  const closed = (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_CLOSED';
  assert.throws(() => plans.check('free', 'a', 'w'), closed);
  assert.throws(() => plans.check('unknown-after-close', 'a', 'w'), closed);
  assert.throws(() => plans.counters(0), closed);
  assert.throws(() => plans.reconfigureTier(0, {}), closed);
});

test('a full key table refuses a new key with scope key (not an error)', () => {
  const plans = Plans.genieos({ keyCapacity: 1, workspaceCapacity: 8 });
  assert.equal(plans.check('hobby', 'a', 'w', 1, 0).admitted, true);
  const full = plans.check('hobby', 'b', 'w', 1, 0);
  assert.equal(full.admitted, false);
  assert.equal(full.scope, 'key');
  plans.close();
});
