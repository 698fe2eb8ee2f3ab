'use strict';
// Plans: a plan table (fg_plans). Each tier limits every API key with a
// GCRA bucket and every workspace with a sliding window; a request is
// checked against its key's and its workspace's limits together, and a
// refusal charges neither. Keys and workspace ids are strings (UTF-8) or
// Buffers, as the ABI takes them.

const { ffi, layout, limits, nativeScratch, sizes } = require('./native.js');
const { cost, describe, options, u64 } = require('./args.js');
const { statusError } = require('./errors.js');
const { countsBuffer, decisionBuffer, readCounts, readDecision, readScopeCode } = require('./decision.js');
const { HANDLE, HandleOwner } = require('./handle.js');
const { ensureQuota } = require('./quota.js');
const { KIND, checkBytesKey, scratch, writeStringKey } = require('./keys.js');
const { tableBytes } = require('./tables.js');
const { SCOPES } = require('./policy.js');
const { isShared, removeSegment, sharedOption, sharedStruct } = require('./shared.js');

const NS_PER_MINUTE = 60_000_000_000;
const U32_MAX = 2 ** 32 - 1;
/** UINT64_MAX as a number: an unlimited tier's limit and remaining. */
const UNLIMITED = 2 ** 64;
const SCOPE_NAMES = Object.fromEntries(Object.entries(SCOPES).map(([name, code]) => [code, name]));
/** Where a string workspace id is encoded (the key goes in keys.js's scratch). */
const workspaceScratch = nativeScratch(limits.maxKeyLen);
/** The constructor's first argument from Plans.genieos (not reachable from outside). */
const GENIEOS = Symbol('floodgate.genieosPlans');
const tierOut = new Uint32Array(1);

/** The library's capacities when fg_plans_config leaves them 0. */
const DEFAULT_KEY_CAPACITY = 100_000;
const DEFAULT_WORKSPACE_CAPACITY = 10_000;
/** Plans.genieos's tiers: sandbox, hobby, pro and scale. */
const GENIEOS_TIERS = 4;

/** Native bytes of `tiers` tiers (see tableBytes): a key and a workspace table each. */
function plansBytes(tiers, config) {
  const keys = Number(config.key_capacity) || DEFAULT_KEY_CAPACITY;
  const workspaces = Number(config.workspace_capacity) || DEFAULT_WORKSPACE_CAPACITY;
  return tiers * tableBytes(keys + workspaces)(KIND.BYTES);
}

/** fg_plans_config from options. */
function plansConfig(opts, windowNs) {
  const { keyCapacity = 0, workspaceCapacity = 0 } = opts;
  return {
    struct_size: sizes.plansConfig,
    window_ns: windowNs,
    key_capacity: u64(keyCapacity, 'keyCapacity'),
    workspace_capacity: u64(workspaceCapacity, 'workspaceCapacity'),
  };
}

/** A tier's limits as an fg_tier: `keyQuota` a Quota or null, `workspaceLimit` 0 for none. */
function tierStruct(spec, what, name = null) {
  if (spec === null || typeof spec !== 'object') throw new TypeError(`${what} must be an object, got ${describe(spec)}`);
  const { keyQuota = null, workspaceLimit = 0 } = spec;
  const quota = keyQuota === null ? null : ensureQuota(keyQuota, `${what}.keyQuota`);
  return {
    struct_size: sizes.tier,
    name,
    name_len: name === null ? 0 : Buffer.byteLength(name),
    key_quota:
      quota === null
        ? null
        : { struct_size: layout.quota.size, count: quota.count, period_ns: quota.periodNs, burst: quota.burst, lockout_ns: quota.lockoutNs },
    workspace_limit: u64(workspaceLimit, `${what}.workspaceLimit`),
  };
}

function tierName(name, what) {
  if (typeof name !== 'string') throw new TypeError(`${what} must be a string, got ${describe(name)}`);
  if (name === '' || name.includes('\0')) throw new RangeError(`${what} must be non-empty without NUL, got '${name}'`);
  return name;
}

/** Writes a key or workspace id and returns [pointer-or-bytes, length]. */
function bytesArgument(value, target, what) {
  if (typeof value === 'string') return [target.address, writeStringKey(value, target.buffer)];
  if (value instanceof Uint8Array) {
    checkBytesKey(value);
    return [value, value.length];
  }
  throw new TypeError(`${what} must be a string or Buffer, got ${describe(value)}`);
}

class Plans extends HandleOwner {
  /** Tier indexes by name, as looked up so far. */
  #tiers = new Map();

