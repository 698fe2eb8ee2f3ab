'use strict';
// Policy: several limits checked together for one request (fg_policy). A
// request is admitted only if every enforcing layer admits it, and a refusal
// charges no layer. Layers are the Limiter, KeyedLimiter, SlidingWindow,
// KeyedWindows and Suspensions objects themselves: checks through them and through the policy share
// their buckets.

const { ffi, layout, limits, nativeScratch, sizes } = require('./native.js');
const { cost, describe, u64 } = require('./args.js');
const { closedError, statusError } = require('./errors.js');
const { countsBuffer: counts, decisionBuffer, readCounts, readDecision, readVerdictLayer } = require('./decision.js');
const { HANDLE, adopt, release } = require('./handle.js');
const { KIND, checkBytesKey, idKey, writeStringKey } = require('./keys.js');
const { KeyedLimiter } = require('./keyed.js');
const { TABLE } = require('./tables.js');
const { Limiter } = require('./limiter.js');
const { SlidingWindow } = require('./window.js');
const { KeyedWindows } = require('./keyed-windows.js');
const { Suspensions } = require('./suspensions.js');

/** Built-in scopes (FG_SCOPE_*); any other name is FG_SCOPE_NAMED. */
const SCOPES = Object.freeze({ key: 1, workspace: 2, ip: 3, endpoint: 4, token: 5 });
const SCOPE_NAMED = 6;
const LAYER_SHADOW = 1;
const LAYER_KEY_NONE = 0;
const TWO_POW_32 = 2 ** 32;

const { maxKeyLen, maxLayers } = limits;
/** Where each layer's byte key is written for a check: slot i for layer i. */
const arena = nativeScratch(maxKeyLen * maxLayers);
const slots = Array.from({ length: maxLayers }, (_, i) => arena.buffer.subarray(i * maxKeyLen, (i + 1) * maxKeyLen));

/** The fg_layer member a limit goes in (undefined: not a layer). */
function layerField(limit) {
  if (limit instanceof Limiter) return 'limiter';
  if (limit instanceof KeyedLimiter) return 'keyed_limiter';
  if (limit instanceof SlidingWindow) return 'window';
  if (limit instanceof Suspensions) return 'suspensions';
  if (limit instanceof KeyedWindows) return 'keyed_window';
  return undefined;
}
/** Members whose limit takes a key per request (its [TABLE](kind) gives the handle). */
const KEYED_FIELDS = new Set(['keyed_limiter', 'suspensions', 'keyed_window']);

/** Validates one layer description: { limit, scope, shadow }. */
function layerOf(spec, index) {
  const name = `layers[${index}]`;
  if (spec === null || typeof spec !== 'object') throw new TypeError(`${name} must be an object, got ${describe(spec)}`);
  const { limit, scope, shadow = false } = spec;
  const field = layerField(limit);
  if (field === undefined) {
    throw new TypeError(
      `${name}.limit must be a Limiter, KeyedLimiter, SlidingWindow, KeyedWindows or Suspensions, got ${describe(limit)}`,
    );
  }
  if (typeof scope !== 'string') throw new TypeError(`${name}.scope must be a string, got ${describe(scope)}`);
  if (scope === '') throw new RangeError(`${name}.scope must not be empty`);
  if (typeof shadow !== 'boolean') throw new TypeError(`${name}.shadow must be a boolean, got ${describe(shadow)}`);
  return { limit, scope, shadow, field, keyed: KEYED_FIELDS.has(field) };
}

class Policy {
  #layers;
  /** Native policies by the key kinds of their keyed layers (bit i: layer i takes number keys). */
  #natives = new Map();
  #scopes;
  #keys;
  #keysView;
  #closed = false;

