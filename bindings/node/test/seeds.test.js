'use strict';
// Scenarios from the providers' rate-limit pages (shared/seeds), on the
// caller's own timeline (nowNs), so every number is exact.
const test = require('node:test');
const assert = require('node:assert/strict');
const { ErrorBody, HeaderRenderer, KeyedLimiter, Limiter, Plans, Policy, Quota, SlidingWindow } = require('..');

const SECOND = 1_000_000_000;
const MINUTE = 60 * SECOND;
const NOW_MS = Date.UTC(2026, 3, 20, 12, 33, 58);

/** GenieOS Hobby: 30 r/s burst 60 per key, 600/min per workspace window. */
function genieosHobby() {
  const perKey = new KeyedLimiter(Quota.perSecond(30, { burst: 60 }), { capacity: 1_024 });
  const workspaces = new Map();
  const policy = (workspace) => {
    let layers = workspaces.get(workspace);
    if (layers === undefined) {
      layers = new Policy([
        { limit: perKey, scope: 'key' },
        { limit: SlidingWindow.perMinute(600), scope: 'workspace' },
      ]);
      workspaces.set(workspace, layers);
    }
    return layers;
  };
  return { perKey, policy };
}

test('GenieOS Hobby key: 60 at once, the 61st denied with Retry-After ~0.033 s, scope key', () => {
  const { policy } = genieosHobby();
  const workspace = policy('ws_1');
  for (let i = 0; i < 60; i += 1) {
    const decision = workspace.check(['key_hobby', null], 1, 0);
    assert.equal(decision.admitted, true, `request ${i + 1}`);
  }
  const denied = workspace.check(['key_hobby', null], 1, 0);
  assert.equal(denied.outcome, 'denied');
  assert.equal(denied.scope, 'key');
  assert.equal(denied.retryAfterNs, 33_333_334, '1/30 s rounded up to the ns');
  assert.ok(Math.abs(denied.retryAfterMs - 33.3) < 0.1);
  const fields = new HeaderRenderer().render(denied, { nowMs: NOW_MS });
  assert.equal(fields['Retry-After'], '0.1');
  assert.equal(fields['X-RateLimit-Limit'], '60');
  assert.equal(fields['X-RateLimit-Remaining'], '0');
  assert.equal(fields['X-RateLimit-Scope'], 'key');
  assert.equal(
    new HeaderRenderer({ retryAfterDecimals: 3 }).render(denied)['Retry-After'],
    '0.034',
    'about 0.033 s, rounded up so a client never retries early',
  );
  assert.deepEqual(JSON.parse(ErrorBody.genieosKey().render(denied, { requestId: 'req_01JABC' })).error, {
    type: 'rate_limit_exceeded',
    code: 'key_rate_limit',
    message: 'API key exceeded its rate limit. Retry after 0.1s.',
    retry_after_seconds: 0.1,
    request_id: 'req_01JABC',
  });
  assert.equal(workspace.check(['key_hobby', null], 1, denied.retryAfterNs).admitted, true, 'admitted at retry-after');
  assert.equal(denied.inWarningZone(), true);
});

test('GenieOS: 25 Hobby keys share a 600/min workspace window; the 601st is denied with scope workspace', () => {
  const { policy } = genieosHobby();
  const workspace = policy('ws_shared');
  let admitted = 0;
  let denial = null;
  for (let key = 0; key < 25 && denial === null; key += 1) {
    for (let i = 0; i < 25; i += 1) {
      const decision = workspace.check([`key_${key}`, null], 1, key * 1_000_000);
      if (!decision.admitted) {
        denial = decision;
        break;
      }
      admitted += 1;
    }
  }
  assert.equal(admitted, 600, '24 keys x 25 requests, each key under its own 60');
  assert.equal(denial.outcome, 'denied');
  assert.equal(denial.scope, 'workspace');
  assert.equal(denial.limit, 600);
  assert.ok(denial.retryAfterNs > 0);
  assert.equal(JSON.parse(ErrorBody.genieosWorkspace().render(denial)).error.code, 'workspace_rate_limit');
  assert.equal(policy('ws_other').check(['key_0', null], 1, 0).admitted, true, 'another workspace has its own window');
  const counters = workspace.counters();
  assert.equal(counters.layers[1].denied, 1);
  assert.equal(counters.layers[0].denied, 0);
});

test('Clarifai: 15 requests per second for every user, custom limits per customer', () => {
  const users = new KeyedLimiter(Quota.perSecond(15), { capacity: 1_024 });
  users.setQuota('customer-contract', Quota.perSecond(40), 0);
  let admitted = 0;
  for (let i = 0; i < 20; i += 1) admitted += users.check('user-1', 1, 0).admitted ? 1 : 0;
  assert.equal(admitted, 15);
  for (let ms = 1; ms <= 10_000; ms += 1) admitted += users.check('user-1', 1, ms * 1_000_000).admitted ? 1 : 0;
  assert.equal(admitted, 165, 'exactly 15 per second over 10 more seconds');
  let custom = 0;
  for (let i = 0; i < 50; i += 1) custom += users.check('customer-contract', 1, 0).admitted ? 1 : 0;
  assert.equal(custom, 40);
  const body = ErrorBody.clarifai('exceeded limit of {limit} requests per second', { numericCode: 11005 });
  const status = JSON.parse(body.render(users.check('user-1', 1, 10 * SECOND), { requestId: 'r' })).status;
  assert.equal(status.code, 11005);
  assert.equal(status.details, 'exceeded limit of 15 requests per second');
});

