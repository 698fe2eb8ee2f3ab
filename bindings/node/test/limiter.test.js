'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { FloodgateError, FloodgateRangeError, Limiter, Quota, STATUS } = require('..');

const SECOND = 1_000_000_000;
const U64_MAX = (1n << 64n) - 1n;

test('Quota constructors carry exact fields', () => {
  const perSecond = Quota.perSecond(30, { burst: 60 });
  assert.deepEqual([perSecond.count, perSecond.periodNs, perSecond.burst], [30n, 1_000_000_000n, 60n]);
  assert.equal(Quota.perMinute(600).periodNs, 60_000_000_000n);
  assert.equal(Quota.perHour(1).periodNs, 3_600_000_000_000n);
  assert.equal(Quota.perDay(1n).periodNs, 86_400_000_000_000n);
  assert.equal(Quota.perPeriodMs(5, 250).periodNs, 250_000_000n);
  assert.equal(Quota.perPeriodMs(5, 250).periodMs, 250);
  assert.equal(Quota.perSecond(15).burst, 15n, 'burst defaults to the count');
  assert.equal(new Quota(7, 3_000n).periodNs, 3_000n);
  const raised = perSecond.withBurst(100);
  assert.equal(raised.burst, 100n);
  assert.equal(perSecond.burst, 60n, 'withBurst returns a new quota');
  assert.ok(perSecond.equals(Quota.perSecond(30, { burst: 60 })));
  assert.ok(!perSecond.equals(raised));
  assert.ok(!perSecond.equals({ count: 30n, periodNs: 1_000_000_000n, burst: 60n }));
  assert.deepEqual(JSON.parse(JSON.stringify(perSecond)), { count: '30', periodNs: '1000000000', burst: '60' });
  assert.equal(String(perSecond), 'Quota(30 per 1000000000 ns, burst 60)');
  assert.ok(Object.isFrozen(perSecond));
});

test('the library refuses invalid quotas with its own status and message', () => {
  const cases = [
    [() => Quota.perSecond(0), STATUS.ZERO_COUNT, 'ERR_FLOODGATE_ZERO_COUNT'],
    [() => new Quota(1, 0), STATUS.ZERO_PERIOD, 'ERR_FLOODGATE_ZERO_PERIOD'],
    [() => Quota.perSecond(1, { burst: 0 }), STATUS.ZERO_BURST, 'ERR_FLOODGATE_ZERO_BURST'],
    [() => new Quota(11, 10), STATUS.RATE_TOO_HIGH, 'ERR_FLOODGATE_RATE_TOO_HIGH'],
    [() => Quota.perDay(1, { burst: U64_MAX }), STATUS.BURST_TOO_LARGE, 'ERR_FLOODGATE_BURST_TOO_LARGE'],
  ];
  for (const [make, status, code] of cases) {
    assert.throws(make, (error) => {
      assert.ok(error instanceof FloodgateRangeError);
      assert.ok(error instanceof RangeError);
      assert.equal(error.status, status);
      assert.equal(error.code, code);
      assert.match(error.message, /^fg_limiter_new: quota /);
      return true;
    });
  }
});

test('bad arguments throw TypeError or RangeError', () => {
  const limiter = new Limiter(Quota.perSecond(10));
  const typeErrors = ['1', null, true, {}, [], Symbol('x')];
  for (const value of typeErrors) {
    assert.throws(() => limiter.check(value), TypeError, `check(${String(value)})`);
    assert.throws(() => limiter.refund(value), TypeError);
    assert.throws(() => limiter.check(1, value), TypeError);
    assert.throws(() => limiter.peek(value), TypeError);
    assert.throws(() => Quota.perSecond(value), TypeError);
  }
  const rangeErrors = [-1, -1n, 1.5, NaN, Infinity, -Infinity, 2 ** 64, U64_MAX + 1n];
  for (const value of rangeErrors) {
    assert.throws(() => limiter.check(value), RangeError, `check(${String(value)})`);
    assert.throws(() => limiter.refund(value), RangeError);
    assert.throws(() => limiter.check(1, value), RangeError);
    assert.throws(() => limiter.peek(value), RangeError);
    assert.throws(() => limiter.refund(1, value), RangeError);
    assert.throws(() => limiter.reconfigure(Quota.perSecond(1), value), RangeError);
    assert.throws(() => Quota.perSecond(value), RangeError);
    assert.throws(() => Quota.perPeriodMs(1, value), RangeError);
  }
  assert.throws(() => new Limiter({ count: 1n, periodNs: 1n, burst: 1n }), TypeError);
  assert.throws(() => new Limiter(), TypeError);
  assert.throws(() => limiter.reconfigure('fast'), TypeError);
  assert.throws(() => Quota.perSecond(1, 5), TypeError);
  assert.throws(() => Quota.perSecond(1, { burst: '5' }), TypeError);
  // Nothing was charged by any refused call.
  assert.equal(limiter.peek().remaining, 10);
  assert.equal(limiter.quota.count, 10n);
});

