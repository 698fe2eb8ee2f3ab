'use strict';
// SlidingWindow: at most `limit` units in any window of `windowNs`, from the
// current and previous windows' counts (fg_window; GenieOS: 600 requests per
// minute per workspace).

const { ffi } = require('./native.js');
const { cost, options, u64 } = require('./args.js');
const { statusError } = require('./errors.js');
const { decide, decisionBuffer, readDecision } = require('./decision.js');
const { HANDLE, HandleOwner } = require('./handle.js');
const { isShared, removeSegment, sharedOption, sharedStruct } = require('./shared.js');

const NS_PER_MINUTE = 60_000_000_000;

class SlidingWindow extends HandleOwner {
  #windowNs;

  /**
   * `limit` units per window of `windowNs` (windows aligned to the
   * timeline's origin). `shared`: a segment name, `{ name }` or `{ path }`
   * (see shared.js): the counts and the limit then live in that segment,
   * and every process and thread that builds this window with it (and the
   * same limit and length) counts in one window and sees reconfigure().
   */
  constructor(limit, windowNs, opts) {
    const units = u64(limit, 'limit');
    const length = u64(windowNs, 'windowNs');
    const spec = sharedOption(options(opts, 'options').shared, 'options.shared');
    super(
      'SlidingWindow',
      spec === null ? (out) => ffi.windowNew(units, length, out) : (out) => ffi.windowNewShared(units, length, sharedStruct(spec), out),
      ffi.windowFree,
    );
    this.#windowNs = Number(length);
  }

  /** `limit` units per minute. */
  static perMinute(limit, opts) {
    return new SlidingWindow(limit, NS_PER_MINUTE, opts);
  }

  /** Deletes the segment `shared` names; processes using it keep their mapping. */
  static removeShared(shared) {
    removeSegment(sharedOption(shared, 'shared'));
  }

  /** Whether the window lives in a shared segment. */
  get isShared() {
    return isShared(ffi.windowIsShared, this[HANDLE]);
  }

  /** Charges `amount` (default 1) now, or at `nowNs`. */
  check(amount = 1, nowNs) {
    return decide(ffi.windowCheck, ffi.windowCheckAt, this[HANDLE], cost(amount, 'cost'), nowNs);
  }

  /** The window as it stands, charging nothing. */
  peek(nowNs) {
    const handle = this[HANDLE];
    const status =
      nowNs === undefined ? ffi.windowPeek(handle, decisionBuffer) : ffi.windowPeekAt(handle, u64(nowNs, 'nowNs'), decisionBuffer);
    if (status !== 0) throw statusError(status);
    return readDecision();
  }

  /** Gives back `amount` (default 1) charged in the current window. */
  refund(amount = 1, nowNs) {
    return decide(ffi.windowRefund, ffi.windowRefundAt, this[HANDLE], cost(amount, 'amount'), nowNs);
  }

  /** Replaces the limit (a plan change), keeping what the windows counted. */
  reconfigure(limit) {
    const handle = this[HANDLE];
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
}

module.exports = { SlidingWindow };
