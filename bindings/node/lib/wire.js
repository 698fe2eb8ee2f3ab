'use strict';
// A connection to a Redis store's server that this thread's event loop
// drives (fg_redis_wire, ABI 1.12): the socket is a net.Socket of the
// loop's, the protocol the library's. A RedisLimiter check on an open wire
// is encoded by the library, written by the loop, and decided by the
// library when the loop passes it the reply: one round trip, no thread
// hand-off. While the wire connects, or for a second after its socket
// failed, checks take the answer queue's path through the library's
// runtime thread instead (lib/redis.js), so a wire is never waited for.

const net = require('node:net');
const { performance } = require('node:perf_hooks');
const { addressArg, ffi, hot, layout, nativeScratch } = require('./native.js');
const { STATUS, statusError } = require('./errors.js');
const { checkBytesKey, scratch: keyScratch, writeStringKey } = require('./keys.js');

const keyAddress = addressArg(keyScratch.address);

/** fg_redis_wire flags (FG_WIRE_*). */
const ANSWERS = 1;
const OUTPUT = 2;
const BROKEN = 4;
/** No call waits: fg_redis_wire_expire's next deadline. */
const NO_DEADLINE = 0xffff_ffff_ffff_ffffn;
/** How long after a socket failed (or did not connect) checks keep to the runtime's path. */
const RECONNECT_MS = 1_000;
/** Room for the answers one take moves, and for the bytes one write moves. */
const TAKE = 256;
const WRITE = 16 * 1024;
/** The socket's read buffer, kept: a 'data' listener would have Node allocate one per read. */
const READ = 64 * 1024;
/**
 * Checks waiting on the wire past which new ones go the runtime's way: the
 * loop's thread then shares the work with the library's (64 callers on one
 * local server: 63-64k checks/s against 55k with every check on the wire;
 * BENCHMARKS.md).
 */
const OVERFLOW = 32;

class Wire {
  #endpoint;
  /** `(view, count)`: settles the calls of the `count` answers at the start of `view`; `(status)`: fails every call waiting. */
  #settle;
  #fail;
  #socket = null;
  #open = false;
  /** Before this performance.now(), do not connect again. */
  #retryAt = 0;
  /** Calls on the wire not yet answered: the socket keeps the loop alive only while there are some. */
  #waiting = 0;
  #pumping = false;
  /** What the calls started this turn asked for (FG_WIRE_* bits). */
  #due = 0;
  #timer = null;
  #timerDue = Infinity;
  /** Native memory the calls read and write, passed by address (see `hot` in native.js): #outs holds the flags every call leaves (at 0) and a count or deadline (at 8). */
  #outs = nativeScratch(16);
  #outsView = new DataView(this.#outs.buffer.buffer, this.#outs.buffer.byteOffset, 16);
  #flagsAt = addressArg(this.#outs.address);
  #countAt = addressArg(this.#outs.address + 8n);
  #output = nativeScratch(WRITE);
  #input = nativeScratch(READ);
  #answers = nativeScratch(TAKE * layout.redisAnswer.size);
  #answersView = new DataView(this.#answers.buffer.buffer, this.#answers.buffer.byteOffset, this.#answers.buffer.byteLength);
  /** Their addresses, and the handle's, as the `hot` calls take them. */
  #outputAt = addressArg(this.#output.address);
  #inputAt = addressArg(this.#input.address);
  #answersAt = addressArg(this.#answers.address);
  #address;

  /**
   * The wire of the store `storeHandle`, or null when its server is reached
   * only through the store's own connections (a cluster, TLS, RESP3).
   */
  static of(storeHandle, settle, fail) {
    const handle = [null];
    const status = ffi.redisWireNew(storeHandle, handle);
    if (status === STATUS.INVALID_ARGUMENT) return null;
    if (status !== 0) throw statusError(status);
    return new Wire(handle[0], settle, fail);
  }

  constructor(handle, settle, fail) {
    this.#address = addressArg(handle);
    this.#settle = settle;
    this.#fail = fail;
    const place = Buffer.alloc(4096);
    const length = new BigUint64Array(1);
    const port = new Uint16Array(1);
    const status = ffi.redisWireEndpoint(handle, place, place.length, length, port);
    if (status !== 0) throw statusError(status);
    const where = place.toString('utf8', 0, Number(length[0]));
    this.#endpoint = port[0] === 0 ? { path: where } : { host: where, port: port[0] };
  }

