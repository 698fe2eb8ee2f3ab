'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { FloodgateError, FloodgateRangeError, KeyedLimiter, Plans, Policy, Quota, liveHandles } = require('..');

const SECOND = 1_000_000_000;
const U64_MAX = (1n << 64n) - 1n;
const hobby = Quota.perSecond(30, { burst: 60 });

test('string, Buffer, number and bigint keys each have their own bucket', () => {
  const keyed = new KeyedLimiter(hobby, { capacity: 1_000 });
  assert.equal(keyed.check('alpha', 10, 0).remaining, 50);
  assert.equal(keyed.check(Buffer.from('alpha'), 1, 0).remaining, 49, 'a string key is its UTF-8 bytes');
  assert.equal(keyed.check(new Uint8Array([0x61, 0x6c, 0x70, 0x68, 0x61]), 1, 0).remaining, 48);
  assert.equal(keyed.check('beta', 1, 0).remaining, 59);
  assert.equal(keyed.check('ключ-🔑', 1, 0).remaining, 59, 'any Unicode key');
  assert.equal(keyed.check(Buffer.from('ключ-🔑'), 1, 0).remaining, 58);
  assert.equal(keyed.check(7, 1, 0).remaining, 59, 'number keys live in their own table');
  assert.equal(keyed.check(7n, 1, 0).remaining, 58, '7 and 7n are one key');
  assert.equal(keyed.check('7', 1, 0).remaining, 59, "'7' is a byte key, not 7");
  assert.equal(keyed.check(U64_MAX, 1, 0).remaining, 59);
  assert.equal(keyed.check(2n ** 60n, 1, 0).remaining, 59, 'ids above 2^53 go through exactly as bigints');
  assert.equal(keyed.check(0, 0, 0).remaining, 60, 'cost 0 peeks');
  assert.equal(keyed.size, 7, "alpha, beta, ключ-🔑, '7', 7, 2^64-1, 2^60 (a peek inserts nothing)");
  assert.ok(keyed.capacity >= 1_000);
  assert.equal(keyed.fullTableEvents, 0);
  keyed.close();
});

test('checks on the library clock: a string key is its UTF-8 bytes, U+0000 and all', () => {
  // The library-clock check passes strings to the library as C strings; one
  // holding U+0000 must not stop at it (and share the bucket of its prefix).
  const keyed = new KeyedLimiter(Quota.perHour(1), { capacity: 64 });
  for (const key of ['alpha', 'ключ-🔑', 'a\0b', '\0', 'a\0']) {
    assert.equal(keyed.check(key).admitted, true, key);
    assert.equal(keyed.check(key).admitted, false, key);
    assert.equal(keyed.check(Buffer.from(key)).admitted, false, `${key} as bytes: the same bucket`);
  }
  assert.equal(keyed.check('a').admitted, true, "'a\\0b' and 'a\\0' are not 'a'");
  assert.equal(keyed.check(42).admitted, true);
  assert.equal(keyed.check(42n).admitted, false);
  assert.equal(keyed.size, 7);
  assert.throws(() => keyed.check(''), RangeError);
  assert.throws(() => keyed.check('\ud800'), TypeError);
  assert.throws(() => keyed.check('k', -1), RangeError);
  keyed.close();
  assert.throws(() => keyed.check('alpha'), /closed/);
  assert.throws(() => keyed.check(42), /closed/);
});

