'use strict';
// RedisLimiter: a GCRA bucket per key kept in Redis (fg_redis_limiter);
// RedisWindows: a sliding window per key kept there (fg_redis_window);
// RedisInFlight: a cap on each key's requests in flight, its permits leases
// (fg_redis_inflight): every process and host using one server, prefix and
// limit enforces one limit. A call waits for Redis (up to its deadline) and
// answers with a Promise: the event loop never blocks on the network.
// RedisLimiter's calls hold no thread: on a standalone server they go on
// the store's wire (lib/wire.js), a socket of the event loop's own whose
// protocol the library speaks, so a check is one round trip made from
// this thread. While the wire is not open (connecting, or a second after
// it failed), past 32 checks waiting on it, and on a Redis Cluster, the
// library sends them from its runtime and queues their answers
// (fg_redis_answers), writing a byte to a socket the event loop watches;
// the loop then settles every call answered, so any number are in flight.
// The other kinds have no such C calls: theirs run on koffi's worker
// threads.

const net = require('node:net');
const { addressArg, ffi, hot, layout, sizes } = require('./native.js');
const { cost, describe, msAsNs, options, u64 } = require('./args.js');
const { FloodgateError, STATUS, closedError, statusError } = require('./errors.js');
const { decisionAt, decisionIn } = require('./decision.js');
const { decodeQuota, encodeQuota, ensureQuota } = require('./quota.js');
const { checkBytesKey, checkStringKey } = require('./keys.js');
const { adopt, create, release } = require('./handle.js');
const { Wire } = require('./wire.js');

/** fg_redis_config.on_failure by name (FG_ON_FAILURE_*). */
const ON_FAILURE = Object.freeze({ open: 0, closed: 1, local: 2 });

/**
 * This thread's store of each URL (and of each Redis Cluster's list of node
 * URLs): one connection and one runtime thread, shared by every limiter on
 * it, kept for the life of the thread (a limiter holds its own reference, so
 * no limiter outlives its store).
 */
const stores = new Map();

/** `store`: a Redis URL, or an array of a Redis Cluster's node URLs. */
function storeOf(store) {
  if (typeof store === 'string') {
    return opened(store, () => create((out) => ffi.redisStoreOpen(store, Buffer.byteLength(store, 'utf8'), out)));
  }
  if (!Array.isArray(store)) {
    throw new TypeError(`store must be a Redis URL (a string such as 'redis://127.0.0.1:6379/0') or an array of a Redis Cluster's node URLs, got ${describe(store)}`);
  }
  if (store.length === 0) throw new RangeError('store: a Redis Cluster needs at least one node URL');
  for (const url of store) {
    if (typeof url !== 'string') throw new TypeError(`a Redis Cluster's node URLs must be strings, got ${describe(url)}`);
    // The C strings end at their first NUL.
    if (url.includes('\0')) throw new RangeError('a Redis Cluster\'s node URLs must not contain NUL');
  }
  const nodes = [...store];
  // An array never stringifies as a URL does: the two kinds cannot share a key.
  return opened(JSON.stringify(nodes), () => create((out) => ffi.redisStoreOpenCluster(nodes, nodes.length, out)));
}

function opened(key, open) {
  let store = stores.get(key);
  if (store === undefined) {
    store = open();
    stores.set(key, store);
  }
  return store;
}

function onFailureCode(value) {
  if (typeof value !== 'string') throw new TypeError(`onFailure must be 'open', 'closed' or 'local', got ${describe(value)}`);
  const code = ON_FAILURE[value];
  if (code === undefined) throw new RangeError(`onFailure must be 'open', 'closed' or 'local', got '${value}'`);
  return code;
}

/** Checks a key of a limit kept in Redis: a string or Buffer/Uint8Array, non-empty, at most maxKeyLen bytes. */
function checkRedisKey(key) {
  if (typeof key === 'string') checkStringKey(key);
  else if (key instanceof Uint8Array) checkBytesKey(key);
  else throw new TypeError(`a limit kept in Redis takes string or Buffer keys, got ${describe(key)}`);
}

