'use strict';
// Quota: count per period with a burst, validated by the library itself (a
// throwaway fg_limiter_new) so the JS side never re-implements its rules.

const { ffi, layout, setStructSize } = require('./native.js');
const { describe, msAsNs, options, u64 } = require('./args.js');
const { statusError } = require('./errors.js');

const NS_PER_SECOND = 1_000_000_000n;
const PERIOD_NS = {
  second: NS_PER_SECOND,
  minute: 60n * NS_PER_SECOND,
  hour: 3_600n * NS_PER_SECOND,
  day: 86_400n * NS_PER_SECOND,
};

/** Writes `quota` into `bytes` as an fg_quota (struct_size set). */
function encodeQuota(quota, bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { quota: at, littleEndian } = layout;
  setStructSize(view, at);
  view.setBigUint64(at.count, quota.count, littleEndian);
  view.setBigUint64(at.periodNs, quota.periodNs, littleEndian);
  view.setBigUint64(at.burst, quota.burst, littleEndian);
  view.setBigUint64(at.lockoutNs, quota.lockoutNs, littleEndian);
  return bytes;
}

/** Reads an fg_quota the library filled. */
function decodeQuota(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { quota: at, littleEndian } = layout;
  return new Quota(
    view.getBigUint64(at.count, littleEndian),
    view.getBigUint64(at.periodNs, littleEndian),
    { burst: view.getBigUint64(at.burst, littleEndian), lockoutNs: view.getBigUint64(at.lockoutNs, littleEndian) },
  );
}

/** A zeroed fg_quota whose struct_size is set, for the library to fill. */
function quotaBuffer() {
  const bytes = new Uint8Array(layout.quota.size);
  setStructSize(new DataView(bytes.buffer), layout.quota);
  return bytes;
}

/** Throws the library's error if it would refuse `quota`. */
function validate(quota) {
  const out = [null];
  const status = ffi.limiterNew(encodeQuota(quota, new Uint8Array(layout.quota.size)), out);
  if (status !== 0) throw statusError(status);
  ffi.limiterFree(out[0]);
}

/**
 * `count` requests per `periodNs` nanoseconds, up to `burst` at once. With
 * `lockoutNs`, requests made while denied are charged too, pushing the wait
 * out by up to `lockoutNs` past an empty bucket (GenieOS: hammering during
 * the cooldown extends the lockout).
 */
class Quota {
  constructor(count, periodNs, opts) {
    const { burst, lockoutNs } = options(opts, 'options');
    this.count = BigInt(u64(count, 'count'));
    this.periodNs = BigInt(u64(periodNs, 'periodNs'));
    this.burst = burst === undefined ? this.count : BigInt(u64(burst, 'burst'));
    this.lockoutNs = lockoutNs === undefined ? 0n : BigInt(u64(lockoutNs, 'lockoutNs'));
    validate(this);
    Object.freeze(this);
  }

  static perSecond(count, opts) {
    return new Quota(count, PERIOD_NS.second, opts);
  }

  static perMinute(count, opts) {
    return new Quota(count, PERIOD_NS.minute, opts);
  }

  static perHour(count, opts) {
    return new Quota(count, PERIOD_NS.hour, opts);
  }

  static perDay(count, opts) {
    return new Quota(count, PERIOD_NS.day, opts);
  }

  /** `count` per `periodMs` milliseconds (an integer number of ms). */
  static perPeriodMs(count, periodMs, opts) {
    return new Quota(count, msAsNs(periodMs, 'periodMs'), opts);
  }

  withBurst(burst) {
    return new Quota(this.count, this.periodNs, { burst, lockoutNs: this.lockoutNs });
  }

  /** This quota with a lockout of `lockoutNs` (0 turns it off). */
  withLockout(lockoutNs) {
    return new Quota(this.count, this.periodNs, { burst: this.burst, lockoutNs });
  }

  /** The period in milliseconds (fractional below 1 ms). */
  get periodMs() {
    return Number(this.periodNs) / 1e6;
  }

  equals(other) {
    return (
      other instanceof Quota &&
      other.count === this.count &&
      other.periodNs === this.periodNs &&
      other.burst === this.burst &&
      other.lockoutNs === this.lockoutNs
    );
  }

  toJSON() {
    return {
      count: String(this.count),
      periodNs: String(this.periodNs),
      burst: String(this.burst),
      lockoutNs: String(this.lockoutNs),
    };
  }

  toString() {
    const lockout = this.lockoutNs === 0n ? '' : `, lockout ${this.lockoutNs} ns`;
    return `Quota(${this.count} per ${this.periodNs} ns, burst ${this.burst}${lockout})`;
  }
}

function ensureQuota(value, name) {
  if (!(value instanceof Quota)) throw new TypeError(`${name} must be a Quota, got ${describe(value)}`);
  return value;
}

module.exports = { Quota, decodeQuota, encodeQuota, ensureQuota, quotaBuffer };