test('the full u64 range is accepted where the ABI takes it', () => {
  const limiter = new Limiter(Quota.perSecond(5));
  const denied = limiter.check(U64_MAX, 0);
  assert.equal(denied.outcome, 'cannot_fit');
  assert.equal(limiter.check(2 ** 63, 0).outcome, 'cannot_fit');
  assert.equal(limiter.check(0, U64_MAX).outcome, 'admitted');
  assert.equal(limiter.refund(U64_MAX, U64_MAX).remaining, 5);
});

test('check charges, denies with a retry time, and reports the bucket', () => {
  const limiter = new Limiter(Quota.perSecond(10, { burst: 3 }));
  const first = limiter.check(1, 0);
  assert.deepEqual(first, {
    admitted: true,
    outcome: 'admitted',
    limit: 3,
    remaining: 2,
    resetAfterNs: 100_000_000,
    resetAfterMs: 100,
    retryAfterNs: 0,
    retryAfterMs: 0,
    scope: 0,
  });
  assert.equal(limiter.check(2n, 0n).remaining, 0);
  const denied = limiter.check(undefined, 0);
  assert.equal(denied.admitted, false);
  assert.equal(denied.outcome, 'denied');
  assert.equal(denied.retryAfterNs, 100_000_000);
  assert.equal(denied.retryAfterMs, 100);
  assert.equal(denied.resetAfterNs, 300_000_000);
  assert.equal(limiter.check(1, 100_000_000).admitted, true, 'one emission interval later');
  const tooBig = limiter.check(4, SECOND);
  assert.equal(tooBig.outcome, 'cannot_fit');
  assert.equal(tooBig.admitted, false);
  assert.equal(tooBig.retryAfterNs, 0);
  assert.equal(limiter.peek(SECOND).remaining, 3, 'cannot_fit charged nothing');
});

test('the library clock drives calls without nowNs', () => {
  const limiter = new Limiter(Quota.perHour(2));
  assert.equal(limiter.check().remaining, 1);
  assert.equal(limiter.check(1).remaining, 0);
  const denied = limiter.check();
  assert.equal(denied.outcome, 'denied');
  assert.ok(denied.retryAfterNs > 0 && denied.retryAfterNs <= 1_800 * SECOND);
  assert.equal(limiter.peek().remaining, 0);
  assert.equal(limiter.refund().remaining, 1);
  assert.equal(limiter.refund(5).remaining, 2, 'refunds cap at the burst');
});

test('peek charges nothing; refund gives back', () => {
  const limiter = new Limiter(Quota.perSecond(4));
  limiter.check(3, 0);
  assert.equal(limiter.peek(0).remaining, 1);
  assert.equal(limiter.peek(0).remaining, 1);
  assert.equal(limiter.check(0, 0).remaining, 1, 'cost 0 only peeks');
  assert.equal(limiter.refund(2, 0).remaining, 3);
  assert.equal(limiter.refund(undefined, 0).remaining, 4);
});

test('reconfigure carries usage over and quota reports the new one', () => {
  const limiter = new Limiter(Quota.perSecond(30, { burst: 60 }));
  limiter.check(40, 0);
  limiter.reconfigure(Quota.perSecond(30, { burst: 100 }), 0);
  assert.equal(limiter.peek(0).remaining, 60);
  limiter.reconfigure(Quota.perSecond(30, { burst: 20 }), 0n);
  assert.equal(limiter.peek(0).remaining, 0);
  assert.ok(limiter.quota.equals(Quota.perSecond(30, { burst: 20 })));
  limiter.reconfigure(Quota.perMinute(5));
  assert.ok(limiter.quota.equals(Quota.perMinute(5)));
});

test('use after close throws; close is idempotent; dispose closes', () => {
  const limiter = new Limiter(Quota.perSecond(1));
  assert.equal(limiter.closed, false);
  limiter.close();
  limiter.close();
  assert.equal(limiter.closed, true);
  const closedCalls = [
    () => limiter.check(),
    () => limiter.check(1, 0),
    () => limiter.peek(),
    () => limiter.peek(0),
    () => limiter.refund(),
    () => limiter.refund(1, 0),
    () => limiter.reconfigure(Quota.perSecond(2)),
    () => limiter.quota,
  ];
  for (const call of closedCalls) {
    assert.throws(call, (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_CLOSED');
  }
  const disposed = new Limiter(Quota.perSecond(1));
  disposed[Symbol.dispose]();
  assert.equal(disposed.closed, true);
});