  /**
   * `tiers`: at least one `{ name, keyQuota, workspaceLimit }` (keyQuota null
   * or absent: keys not limited; workspaceLimit 0 or absent: workspaces not
   * limited). Options: `windowNs` (the workspace window, default one minute),
   * `keyCapacity` (keys per tier, default 100,000), `workspaceCapacity`
   * (default 10,000), `shared`: a segment name, `{ name }` or `{ path }`
   * (see shared.js): every tier's tables then live in that one segment,
   * and every process and thread that builds these plans with it (and the
   * same tiers and options) shares each key's bucket, each workspace's
   * window and every reconfigureTier().
   */
  constructor(tiers, opts) {
    const o = options(opts, 'options');
    const shared = sharedOption(o.shared, 'options.shared');
    if (tiers === GENIEOS) {
      const config = plansConfig(o, 0);
      super(
        'Plans',
        shared === null
          ? (out) => ffi.plansNewGenieos(config, out)
          : (out) => ffi.plansNewGenieosShared(config, sharedStruct(shared), out),
        ffi.plansFree,
        plansBytes(GENIEOS_TIERS, config),
      );
      return;
    }
    if (!Array.isArray(tiers)) throw new TypeError(`tiers must be an array, got ${describe(tiers)}`);
    const config = plansConfig(o, u64(o.windowNs ?? NS_PER_MINUTE, 'windowNs'));
    const specs = tiers.map((spec, i) => tierStruct(spec, `tiers[${i}]`, tierName(spec?.name, `tiers[${i}].name`)));
    super(
      'Plans',
      shared === null
        ? (out) => ffi.plansNew(specs, specs.length, config, out)
        : (out) => ffi.plansNewShared(specs, specs.length, config, sharedStruct(shared), out),
      ffi.plansFree,
      plansBytes(specs.length, config),
    );
  }

  /**
   * GenieOS's plans: 'sandbox' (unlimited), 'hobby' (30/s burst 60 per key,
   * 600/min per workspace), 'pro' (60/s burst 120; 1,800/min) and 'scale'
   * (120/s burst 240; 6,000/min).
   */
  static genieos(opts) {
    return new Plans(GENIEOS, opts);
  }

  /** Deletes the segment `shared` names; processes using it keep their mapping. */
  static removeShared(shared) {
    removeSegment(sharedOption(shared, 'shared'));
  }

  /** Whether the plans live in a shared segment. */
  get isShared() {
    return isShared(ffi.plansIsShared, this[HANDLE]);
  }

  /** The index of tier `name` (FloodgateRangeError ERR_FLOODGATE_NO_SUCH_LAYER if none). */
  tier(name) {
    const known = this.#tiers.get(name);
    if (known !== undefined) return known;
    tierName(name, 'name');
    const bytes = Buffer.from(name);
    const status = ffi.plansTier(this[HANDLE], bytes, bytes.length, tierOut);
    if (status !== 0) throw statusError(status);
    this.#tiers.set(name, tierOut[0]);
    return tierOut[0];
  }

  /** A tier given by name or index, as the library's index. */
  #index(tier) {
    if (typeof tier === 'string') return this.tier(tier);
    if (typeof tier !== 'number') throw new TypeError(`tier must be a tier name or index, got ${describe(tier)}`);
    if (!Number.isInteger(tier) || tier < 0 || tier > U32_MAX) throw new RangeError(`tier must be an index in [0, 2^32 - 1], got ${tier}`);
    return tier;
  }

  /**
   * Checks `amount` (default 1) for API key `key` of workspace `workspace`
   * on `tier` (name or index) now, or at `nowNs`. `scope` is 'key' or
   * 'workspace': the limit that decided. A refusal charges neither limit.
   * An unlimited tier admits with limit and remaining Infinity.
   */
  check(tier, key, workspace, amount = 1, nowNs) {
    const handle = this[HANDLE];
    const index = this.#index(tier);
    const units = cost(amount, 'cost');
    const at = nowNs === undefined ? undefined : u64(nowNs, 'nowNs');
    const [keyBytes, keyLength] = bytesArgument(key, scratch, 'key');
    const [workspaceBytes, workspaceLength] = bytesArgument(workspace, workspaceScratch, 'workspace');
    const status =
      at === undefined
        ? ffi.plansCheck(handle, index, keyBytes, keyLength, workspaceBytes, workspaceLength, units, decisionBuffer)
        : ffi.plansCheckAt(handle, index, keyBytes, keyLength, workspaceBytes, workspaceLength, units, at, decisionBuffer);
    if (status !== 0) throw statusError(status);
    const decision = readDecision(0, SCOPE_NAMES[readScopeCode()] ?? null);
    if (decision.limit === UNLIMITED) {
      decision.limit = Infinity;
      decision.remaining = Infinity;
    }
    return decision;
  }

  /**
   * Replaces `tier`'s limits (`{ keyQuota, workspaceLimit }`): keys keep
   * their usage and workspaces their counts. A limit can be changed, not
   * added or removed (FloodgateRangeError ERR_FLOODGATE_NO_SUCH_LAYER).
   */
  reconfigureTier(tier, limits) {
    const handle = this[HANDLE];
    const index = this.#index(tier);
    const spec = tierStruct(limits, 'limits');
    const status = ffi.plansReconfigureTier(handle, index, spec);
    if (status !== 0) throw statusError(status);
  }

  /** `tier`'s counts so far: requests admitted, denied and refused as suspended. */
  counters(tier) {
    const handle = this[HANDLE];
    const status = ffi.plansCounters(handle, this.#index(tier), countsBuffer);
    if (status !== 0) throw statusError(status);
    const [admitted, denied, suspended] = readCounts();
    return { admitted, denied, suspended };
  }
}

module.exports = { Plans };
