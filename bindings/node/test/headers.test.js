'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { errorBody, rateLimitHeaders, resetTimestamp, retryAfterSeconds } = require('..');

test('retryAfterSeconds rounds up at every precision and never says 0', () => {
  assert.equal(retryAfterSeconds(1), '0.1');
  assert.equal(retryAfterSeconds(1, 0), '1');
  assert.equal(retryAfterSeconds(1n, 9), '0.000000001');
  assert.equal(retryAfterSeconds(533_000_000), '0.6');
  assert.equal(retryAfterSeconds(533_000_000, 3), '0.533');
  assert.equal(retryAfterSeconds(33_333_334, 3), '0.034');
  assert.equal(retryAfterSeconds(2_000_000_000), '2');
  assert.equal(retryAfterSeconds(1_250_000_000, 2), '1.25');
  assert.equal(retryAfterSeconds(1_001_000_000, 0), '2');
  assert.equal(retryAfterSeconds(0), '0');
  assert.equal(retryAfterSeconds((1n << 64n) - 1n, 0), '18446744074');
  for (const decimals of [-1, 10, 1.5, '1']) assert.throws(() => retryAfterSeconds(1, decimals), RangeError);
});

test('resetTimestamp is ISO-8601 UTC rounded up to the second', () => {
  const at = Date.UTC(2026, 3, 20, 12, 33, 59, 500);
  assert.equal(resetTimestamp(0, at), '2026-04-20T12:34:00Z');
  assert.equal(resetTimestamp(500_000_000, at), '2026-04-20T12:34:00Z');
  assert.equal(resetTimestamp(500_000_001n, at), '2026-04-20T12:34:01Z');
  assert.equal(resetTimestamp(0, Date.UTC(2026, 3, 20, 12, 34)), '2026-04-20T12:34:00Z');
  assert.match(resetTimestamp(0), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

const denied = {
  admitted: false,
  outcome: 'denied',
  limit: 30,
  remaining: 0,
  resetAfterNs: 1_000_000_000,
  resetAfterMs: 1000,
  retryAfterNs: 533_000_000,
  retryAfterMs: 533,
  scope: 0,
};

test('rateLimitHeaders: X-RateLimit-* always, Retry-After only when denied', () => {
  const nowMs = Date.UTC(2026, 3, 20, 12, 33, 59);
  assert.deepEqual(rateLimitHeaders(denied, { nowMs }), {
    'X-RateLimit-Limit': '30',
    'X-RateLimit-Remaining': '0',
    'X-RateLimit-Reset': '2026-04-20T12:34:00Z',
    'X-RateLimit-Scope': 'key',
    'Retry-After': '0.6',
  });
  const admitted = { ...denied, admitted: true, outcome: 'admitted', remaining: 24, retryAfterNs: 0, retryAfterMs: 0 };
  const fields = rateLimitHeaders(admitted, { nowMs, scope: 'workspace' });
  assert.equal(fields['Retry-After'], undefined);
  assert.equal(fields['X-RateLimit-Remaining'], '24');
  assert.equal(fields['X-RateLimit-Scope'], 'workspace');
  assert.equal(rateLimitHeaders(denied, { nowMs, retryAfterDecimals: 0 })['Retry-After'], '1');
});

test('errorBody: the GenieOS body, templated; null retry when the cost cannot fit', () => {
  assert.deepEqual(JSON.parse(errorBody(denied, { requestId: 'req_1' })), {
    error: {
      type: 'rate_limit_exceeded',
      code: 'key_rate_limit',
      message: 'API key exceeded its rate limit. Retry after 0.6s.',
      retry_after_seconds: 0.6,
      request_id: 'req_1',
    },
  });
  const custom = JSON.parse(
    errorBody(denied, {
      type: 't',
      code: 'workspace_rate_limit',
      scope: 'workspace',
      message: '{scope} over {limit} ({remaining} left), wait {retryAfter}s {unknown}',
      retryAfterDecimals: 3,
    }),
  );
  assert.equal(custom.error.message, 'workspace over 30 (0 left), wait 0.533s {unknown}');
  assert.equal(custom.error.retry_after_seconds, 0.533);
  assert.equal(custom.error.code, 'workspace_rate_limit');
  const cannotFit = JSON.parse(errorBody({ ...denied, outcome: 'cannot_fit', retryAfterNs: 0 }));
  assert.equal(cannotFit.error.retry_after_seconds, null);
  assert.match(cannotFit.error.message, /never be admitted/);
  const suspended = JSON.parse(errorBody({ ...denied, outcome: 'suspended', retryAfterNs: 0 }));
  assert.equal(suspended.error.retry_after_seconds, null);
  assert.match(suspended.error.message, /suspended/);
});
