'use strict';
// InFlight: at most `limit` permits out at once (fg_inflight; GenieOS: 4
// batch calls in flight per workspace). A permit is given back by an
// explicit release(); the library refuses a second release and a permit of
// another cap, and those throw.

const { ffi, layout } = require('./native.js');
const { describe, options, u64 } = require('./args.js');
const { statusError } = require('./errors.js');
const { readU64Out, u64Out } = require('./decision.js');
const { HANDLE, HandleOwner } = require('./handle.js');
const { isShared, removeSegment, sharedOption, sharedStruct } = require('./shared.js');

const acquisition = new Uint8Array(layout.acquisition.size);
const view = new DataView(acquisition.buffer);
const { littleEndian } = layout;
const second = new Uint32Array(2);

/** A held unit of an InFlight cap: release() it exactly once. */
class Permit {
  #cap;
  #released = false;

  /** @internal made by InFlight.acquire() */
  constructor(cap, owner, ticket, inFlight, limit) {
    this.#cap = cap;
    /** The library's permit: the cap's id and which claim this is. */
    this.owner = owner;
    this.ticket = ticket;
    /** Permits out just after this one was taken (this one included). */
    this.inFlight = inFlight;
    this.limit = limit;
  }

  /** Gives the unit back; returns the permits out afterwards. A second release throws. */
  release() {
    const inFlight = this.#cap.release(this);
    this.#released = true;
    return inFlight;
  }

  get released() {
    return this.#released;
  }

  /** `using permit = cap.acquire()`: releases the permit unless already released. */
  [Symbol.dispose]() {
    if (!this.#released && !this.#cap.closed) this.release();
  }
}

/** `permit` as the library's fg_permit, after checking it is a Permit. */
function nativePermit(permit) {
  if (!(permit instanceof Permit)) throw new TypeError(`permit must be a Permit, got ${describe(permit)}`);
  return { owner: permit.owner, ticket: permit.ticket };
}

/**
 * The permit of the fg_acquisition the last acquire wrote, released through
 * `cap.release(permit)`, or null when the cap was full.
 */
function permitFrom(cap) {
  if (acquisition[layout.acquisition.acquired] === 0) return null;
  const at = layout.acquisition;
  return new Permit(
    cap,
    view.getBigUint64(at.owner, littleEndian),
    view.getBigUint64(at.ticket, littleEndian),
    Number(view.getBigUint64(at.inFlight, littleEndian)),
    Number(view.getBigUint64(at.limit, littleEndian)),
  );
}

/** A cap of permits; close() frees it, and permits still out die with it. */
class InFlight extends HandleOwner {
  /**
   * A cap of `limit` permits out at once (1 to 2^20). `shared`: a segment
   * name, `{ name }` or `{ path }` (see shared.js): the permits then live
   * in that segment, every process and thread that builds this cap with it
   * (and the same limit) shares one limit, a permit may be released through
   * any of them, and the permits of a process that dies come back.
   */
  constructor(limit, opts) {
    const max = u64(limit, 'limit');
    const spec = sharedOption(options(opts, 'options').shared, 'options.shared');
    super(
      'InFlight',
      spec === null ? (out) => ffi.inflightNew(max, out) : (out) => ffi.inflightNewShared(max, sharedStruct(spec), out),
      ffi.inflightFree,
      // The cap keeps 8 bytes per unit (include/floodgate.h).
      Number(max) * 8,
    );
  }

  /** Deletes the segment `shared` names; processes using it keep their mapping. */
  static removeShared(shared) {
    removeSegment(sharedOption(shared, 'shared'));
  }

  /** Whether the permits live in a shared segment. */
  get isShared() {
    return isShared(ffi.inflightIsShared, this[HANDLE]);
  }

  /** A permit if fewer than the cap are out, else null (a full cap is not an error). */
  acquire() {
    const status = ffi.inflightAcquire(this[HANDLE], acquisition);
    if (status !== 0) throw statusError(status);
    return permitFrom(this);
  }

  /**
   * Gives `permit` back; returns the permits out afterwards. A permit already
   * released throws FloodgateError ERR_FLOODGATE_PERMIT_ALREADY_RELEASED, one
   * of another cap ERR_FLOODGATE_FOREIGN_PERMIT; neither changes anything.
   */
  release(permit) {
    const status = ffi.inflightRelease(this[HANDLE], nativePermit(permit), u64Out);
    if (status !== 0) throw statusError(status);
    return readU64Out();
  }

  #status() {
    const status = ffi.inflightStatus(this[HANDLE], u64Out, second);
    if (status !== 0) throw statusError(status);
  }

  /** Permits out right now (a snapshot). */
  get inFlight() {
    this.#status();
    return readU64Out();
  }

  /** The cap. */
  get limit() {
    this.#status();
    return readU64Out(second);
  }
}

module.exports = { InFlight, Permit, acquisition, nativePermit, permitFrom };
