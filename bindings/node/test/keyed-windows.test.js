'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { FloodgateError, FloodgateRangeError, KeyedWindows, Policy, liveHandles } = require('..');

const SECOND = 1_000_000_000;
const MINUTE = 60 * SECOND;
const closedError = (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_CLOSED';
const rangeCode = (code) => (error) => error instanceof FloodgateRangeError && error.code === code;

test('600 per minute per workspace: each key its own window, of every key type', () => {
  const windows = KeyedWindows.perMinute(600, { capacity: 64 });
  assert.equal(windows.windowNs, MINUTE);
  assert.equal(windows.capacity, 64);
  for (const key of ['ws_1', Buffer.from('ws_2'), 3, 4n]) {
    const first = windows.check(key, 1, 0);
    assert.equal(first.admitted, true);
    assert.equal(first.limit, 600);
    assert.equal(first.remaining, 599);
    assert.equal(windows.check(key, 599, 0).remaining, 0);
    const denied = windows.check(key, 1, 0);
    assert.equal(denied.outcome, 'denied');
    assert.ok(denied.retryAfterNs > 0);
  }
  assert.equal(windows.check('ws_5', 1, 0).admitted, true, 'another key is unaffected');
  assert.equal(windows.size, 5, 'keys of both kinds hold a window');
  assert.equal(windows.check('ws_1', 600, MINUTE * 2).admitted, true, 'two windows on, the count is gone');
  windows.close();
});

test('peek counts nothing, refund gives back, setLimit gives one key its own limit', () => {
  const windows = new KeyedWindows(10, SECOND, { capacity: 8 });
  assert.equal(windows.peek('never', 0).remaining, 10);
  assert.equal(windows.size, 0, 'peek adds no key');
  windows.check('a', 4, 0);
  assert.equal(windows.peek('a', 0).remaining, 6);
  assert.equal(windows.refund('a', 3, 0).remaining, 9);
  assert.equal(windows.refund('a', undefined, 0).remaining, 10);
  windows.check(9, 2, 0);
  assert.equal(windows.peek(9).limit, 10, 'peek on the library clock');
  windows.setLimit('big', 50);
  assert.equal(windows.check('big', 1, 0).limit, 50);
  windows.setLimit(9, 3);
  assert.equal(windows.check(9, 1, 0).remaining, 0, 'counts kept under the new limit');
  assert.equal(windows.check('a').admitted, true, 'check on the library clock');
  assert.equal(windows.refund(9).admitted, true);
  windows.close();
});

test('onFull: a new key that finds the table full is denied or admitted, and counted', () => {
  const deny = new KeyedWindows(5, SECOND, { capacity: 1 });
  deny.check('a', 1, 0);
  assert.equal(deny.check('b', 1, 0).admitted, false);
  assert.equal(deny.fullTableEvents, 1);
  const admit = new KeyedWindows(5, SECOND, { capacity: 1, onFull: 'admit' });
  admit.check('a', 1, 0);
  assert.equal(admit.check('b', 1, 0).admitted, true);
  assert.equal(admit.fullTableEvents, 1);
  deny.close();
  admit.close();
});

test('bad arguments throw before any call and change nothing', () => {
  const before = liveHandles();
  assert.throws(() => new KeyedWindows('10', SECOND), TypeError);
  assert.throws(() => new KeyedWindows(10), TypeError, 'a window length is required');
  assert.throws(() => new KeyedWindows(0, SECOND), rangeCode('ERR_FLOODGATE_ZERO_LIMIT'));
  assert.throws(() => new KeyedWindows(10, 0), rangeCode('ERR_FLOODGATE_ZERO_WINDOW'));
  assert.throws(() => new KeyedWindows(2 ** 22, SECOND), rangeCode('ERR_FLOODGATE_LIMIT_TOO_LARGE'));
  assert.throws(() => new KeyedWindows(10, SECOND, { capacity: 0 }), rangeCode('ERR_FLOODGATE_ZERO_CAPACITY'));
  assert.throws(() => new KeyedWindows(10, SECOND, { onFull: 'drop' }), RangeError);
  assert.throws(() => new KeyedWindows(10, SECOND, { onFull: 1 }), TypeError);
  assert.throws(() => new KeyedWindows(10, SECOND, 'opts'), TypeError);
  assert.equal(liveHandles(), before, 'refused constructions leave no handle');
  const windows = new KeyedWindows(10, SECOND, { capacity: 8 });
  assert.throws(() => windows.check({}), TypeError);
  assert.throws(() => windows.check(''), RangeError);
  assert.throws(() => windows.check(Buffer.alloc(0)), RangeError);
  assert.throws(() => windows.check('x'.repeat(4097)), RangeError);
  assert.throws(() => windows.check(-1), RangeError);
  assert.throws(() => windows.check('a', -1), RangeError);
  assert.throws(() => windows.check('a', 1, 1.5), RangeError);
  assert.throws(() => windows.refund('a', '1'), TypeError);
  assert.throws(() => windows.peek('a', -1), RangeError);
  assert.throws(() => windows.setLimit('a', 0), RangeError);
  assert.throws(() => windows.setLimit('a', null), TypeError);
  assert.equal(windows.size, 0, 'nothing was added');
  windows.close();
  windows.close();
  assert.equal(windows.closed, true);
  assert.throws(() => windows.check('a'), closedError);
  assert.throws(() => windows.size, closedError);
  assert.throws(() => windows.capacity, closedError);
});

test('as a Policy layer, per key, sharing the windows checked directly', () => {
  const windows = new KeyedWindows(2, MINUTE, { capacity: 8 });
  const policy = new Policy([{ limit: windows, scope: 'workspace' }]);
  assert.equal(policy.check(['ws'], 1, 0).admitted, true);
  assert.equal(windows.check('ws', 1, 0).remaining, 0, 'the policy check counted in the same window');
  const denied = policy.check(['ws'], 1, 0);
  assert.equal(denied.outcome, 'denied');
  assert.equal(denied.scope, 'workspace');
  assert.equal(policy.check([7], 1, 0).admitted, true, 'number keys through the policy');
  assert.equal(windows.peek(7, 0).remaining, 1);
  windows.close();
  assert.equal(policy.check(['other'], 1, 0).admitted, true, 'the policy keeps its own reference');
  policy.close();
});

test('reset / resetKey zero a key\'s counts, keep its own limit and insert nothing', () => {
  const windows = KeyedWindows.perMinute(10, { capacity: 8 });
  for (const key of ['ws_1', 7]) {
    windows.check(key, 10);
    assert.equal(windows.check(key, 1).admitted, false);
    windows.reset(key);
    assert.equal(windows.peek(key).remaining, 10);
    windows.check(key, 10);
    windows.resetKey(key);
    assert.equal(windows.check(key, 1).admitted, true);
  }
  windows.setLimit('ws_1', 20);
  windows.reset('ws_1');
  assert.equal(windows.peek('ws_1').remaining, 20);
  assert.equal(windows.size, 2);
  windows.reset('never-seen');
  assert.equal(windows.size, 2);
  assert.throws(() => windows.reset(''), RangeError);
  windows.close();
});
