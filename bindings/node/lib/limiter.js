'use strict';
// Limiter: one lock-free GCRA bucket (fg_limiter) behind a JS object.

const { ffi, layout } = require('./native.js');
const { u64 } = require('./args.js');
const { closedError, statusError } = require('./errors.js');
const { decisionBuffer, readDecision } = require('./decision.js');
const { adopt, release } = require('./handle.js');
const { decodeQuota, encodeQuota, ensureQuota, quotaBuffer } = require('./quota.js');

/**
 * A cost as the library takes it. Small non-negative integers, the common
 * case, skip the full check.
 */
function cost(value, name) {
  return typeof value === 'number' && value >>> 0 === value ? value : u64(value, name);
}

class Limiter {
  #handle;

  constructor(quota) {
    ensureQuota(quota, 'quota');
    const out = [null];
    const status = ffi.limiterNew(encodeQuota(quota, new Uint8Array(layout.quota.size)), out);
    if (status !== 0) throw statusError(status);
    this.#handle = out[0];
    adopt(this, this.#handle, ffi.limiterFree);
  }

  #live() {
    const handle = this.#handle;
    if (handle === null) throw closedError('Limiter');
    return handle;
  }

  /** Charges `cost` (default 1) now, or at `nowNs` on the caller's timeline. */
  check(amount = 1, nowNs) {
    const handle = this.#live();
    const status =
      nowNs === undefined
        ? ffi.limiterCheck(handle, cost(amount, 'cost'), decisionBuffer)
        : ffi.limiterCheckAt(handle, cost(amount, 'cost'), u64(nowNs, 'nowNs'), decisionBuffer);
    if (status !== 0) throw statusError(status);
    return readDecision();
  }

  /** The bucket as it stands, charging nothing. */
  peek(nowNs) {
    const handle = this.#live();
    const status =
      nowNs === undefined
        ? ffi.limiterPeek(handle, decisionBuffer)
        : ffi.limiterPeekAt(handle, u64(nowNs, 'nowNs'), decisionBuffer);
    if (status !== 0) throw statusError(status);
    return readDecision();
  }

  /** Gives back `amount` (default 1) units; the bucket never exceeds its burst. */
  refund(amount = 1, nowNs) {
    const handle = this.#live();
    const status =
      nowNs === undefined
        ? ffi.limiterRefund(handle, cost(amount, 'amount'), decisionBuffer)
        : ffi.limiterRefundAt(handle, cost(amount, 'amount'), u64(nowNs, 'nowNs'), decisionBuffer);
    if (status !== 0) throw statusError(status);
    return readDecision();
  }

  /** Replaces the quota; what was used carries over (capped at the new burst). */
  reconfigure(quota, nowNs) {
    const handle = this.#live();
    const bytes = encodeQuota(ensureQuota(quota, 'quota'), new Uint8Array(layout.quota.size));
    const status =
      nowNs === undefined
        ? ffi.limiterReconfigure(handle, bytes)
        : ffi.limiterReconfigureAt(handle, bytes, u64(nowNs, 'nowNs'));
    if (status !== 0) throw statusError(status);
  }

  /** The quota in force. */
  get quota() {
    const bytes = quotaBuffer();
    const status = ffi.limiterQuota(this.#live(), bytes);
    if (status !== 0) throw statusError(status);
    return decodeQuota(bytes);
  }

  get closed() {
    return this.#handle === null;
  }

  /** Frees the native bucket now; later calls throw. Closing twice is a no-op. */
  close() {
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    release(this, handle, ffi.limiterFree);
  }

  [Symbol.dispose]() {
    this.close();
  }
}

module.exports = { Limiter };
