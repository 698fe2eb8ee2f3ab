'use strict';
// Scenarios from the providers' rate-limit pages (shared/seeds).
const test = require('node:test');
const assert = require('node:assert/strict');
const { Limiter, Quota, errorBody, rateLimitHeaders } = require('..');

const SECOND = 1_000_000_000;

test('GenieOS Hobby key: 60 at once, the 61st waits one interval (1/30 s)', () => {
  const key = new Limiter(Quota.perSecond(30, { burst: 60 }));
  for (let i = 0; i < 60; i += 1) {
    const decision = key.check(1, 0);
    assert.equal(decision.admitted, true, `request ${i + 1}`);
    assert.equal(decision.remaining, 59 - i);
  }
  const denied = key.check(1, 0);
  assert.equal(denied.outcome, 'denied');
  assert.equal(denied.retryAfterNs, 33_333_334, '1/30 s rounded up to the ns');
  assert.ok(Math.abs(denied.retryAfterMs / 1000 - 0.0333) < 0.0001);
  const fields = rateLimitHeaders(denied, { nowMs: Date.UTC(2026, 3, 20, 12, 33, 58) });
  assert.equal(fields['Retry-After'], '0.1');
  assert.equal(fields['X-RateLimit-Limit'], '60');
  assert.equal(fields['X-RateLimit-Remaining'], '0');
  assert.equal(fields['X-RateLimit-Reset'], '2026-04-20T12:34:00Z');
  assert.equal(fields['X-RateLimit-Scope'], 'key');
  const body = JSON.parse(errorBody(denied, { requestId: 'req_01JABC' }));
  assert.deepEqual(body, {
    error: {
      type: 'rate_limit_exceeded',
      code: 'key_rate_limit',
      message: 'API key exceeded its rate limit. Retry after 0.1s.',
      retry_after_seconds: 0.1,
      request_id: 'req_01JABC',
    },
  });
  assert.equal(key.check(1, denied.retryAfterNs).admitted, true, 'admitted exactly at retry-after');
  assert.equal(key.check(1, denied.retryAfterNs).admitted, false);
  // A steady 30/s is sustained forever once the burst is spent.
  for (let i = 2; i < 302; i += 1) {
    assert.equal(key.check(1, Math.ceil((i * SECOND) / 30)).admitted, true, `steady request ${i}`);
  }
});

test('Clarifai: 15 requests per second, exact', () => {
  const user = new Limiter(Quota.perSecond(15));
  let admitted = 0;
  for (let i = 0; i < 20; i += 1) admitted += user.check(1, 0).admitted ? 1 : 0;
  assert.equal(admitted, 15);
  // Over the next 10 s, probing every ms admits exactly 150 more.
  for (let ms = 1; ms <= 10_000; ms += 1) admitted += user.check(1, ms * 1_000_000).admitted ? 1 : 0;
  assert.equal(admitted, 165);
  const body = JSON.parse(
    errorBody(user.check(1, 10_000_000_000), {
      type: 'CONN_THROTTLED',
      code: '11005',
      message: 'exceeded limit of {limit} requests per second',
    }),
  );
  assert.equal(body.error.message, 'exceeded limit of 15 requests per second');
});
