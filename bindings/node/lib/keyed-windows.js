'use strict';
// KeyedWindows: a sliding window per key (fg_keyed_window): at most `limit`
// requests per key in any window of `windowNs` (GenieOS: 600 per minute per
// workspace, for every workspace). Usable as a Policy layer.

const { ffi, sizes } = require('./native.js');
const { options, positiveU64, u64 } = require('./args.js');
const { TABLES, tableBytes } = require('./tables.js');
const { KeyedLimit, onFullCode } = require('./keyed-limit.js');
const { isShared, keyedSegment, removeKeyedSegments, sharedOption, sharedStruct } = require('./shared.js');
const { RedisWindows } = require('./redis.js');

const NS_PER_MINUTE = 60_000_000_000;

class KeyedWindows extends KeyedLimit {
  #windowNs;

  /**
   * `limit` requests per key per window of `windowNs`, for up to `capacity`
   * keys of each kind (default 65,536). `onFull`: what a new key that finds
   * no slot gets ('deny', 'admit' or 'overflow'). `shared`: a segment
   * name, `{ name }` or `{ path }` (see shared.js): the tables then live in
   * shared segments (byte keys in that one, number keys in `<name>.u64`),
   * and every process and thread that builds these windows with it (and
   * the same settings) counts each key in one window and sees setLimit()
   * and reset(). `store` (a Redis URL, or a Redis Cluster's node URLs)
   * builds a RedisWindows instead (see redis.js), whose calls answer with
   * Promises.
   */
  constructor(limit, windowNs, opts) {
    // `store`: the windows are kept in Redis, and their calls answer with Promises (see redis.js).
    if (opts?.store !== undefined) return new RedisWindows(limit, windowNs, opts);
    const units = u64(limit, 'limit');
    const length = u64(windowNs, 'windowNs');
    const { capacity = 65_536, onFull = 'deny', shared } = options(opts, 'options');
    const spec = sharedOption(shared, 'options.shared');
    const config = {
      struct_size: sizes.keyedWindowConfig,
      on_full: onFullCode(onFull),
      limit: units,
      window_ns: length,
      capacity: u64(capacity, 'capacity'),
    };
    super(
      'KeyedWindows',
      'keyedWindow',
      spec === null
        ? (kind, out) => ffi.keyedWindowNew({ ...config, key_kind: kind }, out)
        : (kind, out) => ffi.keyedWindowNewShared({ ...config, key_kind: kind }, sharedStruct(keyedSegment(spec, kind)), out),
      ffi.keyedWindowFree,
      tableBytes(config.capacity),
    );
    this.#windowNs = Number(length);
  }

  /** `limit` requests per key per minute. */
  static perMinute(limit, opts) {
    return new KeyedWindows(limit, NS_PER_MINUTE, opts);
  }

  /** Deletes the segments `shared` names (both key kinds'); processes using them keep their mapping. */
  static removeShared(shared) {
    removeKeyedSegments(sharedOption(shared, 'shared'));
  }

  /** Whether the tables live in shared segments. */
  get isShared() {
    return isShared(ffi.keyedWindowIsShared, this[TABLES].live());
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

  /**
   * Sets `key`'s counts to zero (lifting a block); it keeps its own limit.
   * A key with no window is left alone.
   */
  reset(key) {
    this[TABLES].call(
      key,
      (handle, bytes, length) => ffi.keyedWindowResetBytes(handle, bytes, length),
      (handle, id) => ffi.keyedWindowResetU64(handle, id),
    );
  }

  /** express-rate-limit's name for reset(key). */
  resetKey(key) {
    this.reset(key);
  }

  /** The window's length in nanoseconds. */
  get windowNs() {
    return this.#windowNs;
  }
}

module.exports = { KeyedWindows };
