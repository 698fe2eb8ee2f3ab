'use strict';
// KeyedLimiter: one GCRA bucket per key in the library's lock-free keyed
// table (fg_keyed_limiter). A native table holds one key kind, so this keeps
// two (KeyTables): byte keys (strings as UTF-8, Buffers) in a table built
// with the object, and number/bigint keys in one built at the first such key.

const { ffi, hot, layout, sizes } = require('./native.js');
const { cost, options, u64 } = require('./args.js');
const { statusError } = require('./errors.js');
const { decisionAddress, decisionBuffer, readDecision, readU64Out, u64Out } = require('./decision.js');
const { decodeQuota, encodeQuota, ensureQuota, quotaBuffer } = require('./quota.js');
const { KIND, checkStringKey, idKey, scratch, writeStringKey } = require('./keys.js');
const { TABLES, tableBytes } = require('./tables.js');
const { KeyedLimit, onFullCode } = require('./keyed-limit.js');
const { RedisLimiter } = require('./redis.js');
const { isShared, keyedSegment, removeKeyedSegments, sharedOption, sharedStruct } = require('./shared.js');

/**
 * The shared table of one key kind into out[0], returning its status. Every
 * process builds it with the quota its constructor got (the segment checks
 * that), then gives it the default quota in force, as a table built later
 * than a reconfigure() gets it.
 */
function sharedTable(config, defaults, spec, out) {
  const status = ffi.keyedNewShared(config, defaults.built, sharedStruct(spec), out);
  if (status !== 0 || defaults.quota === defaults.built) return status;
  const reconfigured = ffi.keyedReconfigure(out[0], defaults.quota);
  if (reconfigured !== 0) ffi.keyedFree(out[0]);
  return reconfigured;
}

class KeyedLimiter extends KeyedLimit {
  /**
   * { built, quota }: the quota the constructor got and the default quota in
   * force, as fg_quotas, for the number-key table built at its first key.
   */
  #defaults;

  /**
   * Buckets of `quota` for up to `capacity` keys of each kind (default
   * 65,536; memory is allocated up front: 24 bytes a slot for byte keys, 16
   * for number keys). `onFull`: what a new key that finds no slot gets
   * ('deny', 'admit' or 'overflow': one shared bucket). `maxOverrides`: how
   * many keys may hold their own quota (default capacity / 8). `shared`: a
   * segment name, `{ name }` or `{ path }` (see shared.js): the tables then
   * live in shared segments (byte keys in that one, number keys in
   * `<name>.u64`), and every process and thread that builds this limiter
   * with it (and the same settings) shares each key's bucket. `store` (a
   * Redis URL) builds a RedisLimiter instead (see redis.js), whose calls
   * answer with Promises.
   */
  constructor(quota, opts) {
    // `store`: the limit is kept in Redis, and its calls answer with Promises (see redis.js).
    if (opts?.store !== undefined) return new RedisLimiter(quota, opts);
    ensureQuota(quota, 'quota');
    const { capacity = 65_536, onFull = 'deny', maxOverrides = 0, shared } = options(opts, 'options');
    const spec = sharedOption(shared, 'options.shared');
    const config = {
      struct_size: sizes.keyedConfig,
      key_kind: KIND.BYTES,
      on_full: onFullCode(onFull),
      capacity: u64(capacity, 'capacity'),
      max_overrides: u64(maxOverrides, 'maxOverrides'),
    };
    // A local object, not a field: the byte-key table is built inside super(), before `this` exists.
    const built = encodeQuota(quota, new Uint8Array(layout.quota.size));
    const defaults = { built, quota: built };
    super(
      'KeyedLimiter',
      'keyed',
      spec === null
        ? (kind, out) => ffi.keyedNew({ ...config, key_kind: kind }, defaults.quota, out)
        : (kind, out) => sharedTable({ ...config, key_kind: kind }, defaults, keyedSegment(spec, kind), out),
      ffi.keyedFree,
      tableBytes(config.capacity),
    );
    this.#defaults = defaults;
  }

  /** Deletes the segments `shared` names (both key kinds'); processes using them keep their mapping. */
  static removeShared(shared) {
    removeKeyedSegments(sharedOption(shared, 'shared'));
  }

  /** Whether the tables live in shared segments. */
  get isShared() {
    return isShared(ffi.keyedIsShared, this[TABLES].live());
  }

  /** Charges `amount` (default 1) to `key`'s bucket now, or at `nowNs`. */
  check(key, amount = 1, nowNs) {
    // The hot paths (a string or number key, the library's clock) call the
    // library from here, not through KeyedLimit#check: V8 makes a native
    // call fast only at a call site that sees one function, and the shared
    // one sees every keyed limit's.
    if (nowNs === undefined && (typeof key === 'string' || typeof key === 'number')) {
      const units = cost(amount, 'cost');
      let status;
      if (typeof key === 'string') {
        checkStringKey(key);
        // koffi passes the string as a C string, so one holding U+0000 goes
        // through the scratch buffer with its length.
        status = key.includes('\0')
          ? ffi.keyedCheckBytes(this[TABLES].live(), scratch.address, writeStringKey(key, scratch.buffer), units, decisionBuffer)
          : hot.keyedCheckCstr(this[TABLES].address(KIND.BYTES), key, units, decisionAddress);
      } else {
        const id = idKey(key);
        status = hot.keyedCheckU64(this[TABLES].address(KIND.U64), id, units, decisionAddress);
      }
      if (status !== 0) throw statusError(status);
      return readDecision();
    }
    return super.check(key, amount, nowNs);
  }