test('check, peek, refund and reserve per key', () => {
  const keyed = new KeyedLimiter(hobby, { capacity: 64 });
  for (const key of ['k', 42]) {
    for (let i = 0; i < 60; i += 1) assert.equal(keyed.check(key, 1, 0).admitted, true);
    const denied = keyed.check(key, 1, 0);
    assert.equal(denied.outcome, 'denied');
    assert.equal(denied.retryAfterNs, 33_333_334);
    assert.equal(keyed.peek(key, 0).remaining, 0);
    assert.equal(keyed.refund(key, 2, 0).remaining, 2);
    assert.equal(keyed.refund(key, undefined, 0).remaining, 3);
    keyed.check(key, 3, 0);
    const reserved = keyed.reserve(key, 1, SECOND, 0);
    assert.equal(reserved.admitted, true);
    assert.equal(reserved.delayNs, 33_333_334);
    assert.equal(keyed.reserve(key, 1, 1_000, 0).outcome, 'denied', 'past the maximum wait');
    keyed.refund(key, 1, 0);
    assert.equal(keyed.reserve(key, 1, SECOND, 0).delayNs, 33_333_334, 'the refund cancelled it');
    assert.equal(keyed.check(key, 61, SECOND * 10).outcome, 'cannot_fit');
  }
  assert.equal(keyed.peek('never-seen', 0).remaining, 60, 'an unseen key reads full');
  assert.equal(keyed.peek(99, 0).remaining, 60);
  assert.equal(keyed.check('clock').remaining, 59, 'the library clock without nowNs');
  assert.equal(keyed.peek('clock').remaining, 59);
  assert.equal(keyed.refund('clock').remaining, 60);
  assert.equal(keyed.reserve('clock', 1, 0).delayNs, 0);
});

