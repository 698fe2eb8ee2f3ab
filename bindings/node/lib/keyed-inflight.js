'use strict';
// KeyedInFlight: an in-flight cap per key (fg_keyed_inflight; GenieOS: 4
// batch calls in flight per workspace, for every workspace). A key's permit
// is given back with release(key, permit) or permit.release(); the library
// refuses a second release and a permit of another key or cap.

const { ffi } = require('./native.js');
const { options, u64 } = require('./args.js');
const { readU64Out, u64Out } = require('./decision.js');
const { acquisition, nativePermit, permitFrom } = require('./inflight.js');
const { KeyTablesOwner, TABLES, tableBytes } = require('./tables.js');
const { isShared, keyedSegment, removeKeyedSegments, sharedOption, sharedStruct } = require('./shared.js');

const second = new Uint32Array(2);

/** Per-key caps; close() frees them, and permits still out die with them. */
class KeyedInFlight extends KeyTablesOwner {
  #limit;

  /**
   * At most `limit` permits out at once for each of up to `capacity` keys
   * of each kind (default 65,536). `shared`: a segment name, `{ name }` or
   * `{ path }` (see shared.js): every key's cap then lives in shared
   * segments (byte keys in that one, number keys in `<name>.u64`, each
   * allocated up front), shared by every process and thread that builds
   * these caps with it (and the same settings); permits of a process that
   * dies come back.
   */
  constructor(limit, opts) {
    const max = u64(limit, 'limit');
    const { capacity = 65_536, shared } = options(opts, 'options');
    const slots = u64(capacity, 'capacity');
    const spec = sharedOption(shared, 'options.shared');
    super(
      'KeyedInFlight',
      spec === null
        ? (kind, out) => ffi.keyedInflightNew(kind, max, slots, out)
        : (kind, out) => ffi.keyedInflightNewShared(kind, max, slots, sharedStruct(keyedSegment(spec, kind)), out),
      ffi.keyedInflightFree,
      tableBytes(slots),
    );
    this.#limit = Number(max);
  }

  /** Deletes the segments `shared` names (both key kinds'); processes using them keep their mapping. */
  static removeShared(shared) {
    removeKeyedSegments(sharedOption(shared, 'shared'));
  }

  /** Whether the caps live in shared segments. */
  get isShared() {
    return isShared(ffi.keyedInflightIsShared, this[TABLES].live());
  }

  /**
   * A permit for `key` if fewer than the cap are out for it, else null. The
   * permit's release() gives it back to `key`.
   */
  acquire(key) {
    this[TABLES].call(
      key,
      (handle, bytes, length) => ffi.keyedInflightAcquireBytes(handle, bytes, length, acquisition),
      (handle, id) => ffi.keyedInflightAcquireU64(handle, id, acquisition),
    );
    // The permit releases to the key as it was at acquire, not a Buffer mutated since.
    const held = key instanceof Uint8Array ? Uint8Array.from(key) : key;
    const caps = this;
    return permitFrom({
      release: (permit) => caps.release(held, permit),
      get closed() {
        return caps.closed;
      },
    });
  }

  /**
   * Gives `permit`, acquired for `key`, back; returns the permits `key` has
   * out afterwards. Released already: FloodgateError
   * ERR_FLOODGATE_PERMIT_ALREADY_RELEASED; of another key or cap:
   * ERR_FLOODGATE_FOREIGN_PERMIT. Neither changes anything.
   */
  release(key, permit) {
    const native = nativePermit(permit);
    this[TABLES].call(
      key,
      (handle, bytes, length) => ffi.keyedInflightReleaseBytes(handle, bytes, length, native, u64Out),
      (handle, id) => ffi.keyedInflightReleaseU64(handle, id, native, u64Out),
    );
    return readU64Out();
  }

  /** Permits `key` has out right now (a snapshot; 0 for a key never seen). */
  inFlight(key) {
    this[TABLES].call(
      key,
      (handle, bytes, length) => ffi.keyedInflightInFlightBytes(handle, bytes, length, u64Out, second),
      (handle, id) => ffi.keyedInflightInFlightU64(handle, id, u64Out, second),
    );
    return readU64Out();
  }

  /** The cap per key. */
  get limit() {
    return this.#limit;
  }
}

module.exports = { KeyedInFlight };
