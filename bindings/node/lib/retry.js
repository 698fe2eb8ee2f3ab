'use strict';
// The client side of a 429: how long to wait before retrying. The library
// computes every delay (fg_retry_delay: the server's Retry-After exactly,
// else jittered exponential backoff) from an fg_retry_config each policy
// encodes once, and reads Retry-After values (fg_parse_retry_after). The
// ABI keeps no retry state, so there is no handle to free.

const { randomBytes } = require('node:crypto');
const { ffi, jitters, layout, retryConstants, setStructSize } = require('./native.js');
const { U64_MAX, describe, msAsNs, options, u32, u64 } = require('./args.js');
const { statusError } = require('./errors.js');
const { readU64Out, u64Out } = require('./decision.js');

const JITTER_NAMES = Object.fromEntries(Object.entries(jitters).map(([name, code]) => [code, name]));
const JITTER_CHOICES = "'none', 'equal' or 'full'";
/** fg_retry_delay's out_retry: whether the policy allows the retry at all. */
const retryAllowed = new Uint8Array(1);

function jitterCode(value) {
  if (typeof value !== 'string') throw new TypeError(`jitter must be ${JITTER_CHOICES}, got ${describe(value)}`);
  if (!Object.hasOwn(jitters, value)) throw new RangeError(`jitter must be ${JITTER_CHOICES}, got '${value}'`);
  return jitters[value];
}

/** Option `<name>Ns` or `<name>Ms` (exactly one of them) as bigint nanoseconds. */
function durationOption(opts, name) {
  const ns = opts[`${name}Ns`];
  const ms = opts[`${name}Ms`];
  if (ns !== undefined && ms !== undefined) throw new TypeError(`give ${name}Ns or ${name}Ms, not both`);
  if (ms !== undefined) return msAsNs(ms, `${name}Ms`);
  if (ns === undefined) throw new TypeError(`${name}Ns or ${name}Ms is required`);
  return BigInt(u64(ns, `${name}Ns`));
}

/** A Retry-After wait in ns as fg_retry_delay takes it; none (undefined or null) is FG_NO_RETRY_AFTER. */
function retryAfterArgument(value) {
  if (value === undefined || value === null) return retryConstants.noRetryAfter;
  const ns = u64(value, 'retryAfterNs');
  // 2^64 - 1 is the ABI's "no Retry-After": passing it would silently mean backoff.
  if (ns === U64_MAX) throw new RangeError(`retryAfterNs must be below 2^64 - 1, got ${value}n`);
  return ns;
}

/** An fg_retry_config with only its struct_size set, and a view to fill or read it. */
function blankConfig() {
  const bytes = new Uint8Array(layout.retryConfig.size);
  const view = new DataView(bytes.buffer);
  setStructSize(view, layout.retryConfig);
  return { bytes, view };
}

function encodeConfig(policy, seed) {
  const at = layout.retryConfig;
  const { bytes, view } = blankConfig();
  view.setBigUint64(at.initialNs, policy.initialNs, layout.littleEndian);
  view.setBigUint64(at.maxDelayNs, policy.maxDelayNs, layout.littleEndian);
  view.setUint32(at.factor, policy.factor, layout.littleEndian);
  view.setUint32(at.maxRetries, policy.maxRetries, layout.littleEndian);
  view.setUint32(at.jitter, jitterCode(policy.jitter), layout.littleEndian);
  view.setUint32(at.flags, retryConstants.seeded, layout.littleEndian);
  view.setBigUint64(at.seed, seed, layout.littleEndian);
  return bytes;
}

/** The options of a built-in policy (FG_RETRY_PRESET_*), as the library fills them. */
function presetOptions(preset) {
  const at = layout.retryConfig;
  const { bytes, view } = blankConfig();
  const status = ffi.retryConfigPreset(preset, bytes);
  if (status !== 0) throw statusError(status);
  return {
    initialNs: view.getBigUint64(at.initialNs, layout.littleEndian),
    maxDelayNs: view.getBigUint64(at.maxDelayNs, layout.littleEndian),
    factor: view.getUint32(at.factor, layout.littleEndian),
    maxRetries: view.getUint32(at.maxRetries, layout.littleEndian),
    jitter: JITTER_NAMES[view.getUint32(at.jitter, layout.littleEndian)],
  };
}

/**
 * When and how often a client retries: after `initialNs`, then each delay
 * times `factor`, each capped at `maxDelayNs`, at most `maxRetries` times,
 * jittered ('none'; 'equal': between half and all of it; 'full': between 0
 * and all). A server's Retry-After is waited exactly instead. With `seed`,
 * equal seeds give equal delays (tests, replays); without, each policy draws
 * a random seed once, which spreads clients apart (as the Rust and Python
 * policies do).
 */
