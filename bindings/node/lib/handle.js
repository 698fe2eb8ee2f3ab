'use strict';
// Ownership of native handles: each handle has one JS owner and is freed
// exactly once, by close() or, if the owner is dropped unclosed, by the
// FinalizationRegistry. close() unregisters first, so the two never both free.
// An owner of several handles (a KeyedLimiter's per-kind tables, a Policy's
// per-key-kind policies) registers each under its own token.

const { closedError, statusError } = require('./errors.js');
const { addressArg } = require('./native.js');

let live = 0;

/** The getter through which a Policy reads a layer's live native handle. */
const HANDLE = Symbol('floodgate.handle');

/** The getter through which an owner's hot calls read its live handle as an address argument (native.js, `hot`). */
const ADDRESS = Symbol('floodgate.address');

/**
 * A handle is an address in this thread's process memory, and the structured
 * clone that carries workerData and postMessage copies only own enumerable
 * fields: a limiter would arrive as an empty object. This field's value (a
 * symbol) cannot be cloned, so sending an owner fails at once with a
 * DataCloneError that carries this text.
 */
const NOT_CLONEABLE = Symbol(
  'floodgate objects cannot be sent to another thread (workerData, postMessage): create the limiter in the thread that uses it',
);

/**
 * V8 cannot see a handle's native memory, so an owner dropped without
 * close() was collected (and its handle freed by the finalizer) only when
 * the JS heap filled: 1,500 dropped KeyedLimiters held 2.4 GB. Each
 * registration of `bytes` native bytes keeps a weight: an ArrayBuffer,
 * never written, that V8 counts as external memory (so it collects in
 * proportion) while its untouched pages cost next to no RSS. The weight
 * lives as long as the registration: dropped by release(), or collected
 * with its token.
 */
const weights = new WeakMap();

/**
 * How many times its native size a handle weighs. V8 lets external memory
 * grow 64 MB past the last collection before it starts marking, and the
 * program keeps allocating while it marks: at the true size, 500 dropped
 * Plans.genieos() (one a turn of the event loop) still peaked at 320 to
 * 370 MB RSS; at 4 times, 170 to 180 MB (1,500 KeyedLimiters: 240, then
 * 215 to 230 MB).
 */
const WEIGHT_PER_BYTE = 4;
/** The heaviest weight: beyond it an allocation could fail, and one such table already draws the collector. */
const MAX_WEIGHT = 2 ** 30;

const registry = new FinalizationRegistry(({ pointer, free }) => {
  live -= 1;
  free(pointer);
});

/**
 * Registers `owner` as the sole owner of `pointer`, released with `free`.
 * `token` (default `owner`) names this registration for release(); an owner
 * of several handles passes a distinct object per handle and keeps it.
 * `bytes`: the handle's native size, as far as the caller knows it (0: small).
 */
function adopt(owner, pointer, free, token = owner, bytes = 0) {
  // The held value must not reference `owner`, or it could never be collected.
  registry.register(owner, { pointer, free }, token);
  live += 1;
  if (bytes > 0) weights.set(token, new ArrayBuffer(Math.min(bytes * WEIGHT_PER_BYTE, MAX_WEIGHT)));
  if (!Object.hasOwn(owner, 'threadBound')) {
    Object.defineProperty(owner, 'threadBound', { value: NOT_CLONEABLE, enumerable: true });
  }
}

/** Frees `pointer` now and cancels its finalizer (registered under `token`). */
function release(token, pointer, free) {
  registry.unregister(token);
  weights.delete(token);
  live -= 1;
  free(pointer);
}

/**
 * `build(out)` stores a new handle in out[0] and returns its status: the
 * handle, or the error for that status.
 */
function create(build) {
  const out = [null];
  const status = build(out);
  if (status !== 0) throw statusError(status);
  return out[0];
}

/**
 * Base of the classes that own exactly one native handle (Limiter,
 * SlidingWindow, InFlight, Plans, HeaderRenderer, ErrorBody): builds and
 * adopts it, and gives the closed/close/dispose behaviour they all share.
 * Subclasses reach the handle through this[HANDLE], which throws once closed.
 */
class HandleOwner {
  #handle;
  /** #handle as addressArg gives it, converted once; null once closed. */
  #address;
  #what;
  #free;

  /** `what` names the object in "is closed" errors; `build`, `free` and `bytes` as for create() and adopt(). */
  constructor(what, build, free, bytes = 0) {
    this.#what = what;
    this.#free = free;
    this.#handle = create(build);
    this.#address = addressArg(this.#handle);
    adopt(this, this.#handle, free, this, bytes);
  }

  /** The live native handle (for the subclass's calls and a Policy layer). */
  get [HANDLE]() {
    const handle = this.#handle;
    if (handle === null) throw closedError(this.#what);
    return handle;
  }

  /** The live native handle as an address argument (throws once closed, as [HANDLE] does). */
  get [ADDRESS]() {
    const address = this.#address;
    if (address === null) throw closedError(this.#what);
    return address;
  }

  get closed() {
    return this.#handle === null;
  }

  /** Frees the handle now; later calls throw (a Policy built on it keeps its own reference). Idempotent. */
  close() {
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    this.#address = null;
    release(this, handle, this.#free);
  }

  [Symbol.dispose]() {
    this.close();
  }
}

/** How many handles are allocated and not yet freed (a leak diagnostic). */
function liveHandles() {
  return live;
}

module.exports = { ADDRESS, HANDLE, HandleOwner, adopt, create, liveHandles, release };
