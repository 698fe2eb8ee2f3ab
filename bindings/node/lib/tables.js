'use strict';
// Native keyed handles (keyed limiters, keyed windows, suspensions, keyed
// in-flight caps) hold one key kind each, so a JS object keeps two: byte keys (strings as
// UTF-8, Buffers) in a handle built with the object, and number/bigint keys
// in one built at the first such key. KeyTables owns both handles.

const { addressArg, nativeFunction } = require('./native.js');
const { u64 } = require('./args.js');
const { closedError, statusError } = require('./errors.js');
const { decisionBuffer, readDecision, readU64Out, u64Out } = require('./decision.js');
const { adopt, create, release } = require('./handle.js');
const { KIND, checkBytesKey, idKey, scratch, writeStringKey } = require('./keys.js');

/** How a Policy asks a keyed layer for its native table of a key kind (built on demand). */
const TABLE = Symbol('floodgate.keyedTable');
/** How a KeyTablesOwner subclass reaches its KeyTables. */
const TABLES = Symbol('floodgate.keyTables');

/**
 * The key the last KeyTables#locate readied: the table of its kind and, for
 * a byte key, its length, or its id. Module state like the scratch buffer:
 * JS makes one call at a time on a thread, and the native call follows at once.
 */
const located = { table: null, length: 0, id: 0 };

/**
 * The four native functions of one keyed operation that writes a decision,
 * found by the name they share in native.js: `${name}Bytes`, `${name}BytesAt`,
 * `${name}U64` and `${name}U64At`, each taking (table, key, units, [at,] out).
 * With `units: false` (a peek) the functions take no units, and the ones here
 * drop the units KeyTables#decide passes, so every operation goes one way.
 */
function keyedOperation(name, { units = true } = {}) {
  const [bytes, bytesAt, id, idAt] = ['Bytes', 'BytesAt', 'U64', 'U64At'].map((suffix) => nativeFunction(name + suffix));
  if (units) return Object.freeze({ bytes, bytesAt, id, idAt });
  return Object.freeze({
    bytes: (table, pointer, length, _units, out) => bytes(table, pointer, length, out),
    bytesAt: (table, pointer, length, _units, at, out) => bytesAt(table, pointer, length, at, out),
    id: (table, key, _units, out) => id(table, key, out),
    idAt: (table, key, _units, at, out) => idAt(table, key, at, out),
  });
}

/**
 * `bytesOf(kind)` for a keyed table of `capacity` slots: the size the header
 * documents for keyed limiters (allocated up front, 24 bytes a slot for byte
 * keys, 16 for number keys). Other keyed kinds take less, so for them it
 * overstates, which only makes the collector run a little sooner.
 */
function tableBytes(capacity) {
  const slots = Number(capacity);
  return (kind) => slots * (kind === KIND.BYTES ? 24 : 16);
}

/** The uint64_t that `read(handle, out)` stores for `handle`. */
function readU64(read, handle) {
  const status = read(handle, u64Out);
  if (status !== 0) throw statusError(status);
  return readU64Out();
}

class KeyTables {
  #owner;
  #what;
  #build;
  #free;
  #bytesOf;
  /** The byte-key handle; null once closed. */
  #bytes;
  #ids = null;
  /** #bytes and #ids as addressArg gives them, converted once; null once closed or not yet built. */
  #bytesAddress;
  #idsAddress = null;
  #tokens = { bytes: {}, ids: {} };

  /**
   * `build(kind, out)` makes a handle for key kind `kind` into out[0] and
   * returns its status; `free` releases one; `bytesOf(kind)` is a handle's
   * native size (from tableBytes). `owner` is the JS object the finalizer
   * watches, `what` its name in "is closed" errors.
   */
  constructor(owner, what, build, free, bytesOf) {
    this.#owner = owner;
    this.#what = what;
    this.#build = build;
    this.#free = free;
    this.#bytesOf = bytesOf;
    this.#bytes = this.#make(KIND.BYTES, this.#tokens.bytes);
    this.#bytesAddress = addressArg(this.#bytes);
  }