  /**
   * `layers`: up to 32 of `{ limit, scope, shadow }`, checked in order (put
   * a Suspensions layer first, so a suspended key charges no bucket).
   * `scope` is 'key', 'workspace', 'ip', 'endpoint', 'token' or a name of your
   * own ('license-activation'); a `shadow` layer is evaluated and counted but
   * never refuses.
   */
  constructor(layers) {
    if (!Array.isArray(layers)) throw new TypeError(`layers must be an array, got ${describe(layers)}`);
    this.#layers = layers.map(layerOf);
    const keySize = layout.layerKey.size;
    this.#keys = new Uint8Array(Math.max(1, layers.length) * keySize);
    this.#keysView = new DataView(this.#keys.buffer);
    const { littleEndian } = layout;
    this.#layers.forEach((layer, i) => {
      const slot = arena.address + BigInt(i * maxKeyLen);
      this.#keysView.setBigUint64(i * keySize + layout.layerKey.bytes, slot, littleEndian);
    });
    // Byte keys for every keyed layer: built now, so the library checks the layers.
    const native = this.#native(0);
    this.#scopes = this.#layers.map((_, i) => {
      const out = [null];
      const status = ffi.policyLayerScope(native, i, out);
      if (status !== 0) throw statusError(status);
      return out[0];
    });
  }

  /** The native policy for key-kind signature `kinds`, built at its first use. */
  #native(kinds) {
    const built = this.#natives.get(kinds);
    if (built !== undefined) return built.handle;
    const specs = this.#layers.map((layer, i) => ({
      struct_size: sizes.layer,
      scope: SCOPES[layer.scope] ?? SCOPE_NAMED,
      flags: layer.shadow ? LAYER_SHADOW : 0,
      name: layer.scope,
      name_len: Buffer.byteLength(layer.scope),
      limiter: null,
      keyed_limiter: null,
      window: null,
      suspensions: null,
      keyed_window: null,
      [layer.field]: layer.keyed ? layer.limit[TABLE](kinds & (1 << i) ? KIND.U64 : KIND.BYTES) : layer.limit[HANDLE],
    }));
    const out = [null];
    const status = ffi.policyNew(specs, specs.length, out);
    if (status !== 0) throw statusError(status);
    const token = {};
    adopt(this, out[0], ffi.policyFree, token);
    this.#natives.set(kinds, { handle: out[0], token });
    return out[0];
  }

  /** Writes layer `i`'s key into the keys array; returns its kind bit. */
  #writeKey(i, key) {
    const at = i * layout.layerKey.size;
    const view = this.#keysView;
    const { littleEndian } = layout;
    const { kind: KIND_AT, id: ID_AT, len: LEN_AT } = layout.layerKey;
    if (!this.#layers[i].keyed) {
      if (key !== null && key !== undefined) {
        throw new TypeError(`keys[${i}] must be null: layer ${i} (${this.#layers[i].scope}) is not keyed, got ${describe(key)}`);
      }
      view.setUint32(at + KIND_AT, LAYER_KEY_NONE, littleEndian);
      return 0;
    }
    let length;
    if (typeof key === 'string') {
      length = writeStringKey(key, slots[i]);
    } else if (key instanceof Uint8Array) {
      checkBytesKey(key);
      slots[i].set(key);
      length = key.length;
    } else {
      const id = idKey(key);
      view.setUint32(at + KIND_AT, KIND.U64, littleEndian);
      if (typeof id === 'bigint') view.setBigUint64(at + ID_AT, id, littleEndian);
      else {
        view.setUint32(at + ID_AT + (littleEndian ? 0 : 4), id % TWO_POW_32, littleEndian);
        view.setUint32(at + ID_AT + (littleEndian ? 4 : 0), Math.floor(id / TWO_POW_32), littleEndian);
      }
      return 1 << i;
    }
    view.setUint32(at + KIND_AT, KIND.BYTES, littleEndian);
    view.setUint32(at + LEN_AT + (littleEndian ? 0 : 4), length, littleEndian);
    view.setUint32(at + LEN_AT + (littleEndian ? 4 : 0), 0, littleEndian);
    return 0;
  }

  #live() {
    if (this.#closed) throw closedError('Policy');
  }

  /**
   * Checks `amount` (default 1) against every layer, now or at `nowNs`.
   * `keys[i]` is layer i's key (string, Buffer, number or bigint; null for a
   * Limiter or SlidingWindow layer). The decision's `scope` and `layer` name
   * the deciding layer: the one refusing with the longest wait, or when
   * admitted the enforcing layer with the fewest units left.
   */
  check(keys, amount = 1, nowNs) {
    this.#live();
    if (!Array.isArray(keys)) throw new TypeError(`keys must be an array, got ${describe(keys)}`);
    const count = this.#layers.length;
    if (keys.length !== count) throw new RangeError(`keys must have one key per layer (${count}), got ${keys.length}`);
    const units = cost(amount, 'cost');
    const at = nowNs === undefined ? undefined : u64(nowNs, 'nowNs');
    let kinds = 0;
    for (let i = 0; i < count; i += 1) kinds |= this.#writeKey(i, keys[i]);
    const handle = this.#native(kinds);
    const status =
      at === undefined
        ? ffi.policyCheck(handle, this.#keys, count, units, decisionBuffer)
        : ffi.policyCheckAt(handle, this.#keys, count, units, at, decisionBuffer);
    if (status !== 0) throw statusError(status);
    const layer = readVerdictLayer();
    return readDecision(0, this.#scopes[layer], layer);
  }

  /** The layers' scope names, in order. */
  get scopes() {
    return [...this.#scopes];
  }

  /** Per layer, in order, whether it takes a key (its entry in check's keys is not null). */
  get keyed() {
    return this.#layers.map((layer) => layer.keyed);
  }

  /**
   * Counts so far: requests admitted, denied (on rate) and refused as
   * suspended, and per layer the requests it denied, would have denied (a
   * shadow layer) and refused as suspended.
   */
  counters() {
    this.#live();
    const total = { admitted: 0, denied: 0, suspended: 0 };
    const layers = this.#layers.map((layer, i) => ({ scope: this.#scopes[i], shadow: layer.shadow, denied: 0, shadowDenied: 0, suspended: 0 }));
    for (const { handle } of this.#natives.values()) {
      let status = ffi.policyCounters(handle, counts);
      if (status !== 0) throw statusError(status);
      const [admitted, denied, suspended] = readCounts();
      total.admitted += admitted;
      total.denied += denied;
      total.suspended += suspended;
      for (let i = 0; i < layers.length; i += 1) {
        status = ffi.policyLayerCounters(handle, i, counts);
        if (status !== 0) throw statusError(status);
        const [layerDenied, shadowDenied, layerSuspended] = readCounts();
        layers[i].denied += layerDenied;
        layers[i].shadowDenied += shadowDenied;
        layers[i].suspended += layerSuspended;
      }
    }
    return { ...total, layers };
  }

  get closed() {
    return this.#closed;
  }

  /** Frees the policy (its layers stay usable through their own objects). Idempotent. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const { handle, token } of this.#natives.values()) release(token, handle, ffi.policyFree);
    this.#natives.clear();
  }

  [Symbol.dispose]() {
    this.close();
  }
}

module.exports = { Policy, SCOPES };