  /**
   * Whether a call may go on the wire now (open, with fewer than OVERFLOW
   * waiting); a wire not connected starts connecting, unless it failed
   * within a second.
   */
  get ready() {
    if (this.#open) return this.#waiting < OVERFLOW;
    if (this.#socket === null && performance.now() >= this.#retryAt) this.#connect();
    return false;
  }

  /**
   * Starts `native(limiter, wire, key, length, ...args, ticket, flags)`
   * (an fg_redis_limiter_*_wire call, `limiter` an address) for `key` (a
   * string or Uint8Array, checked) whose deadline is `deadlineMs`: its
   * status. Its answer is settled on a later microtask or turn.
   */
  start(native, limiter, key, args, ticket, deadlineMs) {
    let length;
    if (typeof key === 'string') {
      length = writeStringKey(key, keyScratch.buffer);
    } else {
      checkBytesKey(key);
      keyScratch.buffer.set(key);
      length = key.length;
    }
    const status = native(limiter, this.#address, keyAddress, length, ...args, ticket, this.#flagsAt);
    if (status !== 0) return status;
    this.#waiting += 1;
    if (this.#waiting === 1) this.#socket.ref();
    this.#arm(deadlineMs);
    // The caller registers the ticket after this returns: bytes and
    // answers wait for a microtask, which also writes every call of this
    // turn at once.
    this.#due |= this.#outsView.getUint32(0, layout.littleEndian);
    if (!this.#pumping) {
      this.#pumping = true;
      queueMicrotask(this.#pump);
    }
    return 0;
  }

  #pump = () => {
    const due = this.#due;
    this.#pumping = false;
    this.#due = 0;
    this.#serve(due);
  };

  #connect() {
    const socket = net.connect({
      ...this.#endpoint,
      onread: { buffer: this.#input.buffer, callback: (read) => this.#read(read) },
    });
    socket.setNoDelay(true);
    socket.unref();
    socket.on('connect', () => {
      this.#open = true;
      this.#call(hot.redisWireOpen(this.#address, this.#flagsAt));
    });
    // 'close' follows.
    socket.on('error', () => {});
    socket.on('close', () => this.#closed());
    this.#socket = socket;
  }

  /** The socket is gone: the library answers what waited on it; checks go the runtime's way for a second. */
  #closed() {
    this.#open = false;
    this.#socket = null;
    this.#retryAt = performance.now() + RECONNECT_MS;
    this.#call(hot.redisWireClose(this.#address, this.#flagsAt));
  }

  #read(read) {
    this.#call(hot.redisWireRead(this.#address, this.#inputAt, read, this.#flagsAt));
  }

  #expire = () => {
    this.#timer = null;
    this.#timerDue = Infinity;
    this.#call(hot.redisWireExpire(this.#address, this.#countAt, this.#flagsAt));
    const next = this.#outsView.getBigUint64(8, layout.littleEndian);
    if (next !== NO_DEADLINE) this.#arm(Math.ceil(Number(next) / 1e6));
  };

  /** A timer due in `ms`, unless one is due sooner. */
  #arm(ms) {
    const due = performance.now() + ms;
    if (this.#timerDue <= due) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(this.#expire, ms);
    this.#timer.unref();
  }

  /** After a call on the wire that returned `status`: what its flags ask. */
  #call(status) {
    if (status !== 0) return this.#failed(status);
    this.#serve(this.#outsView.getUint32(0, layout.littleEndian));
  }

  #serve(flags) {
    if (flags & ANSWERS) this.#take();
    if (flags & BROKEN) {
      // Its calls were answered; new ones go the runtime's way until another socket opens.
      this.#open = false;
      this.#socket?.destroy();
      return;
    }
    if (flags & OUTPUT) this.#write();
  }

  #write() {
    if (!this.#open) return;
    let written;
    do {
      const status = hot.redisWireWrite(this.#address, this.#outputAt, WRITE, this.#countAt);
      if (status !== 0) return this.#failed(status);
      written = this.#count();
      // A copy: the socket may keep what it could not send at once.
      if (written > 0) this.#socket.write(Buffer.from(this.#output.buffer.subarray(0, written)));
    } while (written === WRITE);
  }

  /** A call on the wire failed (only a floodgate bug could): every call waiting fails, none keeps the loop alive. */
  #failed(status) {
    this.#waiting = 0;
    this.#socket?.unref();
    this.#fail(status);
  }

  /** The size_t the last `hot` call stored at #countAt. */
  #count() {
    return Number(this.#outsView.getBigUint64(8, layout.littleEndian));
  }

  #take() {
    let taken;
    do {
      const status = hot.redisWireTake(this.#address, this.#answersAt, TAKE, this.#countAt);
      if (status !== 0) return this.#failed(status);
      taken = this.#count();
      this.#waiting -= taken;
      this.#settle(this.#answersView, taken);
    } while (taken === TAKE);
    if (this.#waiting === 0) this.#socket?.unref();
  }
}

module.exports = { Wire };
