'use strict';
// The JS view of the C ABI against include/floodgate.h, so a header change
// that this package has not followed fails here.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { STATUS, abiVersion } = require('..');

const header = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'include', 'floodgate.h'), 'utf8');

function enumValues(name, prefix) {
  // Up to the enum's own closing line: doc comments may hold braces.
  const body = header.match(new RegExp(`enum ${name}\\b[^{]*\\{([\\s\\S]*?)\\n\\};`))[1];
  return Object.fromEntries(
    [...body.matchAll(new RegExp(`${prefix}(\\w+) = (-?\\d+)`, 'g'))].map(([, key, value]) => [key, Number(value)]),
  );
}

test('STATUS matches enum fg_status', () => {
  assert.deepEqual({ ...STATUS }, enumValues('fg_status', 'FG_STATUS_'));
});

test('outcome strings follow enum fg_outcome', () => {
  const { OUTCOMES } = require('../lib/decision.js');
  const outcomes = enumValues('fg_outcome', 'FG_OUTCOME_');
  for (const [name, value] of Object.entries(outcomes)) assert.equal(OUTCOMES[value], name.toLowerCase());
  assert.equal(OUTCOMES.length, Object.keys(outcomes).length);
});

test('the loaded library speaks the header ABI major', () => {
  const declared = Number(header.match(/#define FG_ABI_VERSION (\d+)/)[1]);
  assert.equal(abiVersion.major, declared >>> 16);
  assert.ok(abiVersion.minor >= (declared & 0xffff));
});

test('struct layouts are the C ones on this platform', () => {
  const { layout } = require('../lib/native.js');
  assert.equal(layout.decision.size, 48);
  assert.deepEqual(
    [layout.decision.admitted, layout.decision.outcome, layout.decision.limit, layout.decision.scope],
    [0, 4, 8, 40],
  );
  assert.equal(layout.quota.size, 40, 'fg_quota of ABI 1.1, with lockout_ns');
  assert.equal(layout.verdict.size, 64);
  assert.equal(layout.verdict.layer, 48);
  assert.deepEqual([layout.acquisition.size, layout.acquisition.owner, layout.acquisition.ticket], [40, 8, 16]);
  assert.equal(layout.layerKey.size, 32);
  assert.equal(layout.sizes.layer, 72, 'fg_layer of ABI 1.2, with suspensions and keyed_window');
  assert.equal(layout.sizes.keyedWindowConfig, 40);
  assert.equal(layout.sizes.tier, 40);
  assert.equal(layout.sizes.plansConfig, 32);
  assert.equal(layout.retryConfig.size, 48, 'fg_retry_config of ABI 1.3');
  assert.equal(layout.sizes.sharedMemory, 48, 'fg_shared_memory of ABI 1.6');
  assert.deepEqual([layout.retryConfig.factor, layout.retryConfig.flags, layout.retryConfig.seed], [24, 36, 40]);
});

test('constants the package relies on match the header', () => {
  const { limits } = require('../lib/native.js');
  const define = (name) => header.match(new RegExp(`#define ${name} \\(?(\\d+)`))[1];
  assert.equal(limits.maxKeyLen, Number(define('FG_MAX_KEY_LEN')));
  assert.equal(limits.maxLayers, Number(define('FG_MAX_LAYERS')));
  assert.equal(limits.warningZonePercent, Number(define('FG_WARNING_ZONE_PERCENT')));
  const { SCOPES } = require('../lib/policy.js');
  for (const [name, code] of Object.entries(SCOPES)) assert.equal(code, Number(define(`FG_SCOPE_${name.toUpperCase()}`)));
  assert.equal(Number(define('FG_KEY_U64')), 1);
  assert.equal(Number(define('FG_KEY_BYTES')), 2);
  assert.equal(Number(define('FG_LAYER_KEY_ID')), 1, 'layer key kinds reuse the table kinds');
  assert.equal(Number(define('FG_LAYER_KEY_BYTES')), 2);
  const { jitters, retryConstants } = require('../lib/native.js');
  for (const [name, code] of Object.entries(jitters)) assert.equal(code, Number(define(`FG_JITTER_${name.toUpperCase()}`)));
  assert.equal(retryConstants.seeded, Number(define('FG_RETRY_SEEDED')));
  assert.equal(retryConstants.presetGenieos, Number(define('FG_RETRY_PRESET_GENIEOS')));
  assert.equal(retryConstants.presetLicenseApi, Number(define('FG_RETRY_PRESET_LICENSE_API')));
  assert.equal(retryConstants.noRetryAfter, BigInt(define('FG_NO_RETRY_AFTER')));
  const { ON_FAILURE } = require('../lib/redis.js');
  for (const [name, code] of Object.entries(ON_FAILURE)) assert.equal(code, Number(define(`FG_ON_FAILURE_${name.toUpperCase()}`)));
});