  #make(kind, token) {
    const handle = create((out) => this.#build(kind, out));
    adopt(this.#owner, handle, this.#free, token, this.#bytesOf(kind));
    return handle;
  }

  /** The byte-key handle (throws once closed). */
  live() {
    const handle = this.#bytes;
    if (handle === null) throw closedError(this.#what);
    return handle;
  }

  /** The handle for keys of `kind` (KIND.U64 builds it at first use), for a Policy layer. */
  table(kind) {
    const bytes = this.live();
    if (kind !== KIND.U64) return bytes;
    if (this.#ids === null) {
      this.#ids = this.#make(KIND.U64, this.#tokens.ids);
      this.#idsAddress = addressArg(this.#ids);
    }
    return this.#ids;
  }

  /** table(kind) as an address argument of the hot calls (native.js, `hot`); throws once closed. */
  address(kind) {
    if (kind !== KIND.U64) {
      const bytes = this.#bytesAddress;
      if (bytes === null) throw closedError(this.#what);
      return bytes;
    }
    const ids = this.#idsAddress;
    if (ids !== null) return ids;
    this.table(KIND.U64);
    return this.#idsAddress;
  }

  /**
   * Runs `onBytes(handle, pointer, length)` or `onId(handle, id)` for `key`'s
   * kind (a string is encoded into the shared scratch buffer first) and
   * throws on a non-OK status.
   */
  call(key, onBytes, onId) {
    const pointer = this.#locate(key);
    const status = pointer !== null ? onBytes(located.table, pointer, located.length) : onId(located.table, located.id);
    if (status !== 0) throw statusError(status);
  }

  /**
   * The decision of keyed operation `op` (from keyedOperation) charging
   * `units` to `key` now, or at `nowNs`. Takes no closures, so it costs no
   * allocation beyond the Decision.
   */
  decide(key, op, units, nowNs) {
    const at = nowNs === undefined ? undefined : u64(nowNs, 'nowNs');
    const pointer = this.#locate(key);
    const { table } = located;
    let status;
    if (pointer !== null) {
      const { length } = located;
      status =
        at === undefined
          ? op.bytes(table, pointer, length, units, decisionBuffer)
          : op.bytesAt(table, pointer, length, units, at, decisionBuffer);
    } else {
      const { id } = located;
      status = at === undefined ? op.id(table, id, units, decisionBuffer) : op.idAt(table, id, units, at, decisionBuffer);
    }
    if (status !== 0) throw statusError(status);
    return readDecision();
  }

  /**
   * Checks `key` and readies it for a native call into `located`: returns
   * the pointer for a byte key (a string is encoded into the shared scratch
   * buffer), or null for a number key. The pointer is returned, not stored,
   * so a caller's Buffer is not kept alive past the call.
   */
  #locate(key) {
    if (typeof key === 'string') {
      located.length = writeStringKey(key, scratch.buffer);
      located.table = this.live();
      return scratch.address;
    }
    if (key instanceof Uint8Array) {
      checkBytesKey(key);
      located.length = key.length;
      located.table = this.live();
      return key;
    }
    located.id = idKey(key);
    located.table = this.table(KIND.U64);
    return null;
  }

  /** A uint64_t that `read(handle, out)` stores for the byte-key handle. */
  read(read) {
    return readU64(read, this.live());
  }

  /** Both handles as built so far (for whole-object operations). */
  handles() {
    const bytes = this.live();
    return this.#ids === null ? [bytes] : [bytes, this.#ids];
  }

  /** The sum over both handles of a uint64_t that `read(handle, out)` stores. */
  sum(read) {
    let total = 0;
    for (const handle of this.handles()) total += readU64(read, handle);
    return total;
  }

  get closed() {
    return this.#bytes === null;
  }

  /** Frees both handles now (policies keep their own references). Idempotent. */
  close() {
    const bytes = this.#bytes;
    if (bytes === null) return;
    this.#bytes = null;
    this.#bytesAddress = null;
    release(this.#tokens.bytes, bytes, this.#free);
    if (this.#ids !== null) {
      release(this.#tokens.ids, this.#ids, this.#free);
      this.#ids = null;
      this.#idsAddress = null;
    }
  }
}

/**
 * Base of the classes whose native handles are KeyTables (KeyedLimiter,
 * KeyedWindows, Suspensions, KeyedInFlight): owns the tables, hands a
 * Policy the table of a key kind, and gives the closed/close/dispose
 * behaviour they all share. Subclasses reach the tables through this[TABLES].
 */
class KeyTablesOwner {
  #tables;

  /** `what`, `build`, `free` and `bytesOf` as for KeyTables. */
  constructor(what, build, free, bytesOf) {
    this.#tables = new KeyTables(this, what, build, free, bytesOf);
  }

  get [TABLES]() {
    return this.#tables;
  }

  /** The native table for keys of `kind`, for a Policy layer. */
  [TABLE](kind) {
    return this.#tables.table(kind);
  }

  get closed() {
    return this.#tables.closed;
  }

  /** Frees the tables now; later calls throw (a Policy built on them keeps its own reference). Idempotent. */
  close() {
    this.#tables.close();
  }

  [Symbol.dispose]() {
    this.close();
  }
}

module.exports = { KeyTables, KeyTablesOwner, TABLE, TABLES, keyedOperation, tableBytes };
