'use strict';
// Argument checks: every public function validates here before calling the
// library, so a bad argument throws TypeError/RangeError and changes nothing.

const U64_MAX = (1n << 64n) - 1n;
const TWO_POW_64 = 2 ** 64;
const U32_MAX = 2 ** 32 - 1;
const NS_PER_MS = 1_000_000n;

function describe(value) {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value === 'bigint' ? `${value}n` : `${typeof value} ${String(value)}`;
}

/**
 * `value` as a uint64_t argument: a number (when exactly representable) or a
 * bigint. Accepts integers in [0, 2^64 - 1] given as number or bigint.
 */
function u64(value, name) {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      throw new RangeError(`${name} must be an integer, got ${value}`);
    }
    if (value < 0 || value >= TWO_POW_64) {
      throw new RangeError(`${name} must be between 0 and 2^64 - 1, got ${value}`);
    }
    return Number.isSafeInteger(value) ? value : BigInt(value);
  }
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) {
      throw new RangeError(`${name} must be between 0 and 2^64 - 1, got ${value}n`);
    }
    return value;
  }
  throw new TypeError(`${name} must be a number or bigint, got ${describe(value)}`);
}

/** A uint32_t argument: an integer number or bigint in [0, 2^32 - 1], as a number. */
function u32(value, name) {
  const checked = u64(value, name);
  if (checked > U32_MAX) throw new RangeError(`${name} must be between 0 and 2^32 - 1, got ${value}`);
  return Number(checked);
}

/**
 * Whole milliseconds `value` (a u64) as bigint nanoseconds, refusing a
 * product above 2^64 - 1 (a typed-array write would silently wrap it).
 */
function msAsNs(value, name) {
  const ns = BigInt(u64(value, name)) * NS_PER_MS;
  if (ns > U64_MAX) throw new RangeError(`${name} must be at most ${U64_MAX / NS_PER_MS} ms, got ${value}`);
  return ns;
}

/** `u64` that must also be at least 1. */
function positiveU64(value, name) {
  const checked = u64(value, name);
  if (checked == 0) throw new RangeError(`${name} must be at least 1, got 0`);
  return checked;
}

/**
 * A cost as the library takes it. Small non-negative integers, the common
 * case, skip the full check.
 */
function cost(value, name) {
  return typeof value === 'number' && value >>> 0 === value ? value : u64(value, name);
}

/** An options object, or undefined for none. */
function options(value, name) {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  }
  return value;
}

function ensureFunction(value, name) {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${describe(value)}`);
  return value;
}

module.exports = { U64_MAX, cost, describe, ensureFunction, msAsNs, options, positiveU64, u32, u64 };