/** A key as the bytes Redis keys it by, checked: a string as UTF-8, a Buffer/Uint8Array as it is. */
function redisKey(key) {
  checkRedisKey(key);
  return typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
}

/** redisKey(key), a Buffer/Uint8Array copied: the call reads it after this turn, when the caller may have changed it. */
function keyBytes(key) {
  const bytes = redisKey(key);
  return typeof key === 'string' ? bytes : Buffer.from(bytes);
}

/**
 * `opts` read into an fg_redis_config: `store` opened, `prefix`,
 * `deadlineMs` and `onFailure` checked. Unknown options throw.
 */
function redisConfig(opts) {
  const { store, prefix, deadlineMs, onFailure = 'open', ...rest } = options(opts, 'options');
  const unknown = Object.keys(rest).filter((name) => rest[name] !== undefined);
  if (unknown.length > 0) throw new TypeError(`options of a limit kept in Redis are store, prefix, deadlineMs and onFailure, got ${unknown.join(', ')}`);
  if (prefix !== undefined && typeof prefix !== 'string') throw new TypeError(`prefix must be a string, got ${describe(prefix)}`);
  const deadline = deadlineMs === undefined ? 0n : msAsNs(deadlineMs, 'deadlineMs');
  if (deadlineMs !== undefined && deadline === 0n) throw new RangeError('deadlineMs must be at least 1');
  const config = {
    struct_size: sizes.redisConfig,
    prefix: prefix ?? null,
    prefix_len: prefix === undefined ? 0 : Buffer.byteLength(prefix, 'utf8'),
    deadline_ns: deadline,
    on_failure: onFailureCode(onFailure),
    breaker_failures: 0,
    breaker_cool_down_ns: 0,
  };
  return { storeHandle: storeOf(store), config };
}

/**
 * The thread's calls in flight through its answer queue, by ticket: each
 * answer settles one. The queue (fg_redis_answers) is made on the first call
 * and kept for the life of the thread; the library writes a byte to its
 * socket when answers wait, and the event loop, reading it like any socket,
 * takes them all. The socket keeps the loop alive only while calls are in flight.
 */
const tickets = new Map();
let nextTicket = 0;
let queue = null;
/** Room for the answers one take moves. */
const TAKE = 256;

function answerQueue() {
  if (queue === null) {
    const fd = [0];
    const handle = [null];
    const status = ffi.redisAnswersNew(fd, handle);
    if (status !== 0) throw statusError(status);
    // `onread` reads the signal bytes into one small buffer, kept: a 'data'
    // listener would have Node allocate 64 KiB for every wake-up.
    const socket = new net.Socket({
      fd: fd[0],
      readable: true,
      writable: false,
      onread: { buffer: Buffer.alloc(64), callback: takeAnswers },
    });
    socket.on('error', () => failWaiting(STATUS.PANIC));
    socket.unref();
    const room = Buffer.alloc(TAKE * layout.redisAnswer.size);
    queue = { handle: handle[0], socket, room, view: new DataView(room.buffer, room.byteOffset, room.byteLength), waiting: 0 };
  }
  return queue;
}

/**
 * Fails every call waiting: what a failed take or socket does (only a
 * floodgate bug could), instead of throwing into the event loop.
 */
function failWaiting(status) {
  for (const settle of tickets.values()) settle(status, null);
  tickets.clear();
  if (queue !== null) {
    queue.waiting = 0;
    queue.socket.unref();
  }
}

/** Settles every call whose answer waits (the socket's bytes are read already). */
function takeAnswers() {
  const { handle, room, view } = queue;
  const count = [0];
  do {
    const status = ffi.redisAnswersTake(handle, room, TAKE, count);
    if (status !== 0) {
      failWaiting(status);
      break;
    }
    queue.waiting -= Number(count[0]);
    settleAnswers(view, Number(count[0]));
  } while (Number(count[0]) === TAKE);
  if (queue.waiting === 0) queue.socket.unref();
}

