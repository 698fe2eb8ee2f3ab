'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { FloodgateError, FloodgateRangeError, KeyedLimiter, Policy, Quota, Suspensions, liveHandles } = require('..');

const SECOND = 1_000_000_000;
const closedError = (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_CLOSED';

test('suspendUntil, indefinite suspension, lift; every key type', () => {
  const blocked = new Suspensions({ capacity: 16 });
  for (const key of ['key_1', Buffer.from('key_2'), 3, 4n]) {
    assert.equal(blocked.check(key, 0), null, 'not suspended');
    blocked.suspendUntil(key, 5 * SECOND);
    const refused = blocked.check(key, 2 * SECOND);
    assert.equal(refused.outcome, 'suspended');
    assert.equal(refused.admitted, false);
    assert.equal(refused.retryAfterNs, 3 * SECOND, 'the time left');
    assert.equal(blocked.check(key, 5 * SECOND), null, 'ended at untilNs');
    blocked.suspendUntil(key, null);
    assert.equal(blocked.check(key, 10 ** 15).retryAfterNs, 0, 'no end');
    blocked.lift(key);
    assert.equal(blocked.check(key, 0), null);
  }
  blocked.lift('never-suspended');
  assert.equal(blocked.check('never-suspended'), null);
  blocked.close();
});

test('suspendFor runs on the library clock', () => {
  const blocked = new Suspensions();
  blocked.suspendFor('k', 3_600 * SECOND);
  blocked.suspendFor(9, 3_600 * SECOND);
  const refused = blocked.check('k');
  assert.equal(refused.outcome, 'suspended');
  assert.ok(refused.retryAfterNs > 0 && refused.retryAfterNs <= 3_600 * SECOND);
  assert.equal(blocked.check(9).outcome, 'suspended');
  blocked.close();
});

test('bad arguments throw before any call; a full set and a closed one throw', () => {
  const before = liveHandles();
  assert.throws(() => new Suspensions({ capacity: 0 }), (e) => e instanceof FloodgateRangeError && e.code === 'ERR_FLOODGATE_ZERO_CAPACITY');
  assert.throws(() => new Suspensions({ capacity: -1 }), RangeError);
  assert.throws(() => new Suspensions(5), TypeError);
  assert.equal(liveHandles(), before);
  const blocked = new Suspensions({ capacity: 1 });
  assert.throws(() => blocked.suspendUntil('k'), TypeError, 'an end or null is required');
  assert.throws(() => blocked.suspendUntil('k', -1), RangeError);
  assert.throws(() => blocked.suspendFor('k', '1'), TypeError);
  assert.throws(() => blocked.suspendFor('', 1), RangeError);
  assert.throws(() => blocked.lift({}), TypeError);
  assert.throws(() => blocked.check('k', 1.5), RangeError);
  assert.equal(blocked.check('k', 0), null, 'nothing was suspended');
  blocked.suspendUntil('a', null);
  assert.throws(() => blocked.suspendUntil('b', null), (e) => e instanceof FloodgateError && e.code === 'ERR_FLOODGATE_TABLE_FULL');
  assert.equal(blocked.check('b', 0), null);
  blocked.close();
  blocked.close();
  assert.equal(blocked.closed, true);
  assert.throws(() => blocked.check('a'), closedError);
  assert.throws(() => blocked.suspendFor(1, 1), closedError);
});

test('as a Policy first layer: a suspended key answers suspended and charges no bucket', () => {
  const blocked = new Suspensions({ capacity: 16 });
  const perKey = new KeyedLimiter(Quota.perSecond(10), { capacity: 16 });
  const policy = new Policy([
    { limit: blocked, scope: 'key' },
    { limit: perKey, scope: 'key' },
  ]);
  assert.equal(policy.check(['k', 'k'], 1, 0).admitted, true);
  blocked.suspendUntil('k', null);
  blocked.suspendUntil(7, null);
  const refused = policy.check(['k', 'k'], 1, 0);
  assert.equal(refused.outcome, 'suspended');
  assert.equal(refused.scope, 'key');
  assert.equal(refused.layer, 0);
  assert.equal(policy.check([7, 7], 1, 0).outcome, 'suspended', 'number keys');
  assert.equal(perKey.peek('k', 0).remaining, 9, 'only the admitted request was charged');
  assert.equal(policy.check(['other', 'other'], 1, 0).admitted, true);
  const counters = policy.counters();
  assert.equal(counters.suspended, 2);
  assert.equal(counters.layers[0].suspended, 2);
  blocked.lift('k');
  assert.equal(policy.check(['k', 'k'], 1, 0).admitted, true);
  policy.close();
  blocked.close();
  perKey.close();
});
