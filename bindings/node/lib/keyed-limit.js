'use strict';
// What the two keyed limits, KeyedLimiter (a GCRA bucket per key) and
// KeyedWindows (a sliding window per key), share: the onFull fallback for a
// new key that finds no slot, check/peek/refund of a key, and the table
// metrics. The library names both sets of functions alike
// (fg_keyed_limiter_check_bytes, fg_keyed_window_check_bytes, ...), so a
// subclass gives one prefix and this finds the rest.

const { nativeFunction } = require('./native.js');
const { cost, describe } = require('./args.js');
const { KeyTablesOwner, TABLES, keyedOperation } = require('./tables.js');

/** fg_keyed_config.on_full / fg_keyed_window_config.on_full by name. */
const ON_FULL = Object.freeze({ deny: 0, admit: 1, overflow: 2 });

function onFullCode(value) {
  if (typeof value !== 'string') throw new TypeError(`onFull must be a string, got ${describe(value)}`);
  const code = ON_FULL[value];
  if (code === undefined) throw new RangeError(`onFull must be 'deny', 'admit' or 'overflow', got '${value}'`);
  return code;
}

/** The native functions of a keyed limit, by prefix: looked up once per class, not per object. */
const nativeByPrefix = new Map();

function nativeFunctions(prefix) {
  let found = nativeByPrefix.get(prefix);
  if (found === undefined) {
    found = Object.freeze({
      check: keyedOperation(`${prefix}Check`),
      peek: keyedOperation(`${prefix}Peek`, { units: false }),
      refund: keyedOperation(`${prefix}Refund`),
      len: nativeFunction(`${prefix}Len`),
      capacity: nativeFunction(`${prefix}Capacity`),
      fullTableEvents: nativeFunction(`${prefix}FullTableEvents`),
    });
    nativeByPrefix.set(prefix, found);
  }
  return found;
}

class KeyedLimit extends KeyTablesOwner {
  #native;

  /** `prefix` names the native functions in native.js ('keyed', 'keyedWindow'); the rest as for KeyTablesOwner. */
  constructor(what, prefix, build, free, bytesOf) {
    super(what, build, free, bytesOf);
    this.#native = nativeFunctions(prefix);
  }

  /** Charges `amount` (default 1) to `key` now, or at `nowNs`. */
  check(key, amount = 1, nowNs) {
    return this[TABLES].decide(key, this.#native.check, cost(amount, 'cost'), nowNs);
  }

  /** `key`'s state as it stands, charging nothing and adding no key (an unseen key reads full). */
  peek(key, nowNs) {
    return this[TABLES].decide(key, this.#native.peek, 0, nowNs);
  }

  /** Gives back `amount` (default 1) charged to `key`, never above its limit. */
  refund(key, amount = 1, nowNs) {
    return this[TABLES].decide(key, this.#native.refund, cost(amount, 'amount'), nowNs);
  }

  /** Keys holding a slot, of both kinds (a full scan: for metrics). */
  get size() {
    return this[TABLES].sum(this.#native.len);
  }

  /** Keys each kind's table holds at once. */
  get capacity() {
    return this[TABLES].read(this.#native.capacity);
  }

  /** Checks of a new key that found no slot and fell back to onFull. */
  get fullTableEvents() {
    return this[TABLES].sum(this.#native.fullTableEvents);
  }
}

module.exports = { KeyedLimit, onFullCode };
