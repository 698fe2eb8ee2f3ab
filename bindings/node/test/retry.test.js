'use strict';
// The client retry helper: every delay comes from fg_retry_delay and every
// Retry-After from fg_parse_retry_after; these pin what the Node side passes.
const test = require('node:test');
const assert = require('node:assert/strict');
const { FloodgateRangeError, Retry, RetryPolicy, parseRetryAfter } = require('..');

const MS = 1_000_000;
const SECOND = 1_000_000_000;
const U64_MAX = (1n << 64n) - 1n;
/** `Sun, 06 Nov 1994 08:49:27 GMT`, RFC 9110's example date less 10 s. */
const RFC_EXAMPLE_MINUS_10S = Date.UTC(1994, 10, 6, 8, 49, 27);

function schedule(policy) {
  return Array.from({ length: policy.maxRetries + 1 }, (_, retry) => policy.delay(retry));
}

test('GenieOS and license-API presets, unjittered: their exact schedules, then null', () => {
  const genieos = RetryPolicy.genieos();
  assert.deepEqual(
    { ...genieos },
    { initialNs: 250_000_000n, factor: 2, maxRetries: 5, maxDelayNs: 4_000_000_000n, jitter: 'equal', seed: null },
  );
  assert.deepEqual(schedule(genieos.withJitter('none')), [250 * MS, 500 * MS, SECOND, 2 * SECOND, 4 * SECOND, null]);
  const licenseApi = RetryPolicy.licenseApi();
  assert.deepEqual(
    [licenseApi.initialNs, licenseApi.factor, licenseApi.maxRetries, licenseApi.maxDelayNs, licenseApi.jitter],
    [1_000_000_000n, 2, 4, 8_000_000_000n, 'equal'],
  );
  assert.deepEqual(schedule(licenseApi.withJitter('none')), [SECOND, 2 * SECOND, 4 * SECOND, 8 * SECOND, null]);
  // More retries than the preset: the cap holds.
  assert.deepEqual(schedule(genieos.withJitter('none').withMaxRetries(7)).slice(4), [4 * SECOND, 4 * SECOND, 4 * SECOND, null]);
  assert.equal(genieos.withMaxRetries(0).delay(0), null);
});

test('a custom policy in ms or ns; ms and ns give the same policy', () => {
  const inMs = new RetryPolicy({ initialMs: 100, factor: 3, maxRetries: 4, maxDelayMs: 1_000, jitter: 'none' });
  const inNs = new RetryPolicy({ initialNs: 100 * MS, factor: 3n, maxRetries: 4, maxDelayNs: BigInt(SECOND), jitter: 'none' });
  assert.deepEqual({ ...inMs }, { ...inNs });
  assert.deepEqual(schedule(inMs), [100 * MS, 300 * MS, 900 * MS, SECOND, null]);
  assert.equal(new RetryPolicy({ initialNs: 1, factor: 1, maxRetries: 1, maxDelayNs: 1 }).jitter, 'equal');
});

test('Retry-After is honoured exactly, even above the cap, while retries remain', () => {
  const policy = RetryPolicy.genieos();
  assert.equal(policy.delay(0, 600 * MS), 600 * MS);
  assert.equal(policy.delay(4, 30n * BigInt(SECOND)), 30 * SECOND);
  assert.equal(policy.delay(0, 0), 0);
  assert.equal(policy.delay(0, U64_MAX - 1n), 2 ** 64, 'the nearest number: exact below 2^53');
  assert.equal(policy.delay(5, 600 * MS), null, 'no retries left: no wait either');
  assert.equal(policy.withJitter('none').delay(1, null), 500 * MS, 'null is no Retry-After');
});

test('seeded jitter: equal seeds give equal delays, within the jitter bounds', () => {
  const nominal = schedule(RetryPolicy.genieos().withJitter('none')).slice(0, -1);
  for (const jitter of ['equal', 'full']) {
    const seeded = RetryPolicy.genieos().withJitter(jitter).withSeed(42);
    const delays = schedule(seeded).slice(0, -1);
    assert.deepEqual(schedule(RetryPolicy.genieos().withJitter(jitter).withSeed(42n)).slice(0, -1), delays);
    assert.notDeepEqual(schedule(seeded.withSeed(43)).slice(0, -1), delays, 'another seed, other delays');
    const low = (n) => (jitter === 'equal' ? n / 2 : 0);
    delays.forEach((delay, retry) => {
      assert.ok(delay >= low(nominal[retry]) && delay <= nominal[retry], `${jitter} retry ${retry}: ${delay} ns`);
    });
  }
  assert.equal(RetryPolicy.genieos().withSeed(U64_MAX).seed, U64_MAX);
});

test('unseeded jitter stays within its bounds, one random seed per policy', () => {
  for (let draw = 0; draw < 50; draw += 1) {
    const policy = RetryPolicy.licenseApi();
    for (let retry = 0; retry < 4; retry += 1) {
      const nominal = SECOND * 2 ** retry;
      const delay = policy.delay(retry);
      assert.ok(delay >= nominal / 2 && delay <= nominal, `retry ${retry}: ${delay} ns`);
      assert.equal(policy.delay(retry), delay, 'the same policy repeats its delays');
    }
  }
});

test('a Retry counts granted retries and stops at maxRetries', () => {
  const retry = RetryPolicy.genieos().withJitter('none').start();
  assert.ok(retry instanceof Retry);
  assert.equal(retry.retries, 0);
  assert.equal(retry.nextDelay(600 * MS), 600 * MS);
  assert.equal(retry.nextDelay(), 500 * MS, 'the second retry backs off from its own nominal delay');
  assert.deepEqual([retry.nextDelay(), retry.nextDelay(undefined), retry.nextDelay(null)], [SECOND, 2 * SECOND, 4 * SECOND]);
  assert.equal(retry.retries, 5);
  assert.equal(retry.nextDelay(), null);
  assert.equal(retry.nextDelay(SECOND), null);
  assert.equal(retry.retries, 5, 'a refused retry is not counted');
  assert.equal(RetryPolicy.genieos().withJitter('none').start().nextDelay(), 250 * MS, 'each start() begins afresh');
});

