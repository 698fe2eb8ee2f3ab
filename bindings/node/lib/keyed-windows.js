'use strict';
// KeyedWindows: a sliding window per key (fg_keyed_window): at most `limit`
// requests per key in any window of `windowNs` (GenieOS: 600 per minute per
// workspace, for every workspace). Usable as a Policy layer.

const { ffi, sizes } = require('./native.js');
const { cost, options, positiveU64, u64 } = require('./args.js');
const { onFullCode } = require('./keyed.js');
const { KeyTablesOwner, TABLES, keyedOperation } = require('./tables.js');

const NS_PER_MINUTE = 60_000_000_000;
const CHECK = keyedOperation('keyedWindowCheck');
const PEEK = keyedOperation('keyedWindowPeek', { units: false });
const REFUND = keyedOperation('keyedWindowRefund');

class KeyedWindows extends KeyTablesOwner {
  #windowNs;

  /**
   * `limit` requests per key per window of `windowNs`, for up to `capacity`
   * keys of each kind (default 65,536). `onFull`: what a new key that finds
   * no slot gets ('deny', 'admit' or 'overflow').
   */
  constructor(limit, windowNs, opts) {
    const units = u64(limit, 'limit');
    const length = u64(windowNs, 'windowNs');
    const { capacity = 65_536, onFull = 'deny' } = options(opts, 'options');
    const config = {
      struct_size: sizes.keyedWindowConfig,
      on_full: onFullCode(onFull),
      limit: units,
      window_ns: length,
      capacity: u64(capacity, 'capacity'),
    };
    super('KeyedWindows', (kind, out) => ffi.keyedWindowNew({ ...config, key_kind: kind }, out), ffi.keyedWindowFree);
    this.#windowNs = Number(length);
  }

  /** `limit` requests per key per minute. */
  static perMinute(limit, opts) {
    return new KeyedWindows(limit, NS_PER_MINUTE, opts);
  }

  /** Charges `amount` (default 1) to `key`'s window now, or at `nowNs`. */
  check(key, amount = 1, nowNs) {
    return this[TABLES].decide(key, CHECK, cost(amount, 'cost'), nowNs);
  }

  /** `key`'s window as it stands, counting nothing and adding no key. */
  peek(key, nowNs) {
    return this[TABLES].decide(key, PEEK, 0, nowNs);
  }

  /** Gives back `amount` (default 1) counted for `key` in its current window. */
  refund(key, amount = 1, nowNs) {
    return this[TABLES].decide(key, REFUND, cost(amount, 'amount'), nowNs);
  }

  /** Gives `key` its own limit per window (a customer's plan), keeping its counts. */
  setLimit(key, limit) {
    // Checked here: the library adds the key before it refuses a 0 limit.
    const units = positiveU64(limit, 'limit');
    this[TABLES].call(
      key,
      (handle, bytes, length) => ffi.keyedWindowSetLimitBytes(handle, bytes, length, units),
      (handle, id) => ffi.keyedWindowSetLimitU64(handle, id, units),
    );
  }

  /** Keys holding a window, of both kinds. */
  get size() {
    return this[TABLES].sum(ffi.keyedWindowLen);
  }

  /** Keys each kind's table holds at once. */
  get capacity() {
    return this[TABLES].read(ffi.keyedWindowCapacity);
  }

  /** Checks of a new key that found no slot and fell back to onFull. */
  get fullTableEvents() {
    return this[TABLES].sum(ffi.keyedWindowFullTableEvents);
  }

  /** The window's length in nanoseconds. */
  get windowNs() {
    return this.#windowNs;
  }
}

module.exports = { KeyedWindows };