test('License API: per-IP and per-token layers, a stricter layer on validation and activation', () => {
  const perIp = new KeyedLimiter(Quota.perMinute(120, { burst: 20 }), { capacity: 1_024 });
  const perToken = new KeyedLimiter(Quota.perMinute(60, { burst: 10 }), { capacity: 1_024 });
  const critical = new KeyedLimiter(Quota.perMinute(6, { burst: 3 }), { capacity: 1_024 });
  const general = new Policy([
    { limit: perIp, scope: 'ip' },
    { limit: perToken, scope: 'token' },
  ]);
  const activation = new Policy([
    { limit: perIp, scope: 'ip' },
    { limit: perToken, scope: 'token' },
    { limit: critical, scope: 'license-activation' },
  ]);
  const ip = Buffer.from([203, 0, 113, 7]);
  for (let i = 0; i < 3; i += 1) assert.equal(activation.check([ip, 'tok_a', 'tok_a'], 1, 0).admitted, true);
  const strict = activation.check([ip, 'tok_a', 'tok_a'], 1, 0);
  assert.equal(strict.outcome, 'denied');
  assert.equal(strict.scope, 'license-activation');
  assert.equal(strict.retryAfterNs, 10 * SECOND, 'one activation per 10 s');
  assert.equal(perToken.peek('tok_a', 0).remaining, 7, 'the refused activation charged no layer');
  for (let i = 0; i < 7; i += 1) assert.equal(general.check([ip, 'tok_a'], 1, 0).admitted, true);
  const token = general.check([ip, 'tok_a'], 1, 0);
  assert.equal(token.scope, 'token');
  assert.equal(token.retryAfterNs, SECOND);
  for (let i = 0; i < 10; i += 1) general.check([ip, `tok_${i}`], 1, 0);
  const byIp = general.check([ip, 'tok_fresh'], 1, 0);
  assert.equal(byIp.outcome, 'denied');
  assert.equal(byIp.scope, 'ip', 'twenty from one address, whatever the tokens');
  assert.equal(new HeaderRenderer().render(strict)['X-RateLimit-Scope'], 'license-activation');
});

test('Genera: delay instead of reject, then suspension', () => {
  const customer = new Limiter(Quota.perSecond(10));
  customer.check(10, 0);
  const delayed = customer.reserve(1, SECOND, 0);
  assert.equal(delayed.admitted, true);
  assert.equal(delayed.delayMs, 100);
  customer.suspendUntil(MINUTE);
  assert.equal(customer.check(1, SECOND).outcome, 'suspended');
});

test('GenieOS plans (fg_plans): Hobby key 60 then scope key; 25 keys fill the workspace; Sandbox unlimited', () => {
  const plans = Plans.genieos({ keyCapacity: 1_024, workspaceCapacity: 64 });
  for (let i = 0; i < 60; i += 1) assert.equal(plans.check('hobby', 'gos_live_a', 'ws_1', 1, 0).admitted, true, `request ${i + 1}`);
  const byKey = plans.check('hobby', 'gos_live_a', 'ws_1', 1, 0);
  assert.equal(byKey.outcome, 'denied');
  assert.equal(byKey.scope, 'key');
  assert.equal(byKey.limit, 60);
  assert.equal(byKey.retryAfterNs, 33_333_334, '1/30 s rounded up to the ns');

  const keys = Array.from({ length: 25 }, (_, i) => `gos_live_${i}`);
  for (const key of keys) {
    for (let i = 0; i < 24; i += 1) assert.equal(plans.check('hobby', key, 'ws_2', 1, 0).admitted, true);
  }
  // 600 admitted in ws_2; every key still has 36 of its 60.
  const byWorkspace = plans.check('hobby', keys[0], 'ws_2', 1, 0);
  assert.equal(byWorkspace.outcome, 'denied');
  assert.equal(byWorkspace.scope, 'workspace');
  assert.equal(byWorkspace.limit, 600);
  const body = JSON.parse(ErrorBody.genieosWorkspace().render(byWorkspace, { scope: byWorkspace.scope, requestId: 'r' }));
  assert.equal(body.error.code, 'workspace_rate_limit');
  assert.deepEqual(plans.counters('hobby'), { admitted: 60 + 600, denied: 2, suspended: 0 }, 'the denials charged nothing');
  assert.equal(plans.check('hobby', keys[0], 'ws_3', 1, 0).remaining, 35, 'another workspace passes; the key kept 36');

  for (let i = 0; i < 10_000; i += 1) assert.equal(plans.check('sandbox', 'gos_test_1', 'ws_1', 1, 0).admitted, true);
  assert.equal(plans.check('sandbox', 'gos_test_1', 'ws_1', 1, 0).limit, Infinity);
  for (const [tier, burst] of [['pro', 120], ['scale', 240]]) {
    assert.equal(plans.check(tier, 'k', `ws_${tier}`, 1, 0).limit, burst, tier);
  }
  plans.close();
});