class RetryPolicy {
  /** The encoded fg_retry_config every delay() passes to the library. */
  #config;

  constructor(opts) {
    const o = options(opts, 'options');
    this.initialNs = durationOption(o, 'initial');
    this.factor = u32(o.factor, 'factor');
    this.maxRetries = u32(o.maxRetries, 'maxRetries');
    this.maxDelayNs = durationOption(o, 'maxDelay');
    this.jitter = o.jitter ?? 'equal';
    this.seed = o.seed === undefined || o.seed === null ? null : BigInt(u64(o.seed, 'seed'));
    this.#config = encodeConfig(this, this.seed ?? randomBytes(8).readBigUInt64LE());
    // The ABI has no constructor to refuse a policy (factor 0, initial above
    // the cap): fg_retry_delay checks the whole config on every call, so one
    // call now makes a bad policy throw here rather than at its first retry.
    this.#delay(0, retryConstants.noRetryAfter);
    Object.freeze(this);
  }

  /** The GenieOS SDKs' policy: 250 ms, 500 ms, 1 s, 2 s, 4 s; equal jitter. */
  static genieos() {
    return new RetryPolicy(presetOptions(retryConstants.presetGenieos));
  }

  /** The license API's advice: 1 s, 2 s, 4 s, 8 s; equal jitter. */
  static licenseApi() {
    return new RetryPolicy(presetOptions(retryConstants.presetLicenseApi));
  }

  /** The same policy with `maxRetries` retries. */
  withMaxRetries(maxRetries) {
    return new RetryPolicy({ ...this, maxRetries });
  }

  /** The same policy with another jitter. */
  withJitter(jitter) {
    return new RetryPolicy({ ...this, jitter });
  }

  /** The same policy drawing its jitter from `seed`. */
  withSeed(seed) {
    return new RetryPolicy({ ...this, seed: u64(seed, 'seed') });
  }

  /**
   * The wait in nanoseconds before retry number `retry` (0 is the first):
   * exactly `retryAfterNs` when the server sent one, else the jittered
   * backoff; null once the retries are used up.
   */
  delay(retry, retryAfterNs) {
    return this.#delay(u32(retry, 'retry'), retryAfterArgument(retryAfterNs));
  }

  #delay(retry, retryAfterNs) {
    const status = ffi.retryDelay(this.#config, retry, retryAfterNs, retryAllowed, u64Out);
    if (status !== 0) throw statusError(status);
    return retryAllowed[0] === 0 ? null : readU64Out();
  }

  /** A retry sequence following this policy, for one request. */
  start() {
    return new Retry(this);
  }
}

/**
 * One request's retries under a RetryPolicy: after each rejection, ask
 * nextDelay(), passing the server's Retry-After (ns) if it sent one.
 */
class Retry {
  #policy;
  #retries = 0;

  constructor(policy) {
    if (!(policy instanceof RetryPolicy)) throw new TypeError(`policy must be a RetryPolicy, got ${describe(policy)}`);
    this.#policy = policy;
  }

  /** The wait in nanoseconds before the next retry, or null when the policy says stop. */
  nextDelay(retryAfterNs) {
    const wait = this.#policy.delay(this.#retries, retryAfterNs);
    if (wait !== null) this.#retries += 1;
    return wait;
  }

  /** Retries granted so far. */
  get retries() {
    return this.#retries;
  }
}

/**
 * A Retry-After value as a wait in nanoseconds: whole (`120`) or fractional
 * (`0.6`, rounded up to the nanosecond) seconds, or an HTTP date counted
 * from `now` (a Date or Unix milliseconds; default the current time; 0 once
 * past). Anything else throws FloodgateRangeError
 * (ERR_FLOODGATE_INVALID_RETRY_AFTER).
 */
function parseRetryAfter(value, now = Date.now()) {
  if (typeof value !== 'string') throw new TypeError(`value must be a string, got ${describe(value)}`);
  if (!(now instanceof Date) && typeof now !== 'number') {
    throw new TypeError(`now must be a Date or Unix milliseconds, got ${describe(now)}`);
  }
  const nowNs = msAsNs(now instanceof Date ? now.getTime() : now, 'now');
  const bytes = Buffer.from(value, 'utf8');
  const status = ffi.parseRetryAfter(bytes, bytes.length, nowNs, u64Out);
  if (status !== 0) throw statusError(status);
  return readU64Out();
}

module.exports = { Retry, RetryPolicy, parseRetryAfter };
