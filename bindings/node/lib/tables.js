'use strict';
// Native keyed handles (keyed limiters, keyed windows, suspensions, keyed
// in-flight caps) hold one key kind each, so a JS object keeps two: byte keys (strings as
// UTF-8, Buffers) in a handle built with the object, and number/bigint keys
// in one built at the first such key. KeyTables owns both handles.

const { closedError, statusError } = require('./errors.js');
const { readU64Out, u64Out } = require('./decision.js');
const { adopt, release } = require('./handle.js');
const { KIND, checkBytesKey, idKey, scratch, writeStringKey } = require('./keys.js');

class KeyTables {
  #owner;
  #what;
  #build;
  #free;
  /** The byte-key handle; null once closed. */
  #bytes;
  #ids = null;
  #tokens = { bytes: {}, ids: {} };

  /**
   * `build(kind, out)` makes a handle for key kind `kind` into out[0] and
   * returns its status; `free` releases one. `owner` is the JS object the
   * finalizer watches, `what` its name in "is closed" errors.
   */
  constructor(owner, what, build, free) {
    this.#owner = owner;
    this.#what = what;
    this.#build = build;
    this.#free = free;
    this.#bytes = this.#make(KIND.BYTES, this.#tokens.bytes);
  }

  #make(kind, token) {
    const out = [null];
    const status = this.#build(kind, out);
    if (status !== 0) throw statusError(status);
    adopt(this.#owner, out[0], this.#free, token);
    return out[0];
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
    return this.#ids ?? (this.#ids = this.#make(KIND.U64, this.#tokens.ids));
  }

  /**
   * Runs `onBytes(handle, pointer, length)` or `onId(handle, id)` for `key`'s
   * kind (a string is encoded into the shared scratch buffer first) and
   * throws on a non-OK status.
   */
  call(key, onBytes, onId) {
    let status;
    if (typeof key === 'string') {
      const length = writeStringKey(key, scratch.buffer);
      status = onBytes(this.live(), scratch.address, length);
    } else if (key instanceof Uint8Array) {
      checkBytesKey(key);
      status = onBytes(this.live(), key, key.length);
    } else {
      const id = idKey(key);
      status = onId(this.table(KIND.U64), id);
    }
    if (status !== 0) throw statusError(status);
  }

  /** A uint64_t that `read(handle, out)` stores for the byte-key handle. */
  read(read) {
    const status = read(this.live(), u64Out);
    if (status !== 0) throw statusError(status);
    return readU64Out();
  }

  /** Both handles as built so far (for whole-object operations). */
  handles() {
    const bytes = this.live();
    return this.#ids === null ? [bytes] : [bytes, this.#ids];
  }

  /** The sum over both handles of a uint64_t that `read(handle, out)` stores. */
  sum(read) {
    let total = 0;
    for (const handle of this.handles()) {
      const status = read(handle, u64Out);
      if (status !== 0) throw statusError(status);
      total += readU64Out();
    }
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
    release(this.#tokens.bytes, bytes, this.#free);
    if (this.#ids !== null) {
      release(this.#tokens.ids, this.#ids, this.#free);
      this.#ids = null;
    }
  }
}

module.exports = { KeyTables };
