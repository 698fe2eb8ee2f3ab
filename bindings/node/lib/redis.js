'use strict';
// RedisLimiter: a GCRA bucket per key kept in Redis (fg_redis_limiter), so
// every process and host using one server, prefix and quota enforces one
// limit. A check waits for Redis (up to its deadline) without a thread of
// its own: the library sends it from its runtime and answers through one
// callback (fg_redis_done), which settles every check answered since its
// last call, so the event loop never blocks on the network and any number
// of checks are in flight.

const { ffi, layout, lentAnswers, registerRedisDone, sizes } = require('./native.js');
const { cost, describe, msAsNs, options } = require('./args.js');
const { FloodgateError, closedError, statusError } = require('./errors.js');
const { decisionIn } = require('./decision.js');
const { decodeQuota, encodeQuota, ensureQuota } = require('./quota.js');
const { checkBytesKey, checkStringKey } = require('./keys.js');
const { adopt, create, release } = require('./handle.js');

/** fg_redis_config.on_failure by name (FG_ON_FAILURE_*). */
const ON_FAILURE = Object.freeze({ open: 0, closed: 1 });

/**
 * This thread's store of each URL: one connection and one runtime thread,
 * shared by every limiter on it, kept for the life of the thread (a limiter
 * holds its own reference, so no limiter outlives its store).
 */
const stores = new Map();

function storeOf(url) {
  if (typeof url !== 'string') throw new TypeError(`store must be a Redis URL (a string such as 'redis://127.0.0.1:6379/0'), got ${describe(url)}`);
  let store = stores.get(url);
  if (store === undefined) {
    store = create((out) => ffi.redisStoreOpen(url, Buffer.byteLength(url, 'utf8'), out));
    stores.set(url, store);
  }
  return store;
}

function onFailureCode(value) {
  if (typeof value !== 'string') throw new TypeError(`onFailure must be 'open' or 'closed', got ${describe(value)}`);
  const code = ON_FAILURE[value];
  if (code === undefined) throw new RangeError(`onFailure must be 'open' or 'closed', got '${value}'`);
  return code;
}

/** A key as the bytes Redis keys it by: a string as UTF-8, a Buffer/Uint8Array copied (the call reads it later). */
function keyBytes(key) {
  if (typeof key === 'string') {
    checkStringKey(key);
    return Buffer.from(key, 'utf8');
  }
  if (key instanceof Uint8Array) {
    checkBytesKey(key);
    return Buffer.from(key);
  }
  throw new TypeError(`a limit kept in Redis takes string or Buffer keys, got ${describe(key)}`);
}

/**
 * The process's checks in flight, by ticket: each answer settles one. The
 * callback is registered on the first check and kept for the life of the
 * process (the library may call it until the last check is answered).
 */
const inFlight = new Map();
let nextTicket = 0;
let done = null;
/** A timer that keeps the event loop alive while any check is in flight (nothing else does). */
let keepAlive = null;

function doneCallback() {
  if (done === null) {
    done = registerRedisDone(answered);
    keepAlive = setInterval(() => {}, 0x7fffffff);
    keepAlive.unref();
  }
  return done;
}

/** fg_redis_done: runs on the JS thread; the answers are read before it returns. */
function answered(pointer, count) {
  const at = layout.redisAnswer;
  const bytes = lentAnswers(pointer, Number(count));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let base = 0; base < bytes.length; base += at.size) {
    const ticket = Number(view.getBigUint64(base + at.ticket, layout.littleEndian));
    const status = view.getInt32(base + at.status, layout.littleEndian);
    const settle = inFlight.get(ticket);
    if (settle === undefined) continue;
    inFlight.delete(ticket);
    const decision = base + at.decision;
    settle(status, status === 0 ? decisionIn(bytes.subarray(decision, decision + layout.decision.size)) : null);
  }
  if (inFlight.size === 0) keepAlive.unref();
}

class RedisLimiter {
  #handle;
  #quota;
  /** Calls not yet answered: the handle is freed only once none is. */
  #pending = 0;
  #closing = false;

