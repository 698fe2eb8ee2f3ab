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
  assert.deepEqual(JSON.parse(JSON.stringify(perSecond)), { count: '30', periodNs: '1000000000', burst: '60', lockoutNs: '0' });
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
  assert.throws(() => Quota.perPeriodMs(1, 2n ** 63n), /periodMs must be at most 18446744073709 ms/, 'no wrap past 2^64 ns');
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
  assert.deepEqual({ ...first }, {
    admitted: true,
    outcome: 'admitted',
    limit: 3,
    remaining: 2,
    resetAfterNs: 100_000_000,
    resetAfterMs: 100,
    retryAfterNs: 0,
    retryAfterMs: 0,
    delayNs: 0,
    delayMs: 0,
    scope: null,
    layer: null,
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
    () => limiter.reserve(1, 0),
    () => limiter.suspendUntil(5),
    () => limiter.suspendUntil(null),
    () => limiter.suspendFor(5),
    () => limiter.liftSuspension(),
    () => limiter.suspensionAt(0),
  ];
  for (const call of closedCalls) {
    assert.throws(call, (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_CLOSED');
  }
  const disposed = new Limiter(Quota.perSecond(1));
  disposed[Symbol.dispose]();
  assert.equal(disposed.closed, true);
});

test('Quota lockout: hammering while denied pushes the wait out, bounded by lockoutNs', () => {
  const quota = Quota.perSecond(10, { burst: 2, lockoutNs: SECOND });
  assert.equal(quota.lockoutNs, 1_000_000_000n);
  assert.equal(String(quota), 'Quota(10 per 1000000000 ns, burst 2, lockout 1000000000 ns)');
  assert.ok(!quota.equals(Quota.perSecond(10, { burst: 2 })));
  assert.ok(quota.withBurst(3).lockoutNs === quota.lockoutNs);
  assert.equal(Quota.perSecond(10).withLockout(5n).lockoutNs, 5n);
  const plain = new Limiter(Quota.perSecond(10, { burst: 2 }));
  const locked = new Limiter(quota);
  assert.ok(locked.quota.equals(quota), 'the library keeps lockout_ns');
  for (const limiter of [plain, locked]) {
    limiter.check(2, 0);
    for (let i = 0; i < 50; i += 1) limiter.check(1, 0);
  }
  const plainWait = plain.check(1, 0).retryAfterNs;
  const lockedWait = locked.check(1, 0).retryAfterNs;
  assert.equal(plainWait, 100_000_000, 'without lockout a denial charges nothing');
  assert.ok(lockedWait > plainWait, `hammering extended the wait (${lockedWait} ns)`);
  assert.ok(lockedWait <= SECOND + 100_000_000, 'never beyond lockoutNs past an empty bucket');
  assert.throws(() => Quota.perSecond(1, { lockoutNs: -1 }), RangeError);
  assert.throws(() => Quota.perSecond(1, { lockoutNs: '1' }), TypeError);
  assert.throws(
    () => Quota.perSecond(1, { lockoutNs: U64_MAX }),
    (error) => error instanceof FloodgateRangeError && error.code === 'ERR_FLOODGATE_LOCKOUT_TOO_LONG',
  );
});

test('reserve: delay instead of reject, denied past maxWaitNs, cancelled by refund', () => {
  const limiter = new Limiter(Quota.perSecond(30, { burst: 60 }));
  const now = limiter.reserve(60, 0, 0);
  assert.equal(now.admitted, true);
  assert.equal(now.delayNs, 0);
  const later = limiter.reserve(1, SECOND, 0);
  assert.equal(later.admitted, true);
  assert.equal(later.delayNs, 33_333_334, 'wait one emission interval');
  assert.equal(later.delayMs, 33.333334);
  const tooLong = limiter.reserve(1, 10_000_000, 0);
  assert.equal(tooLong.outcome, 'denied');
  assert.equal(tooLong.delayNs, 0);
  // The slot is 2/30 s out; after 56.67 ms it would be within the 10 ms maximum wait.
  assert.equal(tooLong.retryAfterNs, 66_666_667 - 10_000_000, 'the wait after which it would be accepted');
  limiter.refund(1, 0);
  assert.equal(limiter.reserve(1, SECOND, 0).delayNs, 33_333_334, 'the cancelled reservation was refunded');
  assert.equal(limiter.reserve(61, SECOND, 0).outcome, 'cannot_fit');
  assert.equal(limiter.check(1).delayNs, 0, 'checks never delay');
  assert.throws(() => limiter.reserve(1, -1), RangeError);
  assert.throws(() => limiter.reserve(1, '1'), TypeError);
  assert.throws(() => limiter.reserve(1), TypeError, 'maxWaitNs is required');
  assert.throws(() => limiter.reserve(1, 0, -1), RangeError);
});

test('suspension: its own outcome, nothing charged, lifted or ended', () => {
  const limiter = new Limiter(Quota.perSecond(10));
  limiter.check(4, 0);
  limiter.suspendUntil(5 * SECOND);
  const suspended = limiter.check(1, SECOND);
  assert.equal(suspended.outcome, 'suspended');
  assert.equal(suspended.admitted, false);
  assert.equal(suspended.retryAfterNs, 4 * SECOND, 'until the suspension ends');
  assert.deepEqual(limiter.suspensionAt(SECOND), { suspended: true, untilNs: 5 * SECOND });
  assert.equal(limiter.check(1, 5 * SECOND).outcome, 'admitted', 'over at its end');
  assert.deepEqual(limiter.suspensionAt(5 * SECOND), { suspended: false, untilNs: null });

  limiter.suspendUntil(null);
  const open = limiter.check(1, 9 * SECOND);
  assert.equal(open.outcome, 'suspended');
  assert.equal(open.retryAfterNs, 0, 'no end');
  assert.deepEqual(limiter.suspensionAt(1_000 * SECOND), { suspended: true, untilNs: null });
  limiter.liftSuspension();
  assert.equal(limiter.check(1, 9 * SECOND).admitted, true);
  assert.equal(limiter.peek(9 * SECOND).remaining, 9, 'suspended checks charged nothing');

  const clocked = new Limiter(Quota.perSecond(10));
  clocked.suspendFor(3_600 * SECOND);
  const held = clocked.check();
  assert.equal(held.outcome, 'suspended');
  assert.ok(held.retryAfterNs > 3_500 * SECOND && held.retryAfterNs <= 3_600 * SECOND);
  clocked.liftSuspension();
  assert.equal(clocked.check().outcome, 'admitted');
  for (const bad of ['1', {}, undefined]) assert.throws(() => limiter.suspendUntil(bad), TypeError);
  assert.throws(() => limiter.suspendFor(-1), RangeError);
  assert.throws(() => limiter.suspendFor(null), TypeError);
  assert.throws(() => limiter.suspensionAt(), TypeError);
});

test('inWarningZone: remaining at most percent of the limit, decided by the library', () => {
  const limiter = new Limiter(Quota.perSecond(10));
  assert.equal(limiter.check(7, 0).inWarningZone(), false, '3 of 10 left');
  assert.equal(limiter.check(1, 0).inWarningZone(), true, '2 of 10: 20%');
  assert.equal(limiter.peek(0).inWarningZone(10), false);
  assert.equal(limiter.peek(0).inWarningZone(20n), true);
  assert.equal(limiter.peek(0).inWarningZone(0), false);
  assert.throws(() => limiter.peek(0).inWarningZone(-1), RangeError);
  assert.throws(() => limiter.peek(0).inWarningZone('20'), TypeError);
});
