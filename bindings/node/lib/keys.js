'use strict';
// Request keys as the library takes them: strings as their UTF-8 bytes and
// Buffers (any Uint8Array) as they are, through the byte-key functions;
// numbers and bigints through the uint64_t functions. Checked here, so an
// empty or oversized key throws RangeError before any call.

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

/**
 * Writes string `key` as UTF-8 into `target` (a view of maxKeyLen bytes)
 * and returns its length. Lone surrogates encode as U+FFFD.
 */
function writeStringKey(key, target) {
  const units = key.length;
  if (units === 0) throw new RangeError('key must not be empty');
  // A UTF-16 unit is 1 to 3 UTF-8 bytes: only long strings need measuring.
  if (units > maxKeyLen) throw tooLong(`${units}+`);
  if (units * 3 > maxKeyLen) {
    const length = Buffer.byteLength(key, 'utf8');
    if (length > maxKeyLen) throw tooLong(length);
  }
  return encoder.encodeInto(key, target).written;
}

/** Checks a Buffer/Uint8Array key's length. */
function checkBytesKey(key) {
  if (key.length === 0) throw new RangeError('key must not be empty');
  if (key.length > maxKeyLen) throw tooLong(key.length);
}

/** A number or bigint key as a uint64_t argument. */
function idKey(key) {
  if (typeof key !== 'number' && typeof key !== 'bigint') {
    throw new TypeError(`key must be a string, Buffer, number or bigint, got ${describe(key)}`);
  }
  return u64(key, 'key');
}

/** The native key kind of `key` (throws TypeError for any other type). */
function keyKind(key) {
  if (typeof key === 'string' || key instanceof Uint8Array) return KIND.BYTES;
  idKey(key);
  return KIND.U64;
}

module.exports = { KIND, checkBytesKey, idKey, keyKind, scratch, writeStringKey };