  /**
   * Buckets of `quota` per key in the Redis server at `store` (a URL:
   * 'redis://host:port/db'). `prefix` (default 'floodgate:') starts every
   * bucket's Redis key: limits with different quotas need different ones.
   * `deadlineMs` (default 5) bounds each call's wait for Redis, connecting
   * included; when Redis gives no answer, `onFailure` decides: 'open'
   * (admit, the default) or 'closed' (deny).
   */
  constructor(quota, opts) {
    ensureQuota(quota, 'quota');
    const { store, prefix, deadlineMs, onFailure = 'open', ...rest } = options(opts, 'options');
    const unknown = Object.keys(rest).filter((name) => rest[name] !== undefined);
    if (unknown.length > 0) throw new TypeError(`options of a limit kept in Redis are store, prefix, deadlineMs and onFailure, got ${unknown.join(', ')}`);
    if (prefix !== undefined && typeof prefix !== 'string') throw new TypeError(`prefix must be a string, got ${describe(prefix)}`);
    const deadline = deadlineMs === undefined ? 0n : msAsNs(deadlineMs, 'deadlineMs');
    if (deadlineMs !== undefined && deadline === 0n) throw new RangeError('deadlineMs must be at least 1');
    const config = {
      struct_size: sizes.redisConfig,
      prefix: prefix ?? null,
      prefix_len: prefix === undefined ? 0 : Buffer.byteLength(prefix, 'utf8'),
      deadline_ns: deadline,
      on_failure: onFailureCode(onFailure),
      breaker_failures: 0,
      breaker_cool_down_ns: 0,
    };
    this.#quota = encodeQuota(quota, new Uint8Array(layout.quota.size));
    const storeHandle = storeOf(store);
    this.#handle = create((out) => ffi.redisLimiterNew(storeHandle, this.#quota, config, out));
    adopt(this, this.#handle, ffi.redisLimiterFree);
  }

  /** The quota every key gets. */
  get quota() {
    return decodeQuota(this.#quota);
  }

  get closed() {
    return this.#handle === null;
  }

  /** Charges `amount` (default 1) to `key`: a Promise of its Decision. */
  check(key, amount = 1) {
    const units = cost(amount, 'cost');
    return this.#call(ffi.redisLimiterCheckAsync, key, [units]);
  }

  /** `key`'s bucket as it stands in Redis, charging nothing: a Promise of its Decision. */
  peek(key) {
    return this.#call(ffi.redisLimiterPeekAsync, key, []);
  }

  /** Gives `amount` (default 1) back to `key`'s bucket: a Promise of the Decision after. */
  refund(key, amount = 1) {
    const units = cost(amount, 'cost');
    return this.#call(ffi.redisLimiterRefundAsync, key, [units]);
  }

  /**
   * How many decisions Redis made, the deny cache gave and the failure
   * policy gave, and why: { exact, cached, failedOpen, failedClosed,
   * timeouts, errors, skipped, breakerOpened }.
   */
  get counters() {
    if (this.#handle === null) throw closedError('RedisLimiter');
    const out = { struct_size: sizes.storeCounters };
    const status = ffi.redisLimiterCounters(this.#handle, out);
    if (status !== 0) throw statusError(status);
    return {
      exact: Number(out.exact),
      cached: Number(out.cached),
      failedOpen: Number(out.failed_open),
      failedClosed: Number(out.failed_closed),
      timeouts: Number(out.timeouts),
      errors: Number(out.errors),
      skipped: Number(out.skipped),
      breakerOpened: Number(out.breaker_opened),
    };
  }

  /** Frees the handle once the calls still running have answered; later calls throw. Idempotent. */
  close() {
    if (this.#handle === null || this.#closing) return;
    this.#closing = true;
    if (this.#pending === 0) this.#free();
  }

  [Symbol.dispose]() {
    this.close();
  }

  #free() {
    const handle = this.#handle;
    this.#handle = null;
    release(this, handle, ffi.redisLimiterFree);
  }

  /**
   * `native(handle, key, keyLength, ...args, ticket, done)`, answered through
   * `done`. Bad arguments throw here, synchronously, before anything is
   * sent; the Promise rejects only for a failure of the call itself.
   */
  #call(native, key, args) {
    if (this.#handle === null || this.#closing) throw closedError('RedisLimiter');
    const bytes = keyBytes(key);
    const ticket = nextTicket;
    nextTicket += 1;
    return new Promise((resolve, reject) => {
      const status = native(this.#handle, bytes, bytes.length, ...args, ticket, doneCallback());
      // Nothing started: no answer will come.
      if (status !== 0) return reject(statusError(status));
      // The answer runs on a later turn of the event loop, so after this entry is set.
      // `this` stays reachable from it until then, so no finalizer frees the handle meanwhile.
      inFlight.set(ticket, (answer, decision) => {
        this.#pending -= 1;
        if (this.#closing && this.#pending === 0) this.#free();
        if (answer !== 0) reject(new FloodgateError(`floodgate: the Redis call failed with status ${answer}`, 'ERR_FLOODGATE_REDIS', answer));
        else resolve(decision);
      });
      this.#pending += 1;
      if (inFlight.size === 1) keepAlive.ref();
    });
  }
}

module.exports = { ON_FAILURE, RedisLimiter };
