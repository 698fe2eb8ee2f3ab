'use strict';
// Limiter: one lock-free GCRA bucket (fg_limiter) behind a JS object.

const { ffi, hot, layout } = require('./native.js');
const { cost, options, u64 } = require('./args.js');
const { statusError } = require('./errors.js');
const { decide, decisionAddress, decisionBuffer, readDecision, readU64Out, u64Out } = require('./decision.js');
const { ADDRESS, HANDLE, HandleOwner } = require('./handle.js');
const { decodeQuota, encodeQuota, ensureQuota, quotaBuffer } = require('./quota.js');
const { isShared, removeSegment, sharedOption, sharedStruct } = require('./shared.js');

const suspended = new Uint8Array(1);

class Limiter extends HandleOwner {
  /**
   * A full bucket of `quota`. `shared`: a segment name, `{ name }` or
   * `{ path }` (see shared.js): the bucket then lives in that segment, and
   * every process and thread that builds this limiter with it (and the
   * same quota) charges one bucket.
   */
  constructor(quota, opts) {
    const bytes = encodeQuota(ensureQuota(quota, 'quota'), new Uint8Array(layout.quota.size));
    const spec = sharedOption(options(opts, 'options').shared, 'options.shared');
    super(
      'Limiter',
      spec === null ? (out) => ffi.limiterNew(bytes, out) : (out) => ffi.limiterNewShared(bytes, sharedStruct(spec), out),
      ffi.limiterFree,
    );
  }

  /** Deletes the segment `shared` names; processes using it keep their mapping. */
  static removeShared(shared) {
    removeSegment(sharedOption(shared, 'shared'));
  }

  /** Whether the bucket lives in a shared segment. */
  get isShared() {
    return isShared(ffi.limiterIsShared, this[HANDLE]);
  }

  /** Charges `cost` (default 1) now, or at `nowNs` on the caller's timeline. */
  check(amount = 1, nowNs) {
    // The hot path calls the library from its own call site rather than
    // through decide(): a call site V8 sees one function at stays the fast
    // native call (decide() costs ~3 ns a check here).
    const status =
      nowNs === undefined
        ? hot.limiterCheck(this[ADDRESS], cost(amount, 'cost'), decisionAddress)
        : ffi.limiterCheckAt(this[HANDLE], cost(amount, 'cost'), u64(nowNs, 'nowNs'), decisionBuffer);
    if (status !== 0) throw statusError(status);
    return readDecision();
  }

  /** The bucket as it stands, charging nothing. */
  peek(nowNs) {
    const handle = this[HANDLE];
    const status =
      nowNs === undefined
        ? ffi.limiterPeek(handle, decisionBuffer)
        : ffi.limiterPeekAt(handle, u64(nowNs, 'nowNs'), decisionBuffer);
    if (status !== 0) throw statusError(status);
    return readDecision();
  }

  /** Gives back `amount` (default 1) units; the bucket never exceeds its burst. */
  refund(amount = 1, nowNs) {
    return decide(ffi.limiterRefund, ffi.limiterRefundAt, this[HANDLE], cost(amount, 'amount'), nowNs);
  }

  /** Replaces the quota; what was used carries over (capped at the new burst). */
  reconfigure(quota, nowNs) {
    const handle = this[HANDLE];
    const bytes = encodeQuota(ensureQuota(quota, 'quota'), new Uint8Array(layout.quota.size));
    const status =
      nowNs === undefined
        ? ffi.limiterReconfigure(handle, bytes)
        : ffi.limiterReconfigureAt(handle, bytes, u64(nowNs, 'nowNs'));
    if (status !== 0) throw statusError(status);
  }

  /**
   * Delay instead of reject: reserves `amount` units if they are available
   * within `maxWaitNs`; `delayNs` is how long to wait before proceeding (0 at
   * once). Past `maxWaitNs` it is denied like a check. Cancel an admitted
   * reservation with refund(amount).
   */
  reserve(amount, maxWaitNs, nowNs) {
    const handle = this[HANDLE];
    const units = cost(amount, 'cost');
    const maxWait = u64(maxWaitNs, 'maxWaitNs');
    const status =
      nowNs === undefined
        ? ffi.limiterReserve(handle, units, maxWait, decisionBuffer, u64Out)
        : ffi.limiterReserveAt(handle, units, maxWait, u64(nowNs, 'nowNs'), decisionBuffer, u64Out);
    if (status !== 0) throw statusError(status);
    return readDecision(readU64Out());
  }

  /**
   * Suspends the bucket until `untilNs` on its timeline (the library's clock,
   * or yours for `nowNs` users), or indefinitely when `untilNs` is null.
   * Checks meanwhile answer outcome 'suspended' and charge nothing.
   */
  suspendUntil(untilNs) {
    const handle = this[HANDLE];
    const status =
      untilNs === null ? ffi.limiterSuspend(handle) : ffi.limiterSuspendUntil(handle, u64(untilNs, 'untilNs'));
    if (status !== 0) throw statusError(status);
  }

  /** Suspends the bucket for `durationNs` from now on the library's clock. */
  suspendFor(durationNs) {
    const handle = this[HANDLE];
    const status = ffi.limiterSuspendFor(handle, u64(durationNs, 'durationNs'));
    if (status !== 0) throw statusError(status);
  }

  /** Ends a suspension; the next check is decided by the bucket again. */
  liftSuspension() {
    const status = ffi.limiterLiftSuspension(this[HANDLE]);
    if (status !== 0) throw statusError(status);
  }

  /**
   * Whether the bucket is suspended at `nowNs` (on its timeline), and until
   * when: `untilNs` null for a suspension without an end (or none).
   */
  suspensionAt(nowNs) {
    const handle = this[HANDLE];
    const status = ffi.limiterSuspensionAt(handle, u64(nowNs, 'nowNs'), suspended, u64Out);
    if (status !== 0) throw statusError(status);
    const until = readU64Out();
    return { suspended: suspended[0] !== 0, untilNs: until === 0 ? null : until };
  }

  /** The quota in force. */
  get quota() {
    const bytes = quotaBuffer();
    const status = ffi.limiterQuota(this[HANDLE], bytes);
    if (status !== 0) throw statusError(status);
    return decodeQuota(bytes);
  }
}

module.exports = { Limiter };
