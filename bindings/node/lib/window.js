'use strict';
// SlidingWindow: at most `limit` units in any window of `windowNs`, from the
// current and previous windows' counts (fg_window; GenieOS: 600 requests per
// minute per workspace).

const { ffi } = require('./native.js');
const { cost, u64 } = require('./args.js');
const { closedError, statusError } = require('./errors.js');
const { decisionBuffer, readDecision } = require('./decision.js');
const { HANDLE, adopt, release } = require('./handle.js');

const NS_PER_MINUTE = 60_000_000_000;

class SlidingWindow {
  #handle;
  #windowNs;

  /** `limit` units per window of `windowNs` (windows aligned to the timeline's origin). */
  constructor(limit, windowNs) {
    const units = u64(limit, 'limit');
    const length = u64(windowNs, 'windowNs');
    const out = [null];
    const status = ffi.windowNew(units, length, out);
    if (status !== 0) throw statusError(status);
    this.#handle = out[0];
    this.#windowNs = Number(length);
    adopt(this, this.#handle, ffi.windowFree);
  }

  /** `limit` units per minute. */
  static perMinute(limit) {
    return new SlidingWindow(limit, NS_PER_MINUTE);
  }

  #live() {
    const handle = this.#handle;
    if (handle === null) throw closedError('SlidingWindow');
    return handle;
  }

  /** Charges `amount` (default 1) now, or at `nowNs`. */
  check(amount = 1, nowNs) {
    const handle = this.#live();
    const status =
      nowNs === undefined
        ? ffi.windowCheck(handle, cost(amount, 'cost'), decisionBuffer)
        : ffi.windowCheckAt(handle, cost(amount, 'cost'), u64(nowNs, 'nowNs'), decisionBuffer);
    if (status !== 0) throw statusError(status);
    return readDecision();
  }

  /** The window as it stands, charging nothing. */
  peek(nowNs) {
    const handle = this.#live();
    const status =
      nowNs === undefined ? ffi.windowPeek(handle, decisionBuffer) : ffi.windowPeekAt(handle, u64(nowNs, 'nowNs'), decisionBuffer);
    if (status !== 0) throw statusError(status);
    return readDecision();
  }

  /** Gives back `amount` (default 1) charged in the current window. */
  refund(amount = 1, nowNs) {
    const handle = this.#live();
    const status =
      nowNs === undefined
        ? ffi.windowRefund(handle, cost(amount, 'amount'), decisionBuffer)
        : ffi.windowRefundAt(handle, cost(amount, 'amount'), u64(nowNs, 'nowNs'), decisionBuffer);
    if (status !== 0) throw statusError(status);
    return readDecision();
  }

  /** Replaces the limit (a plan change), keeping what the windows counted. */
  reconfigure(limit) {
    const handle = this.#live();
    const status = ffi.windowReconfigure(handle, u64(limit, 'limit'));
    if (status !== 0) throw statusError(status);
  }

  /** The limit in force. */
  get limit() {
    return this.peek(0).limit;
  }

  /** The window's length in nanoseconds. */
  get windowNs() {
    return this.#windowNs;
  }

  get [HANDLE]() {
    return this.#live();
  }

  get closed() {
    return this.#handle === null;
  }

  /** Frees the window now (a Policy built on it keeps its own reference). Idempotent. */
  close() {
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    release(this, handle, ffi.windowFree);
  }

  [Symbol.dispose]() {
    this.close();
  }
}

module.exports = { SlidingWindow };