/** Settles the calls of the `count` fg_redis_answer records at the start of `view` (a DataView). */
function settleAnswers(view, count) {
  const at = layout.redisAnswer;
  for (let base = 0; base < count * at.size; base += at.size) {
    // Tickets stay below 2^53: read as two halves, no BigInt.
    const ticket = view.getUint32(base + at.ticket + (layout.littleEndian ? 0 : 4), layout.littleEndian)
      + view.getUint32(base + at.ticket + (layout.littleEndian ? 4 : 0), layout.littleEndian) * 2 ** 32;
    const status = view.getInt32(base + at.status, layout.littleEndian);
    const settle = tickets.get(ticket);
    if (settle === undefined) continue;
    tickets.delete(ticket);
    settle(status, status === 0 ? decisionAt(view, base + at.decision) : null);
  }
}

/**
 * The wire of each store (lib/wire.js), or null for a store whose server
 * only its own connections reach: kept, like the stores, for the life of
 * the thread.
 */
const wires = new Map();

function wireOf(storeHandle) {
  let wire = wires.get(storeHandle);
  if (wire === undefined) {
    wire = Wire.of(storeHandle, settleAnswers, failWaiting);
    wires.set(storeHandle, wire);
  }
  return wire;
}

/** An fg_store_counters as the counters a limit kept in Redis reports. */
function storeCounters(out) {
  return {
    exact: Number(out.exact),
    cached: Number(out.cached),
    failedOpen: Number(out.failed_open),
    failedClosed: Number(out.failed_closed),
    localAdmitted: Number(out.local_admitted),
    localDenied: Number(out.local_denied),
    timeouts: Number(out.timeouts),
    errors: Number(out.errors),
    skipped: Number(out.skipped),
    breakerOpened: Number(out.breaker_opened),
  };
}

/** How a subclass runs a call on its handle on a worker thread (see RedisHandle). */
const RUN = Symbol('floodgate.redis.run');
/** How a subclass runs a call on its handle answered through the answer queue (see RedisHandle). */
const SEND = Symbol('floodgate.redis.send');
/** How a kind answering Decisions runs its calls (see RedisDecisions). */
const DECIDE = Symbol('floodgate.redis.decide');
/** The natives of a subclass's kind. */
const NATIVES = Symbol('floodgate.redis.natives');

/**
 * A handle of a kind kept in Redis: its calls answer with Promises, and it
 * is freed only once none is in flight.
 */
class RedisHandle {
  #handle;
  /** #handle as addressArg gives it, for the `hot` calls. */
  #address;
  #name;
  #natives;
  /** Calls not yet answered: the handle is freed only once none is. */
  #pending = 0;
  #closing = false;

