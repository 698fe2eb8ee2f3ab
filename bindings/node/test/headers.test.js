'use strict';
// Header and body rendering goes through the library (fg_headers_render,
// fg_error_body_render); these pin what the Node side passes and parses.
const test = require('node:test');
const assert = require('node:assert/strict');
const { ErrorBody, FloodgateError, FloodgateRangeError, HeaderRenderer, Limiter, Quota } = require('..');

const NOW_MS = Date.UTC(2026, 3, 20, 12, 33, 59, 500);

/** A GenieOS key (30/s, burst 60) denied at time 0. */
function genieosDenial() {
  const key = new Limiter(Quota.perSecond(30, { burst: 60 }));
  key.check(60, 0);
  return key.check(1, 0);
}

test('HeaderRenderer: X-RateLimit-* always, Retry-After when denied, draft fields on request', () => {
  const denied = genieosDenial();
  const headers = new HeaderRenderer();
  assert.deepEqual(headers.render(denied, { nowMs: NOW_MS }), {
    'Retry-After': '0.1',
    'X-RateLimit-Limit': '60',
    'X-RateLimit-Remaining': '0',
    'X-RateLimit-Reset': '2026-04-20T12:34:02Z',
    'X-RateLimit-Scope': 'key',
  });
  assert.equal(headers.render(denied, { nowMs: NOW_MS, scope: 'license-activation' })['X-RateLimit-Scope'], 'license-activation');
  assert.equal(headers.render({ ...denied, scope: 'workspace' })['X-RateLimit-Scope'], 'workspace', "a policy decision's own scope");
  assert.match(headers.render(denied)['X-RateLimit-Reset'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const admitted = new Limiter(Quota.perSecond(10)).check(1, 0);
  assert.equal(headers.render(admitted, { nowMs: NOW_MS })['Retry-After'], undefined);
  assert.equal(headers.render(admitted, { nowMs: NOW_MS })['X-RateLimit-Remaining'], '9');
  assert.equal(new HeaderRenderer({ retryAfterDecimals: 3 }).render(denied)['Retry-After'], '0.034');
  const draft = new HeaderRenderer({
    retryAfterDecimals: 0,
    legacyFields: false,
    policy: { name: 'default', quota: 30, windowNs: 1e9 },
  });
  assert.deepEqual(draft.render(denied, { nowMs: NOW_MS }), {
    'Retry-After': '1',
    'RateLimit-Policy': '"default";q=30;w=1',
    RateLimit: '"default";r=0;t=2',
  });
});

test('ErrorBody: GenieOS key and workspace bodies, custom GenieOS, Clarifai', () => {
  const denied = genieosDenial();
  assert.deepEqual(JSON.parse(ErrorBody.genieosKey().render(denied, { requestId: 'req_01JABC' })), {
    error: {
      type: 'rate_limit_exceeded',
      code: 'key_rate_limit',
      message: 'API key exceeded its rate limit. Retry after 0.1s.',
      retry_after_seconds: 0.1,
      request_id: 'req_01JABC',
    },
  });
  const workspace = JSON.parse(ErrorBody.genieosWorkspace().render(denied, { scope: 'workspace', requestId: 'r' }));
  assert.equal(workspace.error.code, 'workspace_rate_limit');
  const custom = JSON.parse(
    ErrorBody.genieos('ip_rate_limit', 'Slow down ({scope}, {remaining} of {limit}), retry in {retry_after}s', {
      type: 'throttled',
      retryAfterDecimals: 3,
    }).render(denied, { scope: 'ip', requestId: 'r1' }),
  );
  assert.deepEqual(custom.error, {
    type: 'throttled',
    code: 'ip_rate_limit',
    message: 'Slow down (ip, 0 of 60), retry in 0.034s',
    retry_after_seconds: 0.034,
    request_id: 'r1',
  });
  const clarifai = new Limiter(Quota.perSecond(15));
  clarifai.check(15, 0);
  const body = ErrorBody.clarifai('exceeded limit of {limit} requests per second', { numericCode: 11005 });
  assert.equal(
    body.render(clarifai.check(1, 0), { requestId: 'abc' }),
    '{"status":{"code":11005,"description":"Making too many requests","details":"exceeded limit of 15 requests per second","req_id":"abc"}}',
  );
  const cannotFit = JSON.parse(ErrorBody.genieosKey().render(clarifai.check(16, 0)));
  assert.equal(cannotFit.error.retry_after_seconds, null);
  assert.match(cannotFit.error.message, /never be admitted/);
  assert.equal(cannotFit.error.request_id, '', 'requestId defaults to empty');
  const quoted = JSON.parse(ErrorBody.genieosKey().render(denied, { requestId: 'a"b\\c\n' }));
  assert.equal(quoted.error.request_id, 'a"b\\c\n', 'the library escapes JSON');
});

test('renderers refuse bad configs and arguments; closed renderers throw', () => {
  const denied = genieosDenial();
  assert.throws(() => new HeaderRenderer({ retryAfterDecimals: 10 }), RangeError);
  assert.throws(() => new HeaderRenderer({ retryAfterDecimals: 1.5 }), TypeError);
  assert.throws(() => new HeaderRenderer({ legacyFields: 'no' }), TypeError);
  assert.throws(
    () => new HeaderRenderer({ policy: { name: 'bad\n', quota: 1, windowNs: 1 } }),
    (error) => error instanceof FloodgateRangeError && error.code === 'ERR_FLOODGATE_INVALID_POLICY_NAME',
  );
  assert.throws(() => new HeaderRenderer({ policy: { name: 'p', quota: -1, windowNs: 1 } }), RangeError);
  assert.throws(() => new HeaderRenderer({ policy: { quota: 1, windowNs: 1 } }), TypeError);
  assert.throws(() => new ErrorBody({ shape: 'nope' }), RangeError);
  assert.throws(() => new ErrorBody({ shape: 1 }), TypeError);
  assert.throws(() => ErrorBody.genieos('c', '{oops}'), (error) => error.code === 'ERR_FLOODGATE_INVALID_TEMPLATE');
  assert.throws(() => ErrorBody.genieos(undefined, 'm'), (error) => error.code === 'ERR_FLOODGATE_NULL_POINTER');
  assert.throws(() => ErrorBody.genieos('c', 5), TypeError);
  assert.throws(() => ErrorBody.clarifai('d', { numericCode: -1 }), RangeError);

  const headers = new HeaderRenderer();
  const body = ErrorBody.genieosKey();
  for (const bad of [null, 5, {}, { ...denied, outcome: 'maybe' }, { ...denied, admitted: 'no' }]) {
    assert.throws(() => headers.render(bad), TypeError);
    assert.throws(() => body.render(bad), TypeError);
  }
  assert.throws(() => headers.render({ ...denied, limit: -1 }), RangeError);
  assert.throws(() => headers.render(denied, { scope: '' }), RangeError);
  assert.throws(() => headers.render(denied, { scope: 1 }), TypeError);
  assert.throws(() => headers.render(denied, { nowMs: 'now' }), TypeError);
  assert.throws(() => headers.render(denied, { nowMs: -1 }), RangeError);
  assert.throws(() => body.render(denied, { requestId: 5 }), TypeError);
  headers.close();
  body.close();
  assert.throws(() => headers.render(denied), (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_CLOSED');
  assert.throws(() => body.render(denied), (error) => error instanceof FloodgateError && error.code === 'ERR_FLOODGATE_CLOSED');
});
