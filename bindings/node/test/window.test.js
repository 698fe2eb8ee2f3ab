'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { FloodgateError, FloodgateRangeError, SlidingWindow } = require('..');

const MINUTE = 60_000_000_000;

test('GenieOS workspace window: 600 per minute, the previous window weighted by overlap', () => {
  const workspace = SlidingWindow.perMinute(600);
  assert.equal(workspace.limit, 600);
  assert.equal(workspace.windowNs, MINUTE);
  for (let i = 0; i < 600; i += 1) assert.equal(workspace.check(1, i * 1_000_000).admitted, true, `request ${i + 1}`);
  const denied = workspace.check(1, 600 * 1_000_000);
  assert.equal(denied.outcome, 'denied');
  assert.ok(denied.retryAfterNs > 0);
  assert.equal(denied.limit, 600);
  assert.equal(denied.remaining, 0);
  // Half-way through the next window, half of the previous one still counts.
  assert.equal(workspace.peek(MINUTE + MINUTE / 2).remaining, 300);
  assert.equal(workspace.check(300, MINUTE + MINUTE / 2).admitted, true);
  assert.equal(workspace.check(1, MINUTE + MINUTE / 2).admitted, false);
  assert.equal(workspace.refund(10, MINUTE + MINUTE / 2).remaining, 10);
  assert.equal(workspace.refund(undefined, MINUTE + MINUTE / 2).remaining, 11);
  workspace.reconfigure(1_800); // Pro plan
  assert.equal(workspace.limit, 1_800);
  assert.equal(workspace.peek(MINUTE + MINUTE / 2).remaining, 1_800 - 589);
  assert.equal(workspace.check(1_801, 10 * MINUTE).outcome, 'cannot_fit');
  const clocked = new SlidingWindow(2, 3_600 * 1e9);
  assert.equal(clocked.check().remaining, 1);
  assert.equal(clocked.peek().remaining, 1);
  assert.equal(clocked.refund().remaining, 2);
});

test('windows refuse bad limits and arguments; closed windows throw', () => {
  const cases = [
    [() => new SlidingWindow(0, MINUTE), 'ERR_FLOODGATE_ZERO_LIMIT'],
    [() => new SlidingWindow(2 ** 21, MINUTE), 'ERR_FLOODGATE_LIMIT_TOO_LARGE'],
    [() => new SlidingWindow(1, 0), 'ERR_FLOODGATE_ZERO_WINDOW'],
    [() => new SlidingWindow(1, 2n ** 62n + 1n), 'ERR_FLOODGATE_WINDOW_TOO_LONG'],
  ];
  for (const [make, code] of cases) {
    assert.throws(make, (error) => error instanceof FloodgateRangeError && error.code === code);
  }
  const window = SlidingWindow.perMinute(10);
  assert.throws(() => window.reconfigure(0), FloodgateRangeError);
  assert.equal(window.limit, 10, 'a refused reconfigure keeps the old limit');
  assert.throws(() => new SlidingWindow('10', MINUTE), TypeError);
  assert.throws(() => new SlidingWindow(10, -1), RangeError);
  assert.throws(() => window.check(-1), RangeError);
  assert.throws(() => window.check(1, 'now'), TypeError);
  assert.throws(() => window.peek(1.5), RangeError);
  assert.throws(() => window.refund(null), TypeError);
  assert.throws(() => window.reconfigure(), TypeError);
  window.close();
  window.close();
  for (const call of [() => window.check(), () => window.peek(), () => window.refund(), () => window.reconfigure(5), () => window.limit]) {
    assert.throws(call, (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_CLOSED');
  }
});
