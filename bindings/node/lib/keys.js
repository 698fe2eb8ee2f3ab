'use strict';
// Request keys as the library takes them: strings as their UTF-8 bytes and
// Buffers (any Uint8Array) as they are, through the byte-key functions;
// numbers and bigints through the uint64_t functions. Checked here, so a bad
// key throws before any call: RangeError when empty, oversized or a number
// that is not a safe integer; TypeError for a string that is not well-formed
// UTF-16 (a lone surrogate has no UTF-8 form, and encoding it as U+FFFD would
// merge distinct keys into one bucket).

const { limits, nativeScratch } = require('./native.js');
const { describe, u64 } = require('./args.js');

const { maxKeyLen } = limits;
/** FG_KEY_U64 / FG_KEY_BYTES: the key kinds of a native keyed table. */
const KIND = Object.freeze({ U64: 1, BYTES: 2 });

/** Where string keys are encoded for a keyed call: one buffer, reused. */
const scratch = nativeScratch(maxKeyLen);
// encodeInto measures ~10 ns under Buffer#utf8Write for short keys here.
const encoder = new TextEncoder();

function tooLong(length) {
  return new RangeError(`key must be at most ${maxKeyLen} bytes, got ${length}`);
}

/** Checks a string key: non-empty, well-formed, at most maxKeyLen UTF-8 bytes. */
function checkStringKey(key) {
  const units = key.length;
  if (units === 0) throw new RangeError('key must not be empty');
  // A UTF-16 unit is 1 to 3 UTF-8 bytes: only long strings need measuring.
  if (units > maxKeyLen) throw tooLong(`${units}+`);
  if (units * 3 > maxKeyLen) {
    const length = Buffer.byteLength(key, 'utf8');
    if (length > maxKeyLen) throw tooLong(length);
  }
  if (!key.isWellFormed()) throw new TypeError('key must be well-formed UTF-16: it has a lone surrogate, which has no UTF-8 form');
}

/** Writes string `key` as UTF-8 into `target` (a view of maxKeyLen bytes) and returns its length. */
function writeStringKey(key, target) {
  checkStringKey(key);
  return encoder.encodeInto(key, target).written;
}

/** Checks a Buffer/Uint8Array key's length. */
function checkBytesKey(key) {
  if (key.length === 0) throw new RangeError('key must not be empty');
  if (key.length > maxKeyLen) throw tooLong(key.length);
}

/**
 * A number or bigint key as a uint64_t argument. A number must be a safe
 * integer: above 2^53 neighbouring integers are one double, so two ids would
 * share a bucket; larger ids are bigints.
 */
function idKey(key) {
  if (typeof key === 'number' && Number.isInteger(key) && !Number.isSafeInteger(key)) {
    throw new RangeError(`a number key must be a safe integer (at most 2^53 - 1), got ${key}; pass larger ids as a bigint`);
  }
  if (typeof key !== 'number' && typeof key !== 'bigint') {
    throw new TypeError(`key must be a string, Buffer, number or bigint, got ${describe(key)}`);
  }
  return u64(key, 'key');
}

/** Checks any key as the keyed calls would, throwing the error they would throw. */
function checkKey(key) {
  if (typeof key === 'string') checkStringKey(key);
  else if (key instanceof Uint8Array) checkBytesKey(key);
  else idKey(key);
}

/** The native key kind of `key` (throws TypeError for any other type). */
function keyKind(key) {
  if (typeof key === 'string' || key instanceof Uint8Array) return KIND.BYTES;
  idKey(key);
  return KIND.U64;
}

module.exports = { KIND, checkBytesKey, checkKey, checkStringKey, idKey, keyKind, scratch, writeStringKey };
