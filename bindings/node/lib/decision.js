'use strict';
// Decisions: the fg_decision (or fg_verdict, which starts with one) the
// library writes into one reused buffer, copied out as a Decision. JS runs
// one call at a time per thread (and each worker thread loads its own copy
// of this module), so one buffer serves every handle.

const { addressArg, ffi, layout, limits, nativeScratch } = require('./native.js');
const { describe, u64 } = require('./args.js');
const { statusError } = require('./errors.js');

const OUTCOMES = Object.freeze(['admitted', 'denied', 'cannot_fit', 'suspended']);
const TWO_POW_32 = 2 ** 32;

const { decision: at, verdict, littleEndian } = layout;
/**
 * The out buffer of every check: big enough for an fg_verdict. Native memory,
 * so the hot calls pass its address as a number (native.js, `hot`).
 */
const out = nativeScratch(Math.max(at.size, verdict.size));
const bytes = out.buffer;
const decisionAddress = addressArg(out.address);
const words = new Uint32Array(bytes.buffer);
/** The out slot for a uint64_t result (a reservation's delay, a count). */
const u64Out = new Uint32Array(2);
/** The out buffer of the counter calls (fg_counts: three uint64_t). */
const counts = new Uint8Array(layout.counts.size);
const countsView = new DataView(counts.buffer);
const lo = littleEndian ? 0 : 1;
const hi = 1 - lo;
const LIMIT = at.limit / 4;
const REMAINING = at.remaining / 4;
const RESET = at.resetAfterNs / 4;
const RETRY = at.retryAfterNs / 4;
const OUTCOME = at.outcome / 4;
const LAYER = verdict.layer / 4;
const SCOPE = at.scope / 4;
const ADMITTED = at.admitted;

/** A uint64 field as a number (exact up to 2^53; nearest double above). */
function u64At(word) {
  return words[word + lo] + words[word + hi] * TWO_POW_32;
}

/** The uint64_t the last call stored in `slot` (default u64Out), as a number. */
function readU64Out(slot = u64Out) {
  return slot[lo] + slot[hi] * TWO_POW_32;
}

/**
 * A decision as a plain-data object. Nanosecond and count fields are
 * numbers, exact up to 2^53 (104 days of nanoseconds).
 */
class Decision {
  constructor(admitted, outcome, limit, remaining, resetAfterNs, retryAfterNs, delayNs, scope, layer) {
    this.admitted = admitted;
    this.outcome = outcome;
    this.limit = limit;
    this.remaining = remaining;
    this.resetAfterNs = resetAfterNs;
    this.resetAfterMs = resetAfterNs / 1e6;
    this.retryAfterNs = retryAfterNs;
    this.retryAfterMs = retryAfterNs / 1e6;
    this.delayNs = delayNs;
    this.delayMs = delayNs / 1e6;
    this.scope = scope;
    this.layer = layer;
  }

  /**
   * Whether at most `percent` (default 20, GenieOS's threshold) of the limit
   * remains: time to slow down. The library decides (fg_decision_in_warning_zone).
   */
  inWarningZone(percent = limits.warningZonePercent) {
    const threshold = u64(percent, 'percent');
    const status = ffi.inWarningZone(encodeDecision(this, scratch), threshold, flag);
    if (status !== 0) throw statusError(status);
    return flag[0] !== 0;
  }
}

const scratch = new Uint8Array(at.size);
const flag = new Uint8Array(1);

/**
 * The decision the last call wrote into `bytes`: a single limit's own
 * (scope and layer null) unless a policy names its deciding layer.
 */
function readDecision(delayNs = 0, scope = null, layer = null) {
  const outcome = words[OUTCOME];
  return new Decision(
    bytes[ADMITTED] !== 0,
    OUTCOMES[outcome] ?? `unknown(${outcome})`,
    u64At(LIMIT),
    u64At(REMAINING),
    u64At(RESET),
    u64At(RETRY),
    delayNs,
    scope,
    layer,
  );
}

/**
 * The fg_decision a call wrote into `target` (a Uint8Array of its own, as an
 * asynchronous call needs: the shared buffer is the next call's by then).
 */
function decisionIn(target) {
  return decisionAt(new DataView(target.buffer, target.byteOffset, target.byteLength), 0);
}

/** The fg_decision at byte `base` of `view`. */
function decisionAt(view, base) {
  const field = (offset) => Number(view.getBigUint64(base + offset, littleEndian));
  const outcome = view.getInt32(base + at.outcome, littleEndian);
  return new Decision(
    view.getUint8(base + at.admitted) !== 0,
    OUTCOMES[outcome] ?? `unknown(${outcome})`,
    field(at.limit),
    field(at.remaining),
    field(at.resetAfterNs),
    field(at.retryAfterNs),
    0,
    null,
    null,
  );
}

/**
 * The decision of a native charge (check or refund) on one handle: `now(handle,
 * units, out)`, or its `_at` twin `at(handle, units, nowNs, out)` when the
 * caller gives its own time.
 */
function decide(now, at, handle, units, nowNs) {
  const status = nowNs === undefined ? now(handle, units, bytes) : at(handle, units, u64(nowNs, 'nowNs'), bytes);
  if (status !== 0) throw statusError(status);
  return readDecision();
}

/** The three counts the last counter call wrote into `counts`, as numbers. */
function readCounts() {
  const { first, second, third } = layout.counts;
  return [first, second, third].map((offset) => Number(countsView.getBigUint64(offset, littleEndian)));
}

/** The layer index of the fg_verdict the last policy check wrote. */
function readVerdictLayer() {
  return words[LAYER];
}

/** The FG_SCOPE_* code of the decision the last call wrote. */
function readScopeCode() {
  return words[SCOPE];
}

/**
 * Writes a decision object (from this package, or built by hand with the
 * same fields) into `target` as an fg_decision, for the library's renderers.
 */
function encodeDecision(decision, target) {
  if (decision === null || typeof decision !== 'object') {
    throw new TypeError(`decision must be a Decision, got ${describe(decision)}`);
  }
  const outcome = OUTCOMES.indexOf(decision.outcome);
  if (outcome === -1) throw new TypeError(`decision.outcome must be one of ${OUTCOMES.join(', ')}, got ${describe(decision.outcome)}`);
  if (typeof decision.admitted !== 'boolean') {
    throw new TypeError(`decision.admitted must be a boolean, got ${describe(decision.admitted)}`);
  }
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  target.fill(0);
  view.setUint8(at.admitted, decision.admitted ? 1 : 0);
  view.setInt32(at.outcome, outcome, littleEndian);
  view.setBigUint64(at.limit, BigInt(u64(decision.limit, 'decision.limit')), littleEndian);
  view.setBigUint64(at.remaining, BigInt(u64(decision.remaining, 'decision.remaining')), littleEndian);
  view.setBigUint64(at.resetAfterNs, BigInt(u64(decision.resetAfterNs, 'decision.resetAfterNs')), littleEndian);
  view.setBigUint64(at.retryAfterNs, BigInt(u64(decision.retryAfterNs, 'decision.retryAfterNs')), littleEndian);
  return target;
}

module.exports = {
  Decision,
  OUTCOMES,
  countsBuffer: counts,
  decide,
  decisionAddress,
  decisionAt,
  decisionIn,
  decisionBuffer: bytes,
  encodeDecision,
  readCounts,
  readDecision,
  readScopeCode,
  readU64Out,
  readVerdictLayer,
  u64Out,
};
