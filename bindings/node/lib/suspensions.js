'use strict';
// Suspensions: a set of suspended keys (fg_suspensions), say API keys an
// operator has blocked. As a Policy's first layer, a suspended key gets
// outcome 'suspended' (the middleware answers 403) and charges no bucket.

const { ffi } = require('./native.js');
const { options, u64 } = require('./args.js');
const { decisionBuffer, readDecision } = require('./decision.js');
const { KeyTablesOwner, TABLES, tableBytes } = require('./tables.js');
const { isShared, keyedSegment, removeKeyedSegments, sharedOption, sharedStruct } = require('./shared.js');

/** FG_SUSPEND_INDEFINITELY. */
const INDEFINITELY = 1;
const suspended = new Uint8Array(1);

class Suspensions extends KeyTablesOwner {
  /**
   * Room for `capacity` distinct suspended keys of each kind (default
   * 65,536): a key keeps its slot after it is lifted. `shared`: a segment
   * name, `{ name }` or `{ path }` (see shared.js): the suspensions then
   * live in shared segments (byte keys in that one, number keys in
   * `<name>.u64`), so a key suspended or lifted by one process or thread
   * built with it (and the same capacity) is so in all of them.
   */
  constructor(opts) {
    const { capacity = 65_536, shared } = options(opts, 'options');
    const slots = u64(capacity, 'capacity');
    const spec = sharedOption(shared, 'options.shared');
    super(
      'Suspensions',
      spec === null
        ? (kind, out) => ffi.suspensionsNew(kind, slots, out)
        : (kind, out) => ffi.suspensionsNewShared(kind, slots, sharedStruct(keyedSegment(spec, kind)), out),
      ffi.suspensionsFree,
      tableBytes(slots),
    );
  }

  /** Deletes the segments `shared` names (both key kinds'); processes using them keep their mapping. */
  static removeShared(shared) {
    removeKeyedSegments(sharedOption(shared, 'shared'));
  }

  /** Whether the suspensions live in shared segments. */
  get isShared() {
    return isShared(ffi.suspensionsIsShared, this[TABLES].live());
  }

  /**
   * Suspends `key` until `untilNs` on the library's monotonic clock (the
   * timeline of checks without `nowNs`), or with no end when `untilNs` is
   * null. Suspending again replaces the end.
   */
  suspendUntil(key, untilNs) {
    const until = untilNs === null ? 0 : u64(untilNs, 'untilNs');
    const flags = untilNs === null ? INDEFINITELY : 0;
    this[TABLES].call(
      key,
      (handle, bytes, length) => ffi.suspensionsSuspendUntilBytes(handle, bytes, length, until, flags),
      (handle, id) => ffi.suspensionsSuspendUntilU64(handle, id, until, flags),
    );
  }

  /** Suspends `key` for `durationNs` from now (library clock). */
  suspendFor(key, durationNs) {
    const duration = u64(durationNs, 'durationNs');
    this[TABLES].call(
      key,
      (handle, bytes, length) => ffi.suspensionsSuspendForBytes(handle, bytes, length, duration),
      (handle, id) => ffi.suspensionsSuspendForU64(handle, id, duration),
    );
  }

  /** Lifts `key`'s suspension; a key not suspended is left as it is. */
  lift(key) {
    this[TABLES].call(
      key,
      (handle, bytes, length) => ffi.suspensionsLiftBytes(handle, bytes, length),
      (handle, id) => ffi.suspensionsLiftU64(handle, id),
    );
  }

  /**
   * The 'suspended' decision for `key` now (or at `nowNs`), whose
   * retryAfterNs is the time left (0 without an end); null when not suspended.
   */
  check(key, nowNs) {
    const at = nowNs === undefined ? undefined : u64(nowNs, 'nowNs');
    this[TABLES].call(
      key,
      (handle, bytes, length) =>
        at === undefined
          ? ffi.suspensionsCheckBytes(handle, bytes, length, suspended, decisionBuffer)
          : ffi.suspensionsCheckBytesAt(handle, bytes, length, at, suspended, decisionBuffer),
      (handle, id) =>
        at === undefined
          ? ffi.suspensionsCheckU64(handle, id, suspended, decisionBuffer)
          : ffi.suspensionsCheckU64At(handle, id, at, suspended, decisionBuffer),
    );
    return suspended[0] === 0 ? null : readDecision();
  }
}

module.exports = { Suspensions };