  /** `natives`: the kind's { free, counters, ... }; `make(out)` creates the handle. */
  constructor(name, natives, make) {
    this.#name = name;
    this.#natives = natives;
    this.#handle = create(make);
    this.#address = addressArg(this.#handle);
    adopt(this, this.#handle, natives.free);
  }

  get closed() {
    return this.#handle === null;
  }

  /**
   * How many decisions Redis made, the deny cache gave and the failure
   * policy gave, and why: { exact, cached, failedOpen, failedClosed,
   * localAdmitted, localDenied, timeouts, errors, skipped, breakerOpened }.
   */
  get counters() {
    if (this.#handle === null) throw closedError(this.#name);
    const out = { struct_size: sizes.storeCounters };
    const status = this.#natives.counters(this.#handle, out);
    if (status !== 0) throw statusError(status);
    return storeCounters(out);
  }

  /** Frees the handle once the calls still running have answered; later calls throw. Idempotent. */
  close() {
    if (this.#handle === null || this.#closing) return;
    this.#closing = true;
    if (this.#pending === 0) this.#free();
  }

  [Symbol.dispose]() {
    this.close();
  }

  #free() {
    const handle = this.#handle;
    this.#handle = null;
    release(this, handle, this.#natives.free);
  }

  /** The kind's natives. */
  get [NATIVES]() {
    return this.#natives;
  }

  /**
   * `native(handle, key, keyLength, ...args)` on a worker thread: a
   * Promise, resolved once the call answered status 0. Bad arguments throw
   * here, synchronously, before anything is sent; the Promise rejects only
   * for a failure of the call itself.
   */
  [RUN](native, key, args) {
    const { handle, answered } = this.#start(key);
    const bytes = keyBytes(key);
    return new Promise((resolve, reject) => {
      // `this` stays reachable until the callback, so no finalizer frees the handle meanwhile.
      native.async(handle, bytes, bytes.length, ...args, (error, status) => {
        answered();
        if (error) reject(error);
        // The call's message was recorded on the worker thread: name the status here.
        else if (status !== 0) reject(redisError(status));
        else resolve();
      });
    });
  }

  /**
   * A call that `start(handle, address, key, ticket)` begins and that answers
   * through an answer queue or a wire: a Promise of the Decision it
   * answered. Bad arguments throw here, synchronously, before anything is
   * sent; the Promise rejects only for a failure of the call itself.
   */
  [SEND](key, start) {
    const { handle, address, answered } = this.#start(key);
    const ticket = nextTicket;
    nextTicket += 1;
    return new Promise((resolve, reject) => {
      const status = start(handle, address, key, ticket);
      if (status !== 0) {
        // Nothing started: no answer will come.
        answered();
        return reject(statusError(status));
      }
      // The answer is settled on a later microtask or turn, so after this entry is set.
      // `this` stays reachable from it until then, so no finalizer frees the handle meanwhile.
      tickets.set(ticket, (status, decision) => {
        answered();
        if (status !== 0) reject(redisError(status));
        else resolve(decision);
      });
    });
  }

  /** One call more in flight on the handle (its key checked), and what to run once it is answered. */
  #start(key) {
    if (this.#handle === null || this.#closing) throw closedError(this.#name);
    checkRedisKey(key);
    this.#pending += 1;
    return {
      handle: this.#handle,
      address: this.#address,
      answered: () => {
        this.#pending -= 1;
        if (this.#closing && this.#pending === 0) this.#free();
      },
    };
  }
}

/** The error of a call that failed on a worker thread (its message stayed there). */
function redisError(status) {
  return statusError(status, `floodgate: the Redis call failed with status ${status}`);
}

/** A kind kept in Redis that answers Decisions: check, peek, refund. */
class RedisDecisions extends RedisHandle {
  /** Charges `amount` (default 1) to `key`: a Promise of its Decision. */
  check(key, amount = 1) {
    const units = cost(amount, 'cost');
    return this[DECIDE](this[NATIVES].check, key, [units]);
  }

  /** `key` as it stands in Redis, charging nothing: a Promise of its Decision. */
  peek(key) {
    return this[DECIDE](this[NATIVES].peek, key, []);
  }

  /** Gives `amount` (default 1) back to `key`: a Promise of the Decision after. */
  refund(key, amount = 1) {
    const units = cost(amount, 'cost');
    return this[DECIDE](this[NATIVES].refund, key, [units]);
  }

  /** `native` on a worker thread: a Promise of the Decision it wrote. */
  [DECIDE](native, key, args) {
    const out = new Uint8Array(layout.decision.size);
    return this[RUN](native, key, [...args, out]).then(() => decisionIn(out));
  }
}

class RedisLimiter extends RedisDecisions {
  #quota;
  #wire;
  #deadlineMs;

  /**
   * Buckets of `quota` per key in the Redis server at `store` (a URL:
   * 'redis://host:port/db'), or on the Redis Cluster whose node URLs
   * `store` lists (any of them). `prefix` (default 'floodgate:') starts every
   * bucket's Redis key: limits with different quotas need different ones.
   * `deadlineMs` (default 5) bounds each call's wait for Redis, connecting
   * included; when Redis gives no answer, `onFailure` decides: 'open'
   * (admit, the default), 'closed' (deny) or 'local' (this process's share
   * of the limit: the rate and burst divided by the hosts counted by
   * heartbeats in Redis).
   */
  constructor(quota, opts) {
    ensureQuota(quota, 'quota');
    const { storeHandle, config } = redisConfig(opts);
    const encoded = encodeQuota(quota, new Uint8Array(layout.quota.size));
    super('RedisLimiter', LIMITER, (out) => ffi.redisLimiterNew(storeHandle, encoded, config, out));
    this.#quota = encoded;
    this.#wire = wireOf(storeHandle);
    this.#deadlineMs = config.deadline_ns === 0n ? DEFAULT_DEADLINE_MS : Number(config.deadline_ns) / 1e6;
  }

  /** The quota every key gets. */
  get quota() {
    return decodeQuota(this.#quota);
  }

  /**
   * `native` (a { wire, queued } pair): on the store's wire while it is
   * open, else answered through the answer queue. Either way no thread is
   * held while Redis is waited for.
   */
  [DECIDE](native, key, args) {
    const wire = this.#wire;
    if (wire !== null && wire.ready) {
      return this[SEND](key, (handle, address, key, ticket) => wire.start(native.wire, address, key, args, ticket, this.#deadlineMs));
    }
    const answers = answerQueue();
    return this[SEND](key, (handle, address, key, ticket) => {
      const bytes = keyBytes(key);
      const status = native.queued(handle, bytes, bytes.length, ...args, ticket, answers.handle);
      if (status === 0) {
        answers.waiting += 1;
        if (answers.waiting === 1) answers.socket.ref();
      }
      return status;
    });
  }
}

/** A RedisLimiter's deadline when `deadlineMs` is not given (the library's default). */
const DEFAULT_DEADLINE_MS = 5;

const LIMITER = Object.freeze({
  free: ffi.redisLimiterFree,
  check: { wire: hot.redisLimiterCheckWire, queued: ffi.redisLimiterCheckQueued },
  peek: { wire: hot.redisLimiterPeekWire, queued: ffi.redisLimiterPeekQueued },
  refund: { wire: hot.redisLimiterRefundWire, queued: ffi.redisLimiterRefundQueued },
  counters: ffi.redisLimiterCounters,
});

const WINDOWS = Object.freeze({
  free: ffi.redisWindowFree,
  check: ffi.redisWindowCheck,
  peek: ffi.redisWindowPeek,
  refund: ffi.redisWindowRefund,
  counters: ffi.redisWindowCounters,
});

class RedisWindows extends RedisDecisions {
  #limit;
  #windowNs;

  /**
   * `limit` units per key per sliding window of `windowNs` (at least a
   * microsecond, the server's tick), kept in Redis with the decisions of a
   * local KeyedWindows; options as RedisLimiter's (`prefix` default
   * 'floodgate:window:'; onFailure 'local' keeps the limit divided by the
   * hosts counted).
   */
  constructor(limit, windowNs, opts) {
    const units = u64(limit, 'limit');
    const length = u64(windowNs, 'windowNs');
    const { storeHandle, config } = redisConfig(opts);
    super('RedisWindows', WINDOWS, (out) => ffi.redisWindowNew(storeHandle, units, length, config, out));
    this.#limit = Number(units);
    this.#windowNs = Number(length);
  }

  /** The limit per window. */
  get limit() {
    return this.#limit;
  }

  /** The window's length in nanoseconds. */
  get windowNs() {
    return this.#windowNs;
  }
}

const INFLIGHT = Object.freeze({
  free: ffi.redisInflightFree,
  counters: ffi.redisInflightCounters,
});

class RedisInFlight extends RedisHandle {
  #limit;

  /**
   * At most `limit` requests per key in flight at once across every process
   * and host using the same store and prefix (default
   * 'floodgate:inflight:'), each permit leased for `leaseMs` (default
   * 30,000): renew it while a request outlasts it. Other options as
   * RedisLimiter's (onFailure 'local' keeps the cap divided by the hosts
   * counted, its permits given back locally).
   */
  constructor(limit, opts) {
    const units = u64(limit, 'limit');
    const { leaseMs, ...rest } = options(opts, 'options');
    const lease = leaseMs === undefined ? 0n : msAsNs(leaseMs, 'leaseMs');
    if (leaseMs !== undefined && lease === 0n) throw new RangeError('leaseMs must be at least 1');
    const { storeHandle, config } = redisConfig(rest);
    super('RedisInFlight', INFLIGHT, (out) => ffi.redisInflightNew(storeHandle, units, lease, config, out));
    this.#limit = Number(units);
  }

  /** The cap per key. */
  get limit() {
    return this.#limit;
  }

  /** A Promise of a RedisPermit for `key` if fewer than the cap are out fleet-wide, else of null. */
  acquire(key) {
    const out = new Uint8Array(layout.sizes.redisAcquisition);
    const permit = [null];
    return this[RUN](ffi.redisInflightAcquire, key, [out, permit]).then(() => {
      const view = new DataView(out.buffer);
      if (view.getUint8(layout.redisAcquisition.acquired) === 0) return null;
      const read = (field) => Number(view.getBigUint64(layout.redisAcquisition[field], true));
      return new RedisPermit(permit[0], read('inFlight'), read('limit'), read('leaseEndUs'));
    });
  }
}

/** A unit of a RedisInFlight cap, leased: release() it when the request ends, renew() it while it outlasts the lease. */
class RedisPermit {
  #handle;
  #busy = false;

  /** @internal made by RedisInFlight.acquire() */
  constructor(handle, inFlight, limit, leaseEndUs) {
    this.#handle = handle;
    // A permit never freed is given back by the finalizer (within the deadline).
    adopt(this, handle, ffi.redisPermitFree);
    /** Permits of the key out just after this one was taken (this one included). */
    this.inFlight = inFlight;
    this.limit = limit;
    /** The server microsecond its lease first ended at; 0 without a lease (granted by onFailure). */
    this.leaseEndUs = leaseEndUs;
  }

  get released() {
    return this.#handle === null;
  }

  /** A Promise of whether Redis renewed the lease; rejects once its lease had ended (ERR_FLOODGATE_PERMIT_ALREADY_RELEASED). */
  renew() {
    const handle = this.#take('renew');
    const renewed = [false];
    return new Promise((resolve, reject) => {
      ffi.redisPermitRenew.async(handle, renewed, (error, status) => {
        this.#busy = false;
        if (error) reject(error);
        else if (status !== 0) reject(redisError(status));
        else resolve(renewed[0]);
      });
    });
  }

  /**
   * Gives the permit back: a Promise of the key's permits still out
   * fleet-wide, or of null when that is not known (Redis gave no answer;
   * or the permit was this process's share's). A second release throws.
   */
  release() {
    const handle = this.#take('release');
    this.#handle = null;
    const left = [0n];
    return new Promise((resolve, reject) => {
      // The call consumes the handle: the finalizer must not free it too.
      release(this, handle, (pointer) => ffi.redisPermitRelease.async(pointer, left, (error, status) => {
        if (error) reject(error);
        else if (status !== 0) reject(redisError(status));
        else resolve(BigInt(left[0]) === 0xffff_ffff_ffff_ffffn ? null : Number(left[0]));
      }));
    });
  }

  /** `await using permit = await caps.acquire(key)`: releases the permit unless already released. */
  async [Symbol.asyncDispose]() {
    if (this.#handle !== null) await this.release();
  }

  #take(what) {
    if (this.#handle === null) {
      throw new FloodgateError('floodgate: this permit was released already', 'ERR_FLOODGATE_PERMIT_ALREADY_RELEASED', STATUS.PERMIT_ALREADY_RELEASED);
    }
    if (this.#busy) throw new FloodgateError(`floodgate: RedisPermit.${what}() while a renew() runs`, 'ERR_FLOODGATE_PERMIT_BUSY');
    this.#busy = true;
    return this.#handle;
  }
}

module.exports = { ON_FAILURE, RedisInFlight, RedisLimiter, RedisPermit, RedisWindows, onFailureCode, redisKey, storeCounters, storeOf };