test('parseRetryAfter: seconds, fractions and HTTP dates, as nanoseconds', () => {
  assert.equal(parseRetryAfter('120'), 120 * SECOND);
  assert.equal(parseRetryAfter('0.6'), 600 * MS);
  assert.equal(parseRetryAfter('0.0000000001'), 1, 'rounded up to the nanosecond');
  const date = 'Sun, 06 Nov 1994 08:49:37 GMT';
  assert.equal(parseRetryAfter(date, RFC_EXAMPLE_MINUS_10S), 10 * SECOND);
  assert.equal(parseRetryAfter(date, new Date(RFC_EXAMPLE_MINUS_10S + 500)), 9_500 * MS);
  assert.equal(parseRetryAfter(date), 0, 'a past date: no wait');
  assert.equal(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', RFC_EXAMPLE_MINUS_10S), 10 * SECOND);
  assert.equal(parseRetryAfter('Sun Nov  6 08:49:37 1994', RFC_EXAMPLE_MINUS_10S), 10 * SECOND);
  const retry = RetryPolicy.genieos().start();
  assert.equal(retry.nextDelay(parseRetryAfter('0.6')), 600 * MS);
});

test('bad policies throw: TypeError for types, RangeError for ranges, the library message for what it refuses', () => {
  const valid = { initialMs: 100, factor: 2, maxRetries: 3, maxDelayMs: 1_000 };
  const typeErrors = [
    undefined,
    null,
    5,
    [],
    { ...valid, initialMs: undefined },
    { ...valid, maxDelayMs: undefined },
    { ...valid, initialNs: 1 },
    { ...valid, maxDelayNs: 1 },
    { ...valid, initialMs: '100' },
    { ...valid, factor: '2' },
    { ...valid, factor: undefined },
    { ...valid, maxRetries: null },
    { ...valid, jitter: 1 },
    { ...valid, seed: '7' },
  ];
  for (const options of typeErrors) assert.throws(() => new RetryPolicy(options), TypeError, JSON.stringify(options));
  const rangeErrors = [
    { ...valid, initialMs: -1 },
    { ...valid, initialMs: 1.5 },
    { ...valid, maxDelayMs: 2n ** 63n },
    { ...valid, initialMs: undefined, initialNs: U64_MAX + 1n },
    { ...valid, factor: 2 ** 32 },
    { ...valid, factor: -1 },
    { ...valid, maxRetries: 0.5 },
    { ...valid, jitter: 'half' },
    { ...valid, seed: -1n },
  ];
  for (const options of rangeErrors) {
    assert.throws(() => new RetryPolicy(options), (error) => error instanceof RangeError && !(error instanceof FloodgateRangeError));
  }
  const refused = { name: 'FloodgateRangeError', code: 'ERR_FLOODGATE_INVALID_RETRY_POLICY', message: /factor >= 1 and initial delay <= max delay/ };
  assert.throws(() => new RetryPolicy({ ...valid, factor: 0 }), refused);
  assert.throws(() => new RetryPolicy({ ...valid, initialMs: 1_001 }), refused);
  assert.throws(() => RetryPolicy.genieos().withMaxRetries(-1), RangeError);
  assert.throws(() => RetryPolicy.genieos().withJitter('random'), RangeError);
  assert.throws(() => RetryPolicy.genieos().withSeed(), TypeError);
  assert.throws(() => RetryPolicy.genieos().withSeed(null), TypeError);
  assert.throws(() => new Retry({}), TypeError);
});

test('bad delay and parse arguments throw; the library refuses what is no Retry-After', () => {
  const policy = RetryPolicy.genieos();
  for (const retry of [-1, 1.5, 2 ** 32, NaN]) assert.throws(() => policy.delay(retry), RangeError, `retry ${retry}`);
  assert.throws(() => policy.delay(), TypeError);
  assert.throws(() => policy.delay('0'), TypeError);
  assert.throws(() => policy.delay(0, '600'), TypeError);
  assert.throws(() => policy.delay(0, -1), RangeError);
  assert.throws(() => policy.delay(0, U64_MAX), /retryAfterNs must be below 2\^64 - 1/, 'the ABI reads 2^64 - 1 as no Retry-After');
  const retry = policy.start();
  assert.throws(() => retry.nextDelay(1.5), RangeError);
  assert.equal(retry.retries, 0);

  const invalid = { name: 'FloodgateRangeError', code: 'ERR_FLOODGATE_INVALID_RETRY_AFTER' };
  for (const value of ['', 'soon', '-1', '1e3', '0x10', 'Sun, 32 Nov 1994 08:49:37 GMT']) {
    assert.throws(() => parseRetryAfter(value), invalid, JSON.stringify(value));
  }
  assert.throws(() => parseRetryAfter('18446744074'), { ...invalid, message: /2\^64 ns/ });
  assert.throws(() => parseRetryAfter(120), TypeError);
  assert.throws(() => parseRetryAfter(null), TypeError);
  assert.throws(() => parseRetryAfter('120', '2026-04-20'), TypeError);
  assert.throws(() => parseRetryAfter('120', 1n), TypeError);
  for (const now of [-1, 1.5, new Date(NaN), Infinity]) assert.throws(() => parseRetryAfter('120', now), RangeError, String(now));
});
