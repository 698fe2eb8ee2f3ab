'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { FloodgateError, FloodgateRangeError, KeyedLimiter, Limiter, Policy, Quota, SlidingWindow, liveHandles } = require('..');

test('a refusal charges no layer and names the denying layer', () => {
  const perKey = new KeyedLimiter(Quota.perSecond(30, { burst: 60 }), { capacity: 256 });
  const workspace = new SlidingWindow(5, 60e9);
  const policy = new Policy([
    { limit: perKey, scope: 'key' },
    { limit: workspace, scope: 'workspace' },
  ]);
  assert.deepEqual(policy.scopes, ['key', 'workspace']);
  for (let i = 0; i < 5; i += 1) {
    const admitted = policy.check(['k', null], 1, 0);
    assert.equal(admitted.admitted, true);
    assert.equal(admitted.scope, 'workspace', 'the tightest layer when admitted');
    assert.equal(admitted.layer, 1);
  }
  const denied = policy.check(['k', undefined], 1, 0);
  assert.equal(denied.outcome, 'denied');
  assert.equal(denied.scope, 'workspace');
  assert.equal(perKey.peek('k', 0).remaining, 55, 'the key layer was not charged by the refusal');
  assert.equal(workspace.peek(0).remaining, 0, 'checks through the policy share the window');
  assert.deepEqual(policy.counters(), {
    admitted: 5,
    denied: 1,
    suspended: 0,
    layers: [
      { scope: 'key', shadow: false, denied: 0, shadowDenied: 0, suspended: 0 },
      { scope: 'workspace', shadow: false, denied: 1, shadowDenied: 0, suspended: 0 },
    ],
  });
});

test('keyed layers take string, Buffer, number and bigint keys; counters add up across key kinds', () => {
  const perKey = new KeyedLimiter(Quota.perSecond(1, { burst: 2 }), { capacity: 64 });
  const policy = new Policy([{ limit: perKey, scope: 'token' }]);
  assert.equal(policy.check(['t'], 1, 0).remaining, 1);
  assert.equal(policy.check([Buffer.from('t')], 1, 0).remaining, 0);
  assert.equal(policy.check([9], 1, 0).remaining, 1);
  assert.equal(policy.check([9n], 1, 0).remaining, 0);
  assert.equal(policy.check([(1n << 64n) - 1n], 1, 0).remaining, 1);
  assert.equal(policy.check([2n ** 60n], 1, 0).remaining, 1);
  assert.equal(policy.check(['t'], 1, 0).scope, 'token');
  assert.equal(perKey.peek(9, 0).remaining, 0, 'number keys share the KeyedLimiter number table');
  const counters = policy.counters();
  assert.equal(counters.admitted, 6);
  assert.equal(counters.denied, 1);
  assert.equal(policy.check(['x'.repeat(4096)], 1, 0).admitted, true);
});

test('shadow layers count but never refuse; suspended Limiter layers refuse as suspended', () => {
  const strict = new Limiter(Quota.perHour(1));
  const loose = new Limiter(Quota.perHour(100));
  const policy = new Policy([
    { limit: loose, scope: 'endpoint' },
    { limit: strict, scope: 'new-limit', shadow: true },
  ]);
  for (let i = 0; i < 3; i += 1) assert.equal(policy.check([null, null], 1, 0).admitted, true);
  const counters = policy.counters();
  assert.equal(counters.admitted, 3);
  assert.equal(counters.layers[1].shadowDenied, 2);
  assert.equal(counters.layers[1].shadow, true);
  loose.suspendUntil(null);
  const suspended = policy.check([null, null], 1, 0);
  assert.equal(suspended.outcome, 'suspended');
  assert.equal(suspended.scope, 'endpoint');
  assert.equal(policy.counters().suspended, 1);
  assert.equal(policy.counters().layers[0].suspended, 1);
});

test('policies keep their layers alive after the layer objects close', () => {
  const before = liveHandles();
  const limiter = new Limiter(Quota.perSecond(10));
  const keyed = new KeyedLimiter(Quota.perSecond(10), { capacity: 16 });
  const policy = new Policy([
    { limit: limiter, scope: 'ip' },
    { limit: keyed, scope: 'key' },
  ]);
  limiter.close();
  keyed.close();
  assert.equal(policy.check([null, 'k'], 1, 0).admitted, true);
  assert.throws(() => policy.check([null, 5], 1, 0), (error) => error.code === 'ERR_FLOODGATE_CLOSED', 'a new key kind needs the open KeyedLimiter');
  policy.close();
  policy.close();
  assert.equal(liveHandles(), before);
  for (const call of [() => policy.check([null, 'k']), () => policy.counters()]) {
    assert.throws(call, (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_CLOSED');
  }
  assert.throws(() => new Policy([{ limit: limiter, scope: 'ip' }]), (error) => error.code === 'ERR_FLOODGATE_CLOSED');
});

test('bad layers and keys throw before the library is called', () => {
  const limiter = new Limiter(Quota.perSecond(10));
  const keyed = new KeyedLimiter(Quota.perSecond(10), { capacity: 16 });
  assert.throws(() => new Policy(), TypeError);
  assert.throws(() => new Policy('key'), TypeError);
  assert.throws(() => new Policy([]), (error) => error instanceof FloodgateRangeError && error.code === 'ERR_FLOODGATE_NO_LAYERS');
  const many = Array.from({ length: 33 }, () => ({ limit: limiter, scope: 'ip' }));
  assert.throws(() => new Policy(many), (error) => error instanceof RangeError && error.code === 'ERR_FLOODGATE_TOO_MANY_LAYERS');
  assert.throws(() => new Policy([null]), TypeError);
  assert.throws(() => new Policy([{ limit: {}, scope: 'ip' }]), TypeError);
  assert.throws(() => new Policy([{ limit: limiter }]), TypeError);
  assert.throws(() => new Policy([{ limit: limiter, scope: 5 }]), TypeError);
  assert.throws(() => new Policy([{ limit: limiter, scope: '' }]), RangeError);
  assert.throws(() => new Policy([{ limit: limiter, scope: 'ip', shadow: 1 }]), TypeError);
  assert.throws(() => new Policy([{ limit: limiter, scope: 'bad\0name' }]), RangeError);

  const policy = new Policy([
    { limit: keyed, scope: 'key' },
    { limit: limiter, scope: 'ip' },
  ]);
  assert.throws(() => policy.check('k'), TypeError);
  assert.throws(() => policy.check(['k']), RangeError);
  assert.throws(() => policy.check(['k', null, null]), RangeError);
  assert.throws(() => policy.check(['k', 'ip-key']), TypeError, 'an unkeyed layer takes null');
  assert.throws(() => policy.check(['', null]), RangeError);
  assert.throws(() => policy.check([Buffer.alloc(0), null]), RangeError);
  assert.throws(() => policy.check(['x'.repeat(4097), null]), RangeError);
  assert.throws(() => policy.check([null, null]), TypeError);
  assert.throws(() => policy.check([{}, null]), TypeError);
  assert.throws(() => policy.check([-1, null]), RangeError);
  assert.throws(() => policy.check(['k', null], -1), RangeError);
  assert.throws(() => policy.check(['k', null], '1'), TypeError);
  assert.throws(() => policy.check(['k', null], 1, -1), RangeError);
  assert.equal(keyed.peek('k').remaining, 10, 'nothing charged');
  assert.equal(limiter.peek().remaining, 10);
  assert.equal(policy.counters().admitted, 0);
});
