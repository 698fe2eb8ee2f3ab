'use strict';
// Decisions: the fg_decision the library writes into one reused buffer,
// copied out as a plain object. JS runs one call at a time per thread (and
// each worker thread loads its own copy of this module), so one buffer serves
// every handle.

const { layout } = require('./native.js');

const OUTCOMES = Object.freeze(['admitted', 'denied', 'cannot_fit', 'suspended']);
const TWO_POW_32 = 2 ** 32;

const { decision: at, littleEndian } = layout;
const bytes = new Uint8Array(new ArrayBuffer(at.size));
const words = new Uint32Array(bytes.buffer);
const lo = littleEndian ? 0 : 1;
const hi = 1 - lo;
const LIMIT = at.limit / 4;
const REMAINING = at.remaining / 4;
const RESET = at.resetAfterNs / 4;
const RETRY = at.retryAfterNs / 4;
const OUTCOME = at.outcome / 4;
const SCOPE = at.scope / 4;
const ADMITTED = at.admitted;

/** A uint64 field as a number (exact up to 2^53; nearest double above). */
function u64At(word) {
  return words[word + lo] + words[word + hi] * TWO_POW_32;
}

/** The decision the last call wrote into `bytes`. */
function readDecision() {
  const resetAfterNs = u64At(RESET);
  const retryAfterNs = u64At(RETRY);
  return {
    admitted: bytes[ADMITTED] !== 0,
    outcome: OUTCOMES[words[OUTCOME]] ?? `unknown(${words[OUTCOME]})`,
    limit: u64At(LIMIT),
    remaining: u64At(REMAINING),
    resetAfterNs,
    resetAfterMs: resetAfterNs / 1e6,
    retryAfterNs,
    retryAfterMs: retryAfterNs / 1e6,
    scope: words[SCOPE],
  };
}

module.exports = { OUTCOMES, decisionBuffer: bytes, readDecision };
