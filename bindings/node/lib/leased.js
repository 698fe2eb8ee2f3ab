'use strict';
// LeasedLimiter: a GCRA bucket per key kept in Redis, as RedisLimiter's
// (same script, same keys), checked locally from tokens this process leases
// from the Redis bucket ahead of time (fg_leased_limiter). A check is a
// synchronous call that returns a Decision: it takes a token with one atomic
// operation, and leases more in the background, on the library's own thread.
// It waits for Redis only for a key's first lease and for a lease spent
// before its refill landed, at most the deadline (default 5 ms): a wait the
// size of one Redis round trip, rarer than one in a lease's worth of checks,
// is cheaper for the event loop than a Promise and a worker thread on every
// check.

const { ffi, layout, sizes } = require('./native.js');
const { cost, describe, msAsNs, options, u32, u64 } = require('./args.js');
const { closedError, statusError } = require('./errors.js');
const { decisionIn } = require('./decision.js');
const { decodeQuota, encodeQuota, ensureQuota } = require('./quota.js');
const { adopt, create, release } = require('./handle.js');
const { onFailureCode, redisKey, storeCounters, storeOf } = require('./redis.js');

/** The options a LeasedLimiter takes, for the middleware's checks. */
const LEASE_OPTIONS = Object.freeze(['store', 'prefix', 'deadlineMs', 'onFailure', 'leaseTimeMs', 'lowWater', 'fleetSize', 'capacity']);

/** fg_lease_config from `opts` (validated: bad options throw before anything is built). */
function leaseConfig(opts) {
  const { prefix, deadlineMs, onFailure = 'open', leaseTimeMs, lowWater, fleetSize, capacity } = opts;
  if (prefix !== undefined && typeof prefix !== 'string') throw new TypeError(`prefix must be a string, got ${describe(prefix)}`);
  const positiveNs = (value, name) => {
    if (value === undefined) return 0n;
    const ns = msAsNs(value, name);
    if (ns === 0n) throw new RangeError(`${name} must be at least 1`);
    return ns;
  };
  const code = onFailureCode(onFailure);
  const percent = lowWater === undefined ? 0 : u32(lowWater, 'lowWater');
  if (lowWater !== undefined && (percent < 1 || percent > 100)) throw new RangeError(`lowWater must be a percent from 1 to 100, got ${lowWater}`);
  const count = (value, name) => {
    if (value === undefined) return 0n;
    const checked = BigInt(u64(value, name));
    if (checked === 0n) throw new RangeError(`${name} must be at least 1`);
    return checked;
  };
  return {
    struct_size: sizes.leaseConfig,
    prefix: prefix ?? null,
    prefix_len: prefix === undefined ? 0 : Buffer.byteLength(prefix, 'utf8'),
    deadline_ns: positiveNs(deadlineMs, 'deadlineMs'),
    on_failure: code,
    low_water_percent: percent,
    lease_time_ns: positiveNs(leaseTimeMs, 'leaseTimeMs'),
    fleet_size: count(fleetSize, 'fleetSize'),
    capacity: count(capacity, 'capacity'),
  };
}

class LeasedLimiter {
  #handle;
  #quota;
  #out = new Uint8Array(layout.decision.size);

  /**
   * Buckets of `quota` per key in the Redis server at `store`, spent from
   * leases. `prefix`, `deadlineMs` and `onFailure` as RedisLimiter's (a
   * leased and an exact limiter with one prefix and quota share buckets);
   * `leaseTimeMs` (default 500): how long a lease is meant to last;
   * `lowWater` (percent, default 25): lease more below it; `fleetSize`
   * (default 1): how many processes share the keys, one holding at most
   * burst / (2 x fleetSize) tokens of a key; `capacity` (default 16384):
   * keys kept locally (others are decided in Redis).
   */
  constructor(quota, opts) {
    ensureQuota(quota, 'quota');
    const given = options(opts, 'options');
    const unknown = Object.keys(given).filter((name) => !LEASE_OPTIONS.includes(name) && given[name] !== undefined);
    if (unknown.length > 0) throw new TypeError(`options of a leased limit are ${LEASE_OPTIONS.join(', ')}, got ${unknown.join(', ')}`);
    const config = leaseConfig(given);
    this.#quota = encodeQuota(quota, new Uint8Array(layout.quota.size));
    const storeHandle = storeOf(given.store);
    this.#handle = create((out) => ffi.leasedLimiterNew(storeHandle, this.#quota, config, out));
    adopt(this, this.#handle, ffi.leasedLimiterFree);
  }

  /** The quota every key gets. */
  get quota() {
    return decodeQuota(this.#quota);
  }

  get closed() {
    return this.#handle === null;
  }

  /** Charges `amount` (default 1) to `key`: its Decision, decided locally while the key's lease lasts. */
  check(key, amount = 1) {
    if (this.#handle === null) throw closedError('LeasedLimiter');
    const units = cost(amount, 'cost');
    // The call reads the key at once: a Buffer needs no copy.
    const bytes = redisKey(key);
    const status = ffi.leasedLimiterCheck(this.#handle, bytes, bytes.length, units, this.#out);
    if (status !== 0) throw statusError(status);
    return decisionIn(this.#out);
  }

  /**
   * The Redis calls' outcomes (RedisLimiter's counters) and how checks were
   * decided: { exact, cached, failedOpen, failedClosed, localAdmitted,
   * localDenied, timeouts, errors, skipped, breakerOpened, leases: { local, leases, waited, granted,
   * giveBacks, returned, exact } }.
   */
  get counters() {
    if (this.#handle === null) throw closedError('LeasedLimiter');
    const store = { struct_size: sizes.storeCounters };
    const leases = { struct_size: sizes.leaseCounters };
    const status = ffi.leasedLimiterCounters(this.#handle, store, leases);
    if (status !== 0) throw statusError(status);
    return {
      ...storeCounters(store),
      leases: {
        local: Number(leases.local),
        leases: Number(leases.leases),
        waited: Number(leases.waited),
        granted: Number(leases.granted),
        giveBacks: Number(leases.give_backs),
        returned: Number(leases.returned),
        exact: Number(leases.exact),
      },
    };
  }

  /** Frees the handle, giving unspent tokens back to Redis in the background; later calls throw. Idempotent. */
  close() {
    if (this.#handle === null) return;
    const handle = this.#handle;
    this.#handle = null;
    release(this, handle, ffi.leasedLimiterFree);
  }

  [Symbol.dispose]() {
    this.close();
  }
}

module.exports = { LEASE_OPTIONS, LeasedLimiter };