  /**
   * Delay instead of reject for `key` (see Limiter.reserve): `delayNs` is the
   * wait before proceeding; past `maxWaitNs` it is a denial. Cancel with
   * refund(key, amount).
   */
  reserve(key, amount, maxWaitNs, nowNs) {
    const units = cost(amount, 'cost');
    const maxWait = u64(maxWaitNs, 'maxWaitNs');
    const at = nowNs === undefined ? undefined : u64(nowNs, 'nowNs');
    this[TABLES].call(
      key,
      (table, bytes, length) =>
        at === undefined
          ? ffi.keyedReserveBytes(table, bytes, length, units, maxWait, decisionBuffer, u64Out)
          : ffi.keyedReserveBytesAt(table, bytes, length, units, maxWait, at, decisionBuffer, u64Out),
      (table, id) =>
        at === undefined
          ? ffi.keyedReserveU64(table, id, units, maxWait, decisionBuffer, u64Out)
          : ffi.keyedReserveU64At(table, id, units, maxWait, at, decisionBuffer, u64Out),
    );
    return readDecision(readU64Out());
  }

  /**
   * Gives `key` its own quota (a customer's contract) from its next check;
   * what it used carries over, capped at the new burst.
   */
  setQuota(key, quota, nowNs) {
    const bytesOfQuota = encodeQuota(ensureQuota(quota, 'quota'), new Uint8Array(layout.quota.size));
    const at = nowNs === undefined ? undefined : u64(nowNs, 'nowNs');
    this[TABLES].call(
      key,
      (table, bytes, length) =>
        at === undefined
          ? ffi.keyedSetQuotaBytes(table, bytes, length, bytesOfQuota)
          : ffi.keyedSetQuotaBytesAt(table, bytes, length, bytesOfQuota, at),
      (table, id) =>
        at === undefined ? ffi.keyedSetQuotaU64(table, id, bytesOfQuota) : ffi.keyedSetQuotaU64At(table, id, bytesOfQuota, at),
    );
  }

  /** Returns `key` to the default quota, keeping what it used. */
  clearQuota(key, nowNs) {
    const at = nowNs === undefined ? undefined : u64(nowNs, 'nowNs');
    this[TABLES].call(
      key,
      (table, bytes, length) =>
        at === undefined ? ffi.keyedClearQuotaBytes(table, bytes, length) : ffi.keyedClearQuotaBytesAt(table, bytes, length, at),
      (table, id) => (at === undefined ? ffi.keyedClearQuotaU64(table, id) : ffi.keyedClearQuotaU64At(table, id, at)),
    );
  }

  /**
   * Puts `key`'s bucket back to full, forgetting what it used (lifting a
   * block); its slot is then free for a new key unless the key has its own
   * quota, which it keeps. A key with no bucket is left alone.
   */
  reset(key, nowNs) {
    const at = nowNs === undefined ? undefined : u64(nowNs, 'nowNs');
    this[TABLES].call(
      key,
      (table, bytes, length) =>
        at === undefined ? ffi.keyedResetBytes(table, bytes, length) : ffi.keyedResetBytesAt(table, bytes, length, at),
      (table, id) => (at === undefined ? ffi.keyedResetU64(table, id) : ffi.keyedResetU64At(table, id, at)),
    );
  }

  /** express-rate-limit's name for reset(key). */
  resetKey(key) {
    this.reset(key);
  }

  /** The quota `key`'s checks use: its own, or the default. */
  quotaFor(key) {
    const out = quotaBuffer();
    this[TABLES].call(
      key,
      (table, bytes, length) => ffi.keyedQuotaForBytes(table, bytes, length, out),
      (table, id) => ffi.keyedQuotaForU64(table, id, out),
    );
    return decodeQuota(out);
  }

  /**
   * Replaces the default quota while checks go on, keeping what each key has
   * used (capped at the new burst); keys with their own quota keep it.
   */
  reconfigure(quota, nowNs) {
    const tables = this[TABLES].handles();
    const bytes = encodeQuota(ensureQuota(quota, 'quota'), new Uint8Array(layout.quota.size));
    const at = nowNs === undefined ? undefined : u64(nowNs, 'nowNs');
    for (const table of tables) {
      const status = at === undefined ? ffi.keyedReconfigure(table, bytes) : ffi.keyedReconfigureAt(table, bytes, at);
      if (status !== 0) throw statusError(status);
    }
    this.#defaults.quota = bytes;
  }

  /** The default quota. */
  get quota() {
    const out = quotaBuffer();
    const status = ffi.keyedDefaultQuota(this[TABLES].live(), out);
    if (status !== 0) throw statusError(status);
    return decodeQuota(out);
  }
}

module.exports = { KeyedLimiter };