test('per-key quotas at runtime (Clarifai: 15/s default, custom per customer)', () => {
  const users = new KeyedLimiter(Quota.perSecond(15), { capacity: 1_000 });
  users.setQuota('enterprise', Quota.perSecond(100), 0);
  users.setQuota(1234, Quota.perSecond(50));
  assert.ok(users.quotaFor('enterprise').equals(Quota.perSecond(100)));
  assert.ok(users.quotaFor(1234).equals(Quota.perSecond(50)));
  assert.ok(users.quotaFor('anyone').equals(Quota.perSecond(15)));
  const admitted = (key) => {
    let n = 0;
    for (let i = 0; i < 200; i += 1) n += users.check(key, 1, 0).admitted ? 1 : 0;
    return n;
  };
  assert.equal(admitted('free-user'), 15);
  assert.equal(admitted('enterprise'), 100);
  users.clearQuota('enterprise', 0);
  assert.ok(users.quotaFor('enterprise').equals(Quota.perSecond(15)));
  assert.equal(users.peek('enterprise', 0).remaining, 0, 'usage carries over, capped at the default burst');
  users.clearQuota(1234);
  assert.ok(users.quotaFor(1234).equals(Quota.perSecond(15)));
  users.clearQuota('never-had-one');
  const limited = new KeyedLimiter(Quota.perSecond(1), { capacity: 16, maxOverrides: 1 });
  limited.setQuota('a', Quota.perSecond(2));
  assert.throws(
    () => limited.setQuota('b', Quota.perSecond(2)),
    (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_TOO_MANY_OVERRIDES',
  );
});

test('reconfigure replaces the default quota of both tables, keeping usage', () => {
  const keyed = new KeyedLimiter(Quota.perSecond(30, { burst: 60 }), { capacity: 64 });
  keyed.check('a', 40, 0);
  keyed.check(1, 40, 0);
  keyed.setQuota('own', Quota.perSecond(5));
  keyed.reconfigure(Quota.perSecond(30, { burst: 100 }), 0);
  assert.equal(keyed.peek('a', 0).remaining, 60);
  assert.equal(keyed.peek(1, 0).remaining, 60);
  assert.ok(keyed.quota.equals(Quota.perSecond(30, { burst: 100 })));
  assert.ok(keyed.quotaFor('own').equals(Quota.perSecond(5)), 'own quotas stay');
  keyed.reconfigure(Quota.perMinute(10));
  assert.ok(keyed.quotaFor(77).equals(Quota.perMinute(10)));
  const lazy = new KeyedLimiter(Quota.perSecond(1), { capacity: 8 });
  lazy.reconfigure(Quota.perSecond(9));
  assert.equal(lazy.check(5, 1, 0).limit, 9, 'a number table built later uses the new default');
});

test('a full table follows onFull and counts the events', () => {
  const deny = new KeyedLimiter(Quota.perSecond(1), { capacity: 1 });
  const admit = new KeyedLimiter(Quota.perSecond(1), { capacity: 1, onFull: 'admit' });
  const overflow = new KeyedLimiter(Quota.perSecond(1), { capacity: 1, onFull: 'overflow' });
  const outcomes = { deny: [], admit: [], overflow: [] };
  for (let i = 0; i < 200; i += 1) {
    outcomes.deny.push(deny.check(`k${i}`, 1, 0).admitted);
    outcomes.admit.push(admit.check(`k${i}`, 1, 0).admitted);
    outcomes.overflow.push(overflow.check(`k${i}`, 1, 0).admitted);
  }
  assert.ok(deny.fullTableEvents > 0);
  assert.equal(outcomes.deny.filter(Boolean).length, 200 - deny.fullTableEvents);
  assert.ok(outcomes.admit.every(Boolean));
  assert.ok(admit.fullTableEvents > 0);
  assert.ok(overflow.fullTableEvents > 0);
  assert.ok(deny.size <= deny.capacity);
});

test('bad keys and arguments throw before the library is called', () => {
  const keyed = new KeyedLimiter(hobby, { capacity: 16 });
  const max = 'x'.repeat(4096);
  assert.equal(keyed.check(max, 1, 0).admitted, true, '4096 bytes is the longest key');
  assert.equal(keyed.check(Buffer.alloc(4096, 1), 1, 0).admitted, true);
  assert.equal(keyed.check('é'.repeat(2048), 1, 0).admitted, true, '2048 two-byte characters');
  for (const key of ['', Buffer.alloc(0), new Uint8Array(0)]) {
    for (const call of [
      () => keyed.check(key),
      () => keyed.peek(key),
      () => keyed.refund(key),
      () => keyed.reserve(key, 1, 0),
      () => keyed.setQuota(key, hobby),
      () => keyed.clearQuota(key),
      () => keyed.reset(key),
      () => keyed.resetKey(key),
      () => keyed.quotaFor(key),
    ]) {
      assert.throws(call, (error) => error instanceof RangeError && /empty/.test(error.message));
    }
  }
  for (const key of [max + 'x', 'é'.repeat(2049), Buffer.alloc(4097), 'y'.repeat(100_000)]) {
    assert.throws(() => keyed.check(key), (error) => error instanceof RangeError && /at most 4096 bytes/.test(error.message));
    assert.throws(() => keyed.setQuota(key, hobby), RangeError);
  }
  for (const key of [null, undefined, true, {}, [], Symbol('k'), () => 1]) {
    assert.throws(() => keyed.check(key), TypeError);
    assert.throws(() => keyed.peek(key), TypeError);
    assert.throws(() => keyed.quotaFor(key), TypeError);
  }
  for (const key of [-1, 1.5, NaN, Infinity, 2 ** 64, -1n, U64_MAX + 1n]) {
    assert.throws(() => keyed.check(key), RangeError);
    assert.throws(() => keyed.refund(key), RangeError);
  }
  assert.throws(() => keyed.check('k', -1), RangeError);
  assert.throws(() => keyed.check('k', '1'), TypeError);
  assert.throws(() => keyed.check(5, 1.5), RangeError);
  assert.throws(() => keyed.check('k', 1, -1), RangeError);
  assert.throws(() => keyed.check(Buffer.from('k'), 1, 'now'), TypeError);
  assert.throws(() => keyed.reserve('k', 1, -5), RangeError);
  assert.throws(() => keyed.setQuota('k', { count: 1n }), TypeError);
  assert.throws(() => keyed.reconfigure('fast'), TypeError);
  assert.equal(keyed.peek('k', 0).remaining, 60, 'no refused call charged anything');

  assert.throws(() => new KeyedLimiter(), TypeError);
  assert.throws(() => new KeyedLimiter(hobby, 5), TypeError);
  assert.throws(() => new KeyedLimiter(hobby, { capacity: '10' }), TypeError);
  assert.throws(() => new KeyedLimiter(hobby, { capacity: -1 }), RangeError);
  assert.throws(() => new KeyedLimiter(hobby, { onFull: 1 }), TypeError);
  assert.throws(() => new KeyedLimiter(hobby, { onFull: 'drop' }), RangeError);
  const before = liveHandles();
  assert.throws(
    () => new KeyedLimiter(hobby, { capacity: 0 }),
    (error) => error instanceof FloodgateRangeError && error.code === 'ERR_FLOODGATE_ZERO_CAPACITY',
  );
  assert.throws(
    () => new KeyedLimiter(hobby, { capacity: 2 ** 33 }),
    (error) => error instanceof FloodgateRangeError && error.code === 'ERR_FLOODGATE_CAPACITY_TOO_LARGE',
  );
  assert.equal(liveHandles(), before, 'a refused table leaves no handle');
});

test('closed keyed limiters throw; close frees both tables once', () => {
  const before = liveHandles();
  const keyed = new KeyedLimiter(hobby, { capacity: 16 });
  keyed.check(1);
  assert.equal(liveHandles(), before + 2, 'a byte table and a number table');
  keyed.close();
  keyed.close();
  assert.equal(liveHandles(), before);
  assert.equal(keyed.closed, true);
  const calls = [
    () => keyed.check('k'),
    () => keyed.check(Buffer.from('k')),
    () => keyed.check(1),
    () => keyed.peek('k'),
    () => keyed.refund(1n),
    () => keyed.reserve('k', 1, 0),
    () => keyed.setQuota('k', hobby),
    () => keyed.clearQuota(2),
    () => keyed.quotaFor('k'),
    () => keyed.reconfigure(hobby),
    () => keyed.quota,
    () => keyed.size,
    () => keyed.capacity,
    () => keyed.fullTableEvents,
  ];
  for (const call of calls) {
    assert.throws(call, (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_CLOSED');
  }
  const disposed = new KeyedLimiter(hobby, { capacity: 16 });
  disposed[Symbol.dispose]();
  assert.equal(disposed.closed, true);
});

test('number keys must be safe integers: 2^53 and 2^53 + 1 would be one key', () => {
  const keyed = new KeyedLimiter(hobby, { capacity: 64 });
  for (const key of [2 ** 53, 2 ** 53 + 1, 2 ** 60, Number.MAX_VALUE]) {
    assert.throws(() => keyed.check(key, 1, 0), { name: 'RangeError', message: /safe integer/ }, String(key));
  }
  assert.equal(keyed.check(2 ** 53 - 1, 1, 0).remaining, 59, 'the largest safe integer is a key');
  assert.equal(keyed.check(2n ** 53n + 1n, 1, 0).remaining, 59, 'larger ids go as bigints');
  assert.equal(keyed.size, 2);
  keyed.close();
});

test('strings with lone surrogates throw TypeError instead of sharing the bucket of U+FFFD', () => {
  const keyed = new KeyedLimiter(hobby, { capacity: 64 });
  const plans = Plans.genieos({ keyCapacity: 8, workspaceCapacity: 8 });
  const policy = new Policy([{ limit: keyed, scope: 'key' }]);
  for (const key of ['\ud800', '\udfff', 'a\udc00b', '\ud83d']) {
    assert.throws(() => keyed.check(key, 1, 0), { name: 'TypeError', message: /lone surrogate/ });
    assert.throws(() => keyed.peek(key, 0), TypeError);
    assert.throws(() => policy.check([key], 1, 0), TypeError);
    assert.throws(() => plans.check('hobby', key, 'ws', 1), TypeError);
    assert.throws(() => plans.check('hobby', 'k', key, 1), TypeError);
  }
  assert.equal(keyed.check('\ufffd', 1, 0).remaining, 59);
  assert.equal(keyed.check('\ud83d\udd11', 1, 0).remaining, 59, 'a surrogate pair is one well-formed code point');
  assert.equal(keyed.size, 2);
  plans.close();
  keyed.close();
});

test('reset / resetKey fill a key\'s bucket, keep its own quota and insert nothing', () => {
  const keyed = new KeyedLimiter(hobby, { capacity: 64 });
  for (const key of ['203.0.113.7', 42]) {
    assert.equal(keyed.check(key, 60, 0).remaining, 0);
    assert.equal(keyed.check(key, 1, 0).admitted, false);
    keyed.reset(key, 0);
    assert.equal(keyed.peek(key, 0).remaining, 60);
    keyed.check(key, 60, 0);
    keyed.resetKey(key);
    assert.equal(keyed.check(key, 1).admitted, true);
  }
  keyed.setQuota('acme', Quota.perSecond(5));
  keyed.check('acme', 5, 0);
  keyed.reset('acme', 0);
  assert.equal(keyed.peek('acme', 0).remaining, 5);
  assert.equal(keyed.quotaFor('acme').burst, 5n);
  const size = keyed.size;
  keyed.reset('never-seen');
  assert.equal(keyed.size, size);
  keyed.close();
});
