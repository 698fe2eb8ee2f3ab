// Type declarations for floodgate (bindings/node). Checked by `tsc --noEmit`
// against test/types.ts in run-tests.sh.

/// <reference types="node" />

import type { IncomingMessage, ServerResponse } from 'node:http';

/** An unsigned 64-bit integer: a non-negative integer number or a bigint up to 2^64 - 1. */
export type U64 = number | bigint;

/** The major and minor ABI version of the loaded library. */
export declare const abiVersion: Readonly<{ major: number; minor: number }>;

/** fg_status values by name (include/floodgate.h). */
export declare const STATUS: Readonly<{
  OK: 0;
  NULL_POINTER: -1;
  MISALIGNED_POINTER: -2;
  STRUCT_SIZE: -3;
  INVALID_LENGTH: -4;
  INVALID_ARGUMENT: -5;
  BUFFER_TOO_SMALL: -6;
  INVALID_UTF8: -7;
  KEY_KIND_MISMATCH: -8;
  ALLOCATION_FAILED: -9;
  ZERO_COUNT: -10;
  ZERO_PERIOD: -11;
  ZERO_BURST: -12;
  PERIOD_TOO_LONG: -13;
  RATE_TOO_HIGH: -14;
  BURST_TOO_LARGE: -15;
  LOCKOUT_TOO_LONG: -16;
  INEXACT_RATE: -17;
  NO_LAYERS: -20;
  TOO_MANY_LAYERS: -21;
  LAYER_KEY_COUNT: -22;
  NO_SUCH_LAYER: -23;
  ZERO_LIMIT: -30;
  LIMIT_TOO_LARGE: -31;
  ZERO_WINDOW: -32;
  WINDOW_TOO_LONG: -33;
  PERMIT_ALREADY_RELEASED: -40;
  FOREIGN_PERMIT: -41;
  INVALID_RETRY_AFTER: -50;
  INVALID_TEMPLATE: -51;
  INVALID_RETRY_POLICY: -52;
  INVALID_POLICY_NAME: -53;
  ZERO_CAPACITY: -60;
  CAPACITY_TOO_LARGE: -61;
  EMPTY_KEY: -62;
  KEY_TOO_LONG: -63;
  TABLE_FULL: -64;
  TOO_MANY_OVERRIDES: -65;
  SEGMENT_IO: -70;
  SEGMENT_MISMATCH: -71;
  SEGMENT_NOT_READY: -72;
  SHARED_UNSUPPORTED: -73;
  INVALID_SEGMENT_NAME: -74;
  INVALID_STORE_URL: -80;
  STORE_THREAD: -81;
  STORE_UNAVAILABLE: -82;
  PANIC: -100;
}>;

/**
 * A failure that is not an argument's range: a closed handle
 * (ERR_FLOODGATE_CLOSED), a permit released twice or to another cap, a full
 * key table, a library bug.
 */
export declare class FloodgateError extends Error {
  readonly code: string;
  /** The fg_status when the library refused the call. */
  readonly status?: number;
}

/** A value the library refused as out of range, e.g. ERR_FLOODGATE_ZERO_BURST. */
export declare class FloodgateRangeError extends RangeError {
  readonly code: string;
  readonly status: number;
}

export interface QuotaOptions {
  /** Requests allowed at once from a full bucket; defaults to the count. */
  burst?: U64;
  /**
   * Lockout: requests made while denied are charged too, pushing the wait out
   * by up to this many ns past an empty bucket. 0 (default) turns it off.
   */
  lockoutNs?: U64;
}

/** `count` requests per `periodNs` nanoseconds, with bursts of up to `burst`. Immutable. */
export declare class Quota {
  /** Throws FloodgateRangeError when the library refuses the quota (zero count, rate above 1/ns, ...). */
  constructor(count: U64, periodNs: U64, options?: QuotaOptions);
  static perSecond(count: U64, options?: QuotaOptions): Quota;
  static perMinute(count: U64, options?: QuotaOptions): Quota;
  static perHour(count: U64, options?: QuotaOptions): Quota;
  static perDay(count: U64, options?: QuotaOptions): Quota;
  static perPeriodMs(count: U64, periodMs: U64, options?: QuotaOptions): Quota;
  readonly count: bigint;
  readonly periodNs: bigint;
  readonly burst: bigint;
  readonly lockoutNs: bigint;
  /** The period in milliseconds. */
  readonly periodMs: number;
  withBurst(burst: U64): Quota;
  withLockout(lockoutNs: U64): Quota;
  equals(other: unknown): boolean;
  toJSON(): { count: string; periodNs: string; burst: string; lockoutNs: string };
}

/**
 * 'cannot_fit': the cost exceeds the burst (nothing charged); 'suspended': the
 * key is suspended, not rate limited (retryAfterNs is the suspension's end, 0
 * when open-ended).
 */
export type Outcome = 'admitted' | 'denied' | 'cannot_fit' | 'suspended';

/** The fields renderers read: a Decision, or a plain object with these. */
export interface DecisionFields {
  /** Whether the request may go (outcome === 'admitted'). */
  readonly admitted: boolean;
  readonly outcome: Outcome;
  /** The burst capacity: X-RateLimit-Limit. */
  readonly limit: U64;
  /** Whole units left after this decision: X-RateLimit-Remaining. */
  readonly remaining: U64;
  /** Until the bucket is full again. */
  readonly resetAfterNs: U64;
  /** When denied, the wait after which the same cost is admitted (never 0); 0 otherwise. */
  readonly retryAfterNs: U64;
  /** A policy layer's scope name; null for a single limit's own decision. */
  readonly scope?: string | null;
}

/**
 * The answer to a check, peek, refund or reserve: plain data plus one helper.
 * Nanosecond and count fields are numbers, exact up to 2^53 (104 days of ns).
 */
export declare class Decision implements DecisionFields {
  private constructor();
  readonly admitted: boolean;
  readonly outcome: Outcome;
  readonly limit: number;
  readonly remaining: number;
  readonly resetAfterNs: number;
  readonly resetAfterMs: number;
  readonly retryAfterNs: number;
  readonly retryAfterMs: number;
  /** A reservation's wait before proceeding; 0 for every other call. */
  readonly delayNs: number;
  readonly delayMs: number;
  /** The deciding layer's scope name ('key', 'workspace', your own) for a Policy; null otherwise. */
  readonly scope: string | null;
  /** The deciding layer's index for a Policy; null otherwise. */
  readonly layer: number | null;
  /** Whether at most `percent` (default 20, GenieOS) of the limit remains. */
  inWarningZone(percent?: U64): boolean;
}

/** A Policy's decision always names its deciding layer. */
export type PolicyDecision = Decision & { readonly scope: string; readonly layer: number };

/**
 * Where a shared object's state lives (any kind takes it as its `shared`
 * option: Limiter, KeyedLimiter, SlidingWindow, KeyedWindows, Suspensions,
 * InFlight, KeyedInFlight, Plans): a segment name (the file
 * /dev/shm/floodgate.<name>: 1 to 200 ASCII letters, digits, '.', '_', '-'),
 * or a file every worker process can open. `waitMs`: how long to wait for
 * another process still creating the segment (default 5,000).
 */
export type SharedSegment = string | { name: string; path?: undefined; waitMs?: U64 } | { path: string; name?: undefined; waitMs?: U64 };

export interface LimiterOptions {
  /**
   * Keep the bucket in this shared segment: every process and thread that
   * builds the limiter with it (and the same quota) charges one bucket. A
   * segment holding another quota throws FloodgateError
   * (ERR_FLOODGATE_SEGMENT_MISMATCH) saying what differs.
   */
  shared?: SharedSegment;
}

/** One lock-free GCRA bucket in native memory. Free it with close() (or let the GC do it). */
export declare class Limiter implements Disposable {
  constructor(quota: Quota, options?: LimiterOptions);
  /** Deletes the segment; processes using it keep their mapping. A missing segment is not an error. */
  static removeShared(shared: SharedSegment): void;
  /** Whether the bucket lives in a shared segment. */
  readonly isShared: boolean;
  /** Charges `cost` (default 1) now, or at `nowNs` on the caller's own monotonic timeline. */
  check(cost?: U64, nowNs?: U64): Decision;
  /** The bucket as it stands, charging nothing. */
  peek(nowNs?: U64): Decision;
  /** Gives back `amount` (default 1); the bucket never exceeds its burst. */
  refund(amount?: U64, nowNs?: U64): Decision;
  /** Replaces the quota while checks go on; what was used carries over. */
  reconfigure(quota: Quota, nowNs?: U64): void;
  /**
   * Delay instead of reject: reserves `cost` if available within `maxWaitNs`;
   * `delayNs` is the wait before proceeding. Cancel with refund(cost).
   */
  reserve(cost: U64, maxWaitNs: U64, nowNs?: U64): Decision;
  /** Suspends until `untilNs` on the limiter's timeline, or indefinitely (null). */
  suspendUntil(untilNs: U64 | null): void;
  /** Suspends for `durationNs` from now (library clock). */
  suspendFor(durationNs: U64): void;
  liftSuspension(): void;
  /** Whether suspended at `nowNs`; `untilNs` is null without an end (or when not suspended). */
  suspensionAt(nowNs: U64): { suspended: boolean; untilNs: number | null };
  /** The quota in force. */
  readonly quota: Quota;
  readonly closed: boolean;
  /** Frees the bucket now; later calls throw FloodgateError (ERR_FLOODGATE_CLOSED). Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}

/** A rate-limit key: strings as UTF-8 (1-4096 bytes), Buffers/Uint8Arrays as bytes, numbers/bigints as u64 ids. */
export type Key = string | Uint8Array | number | bigint;

export interface KeyedLimiterOptions {
  /** Keys each kind's table holds (default 65,536; allocated up front). */
  capacity?: U64;
  /** What a new key that finds no slot gets (default 'deny'). */
  onFull?: 'deny' | 'admit' | 'overflow';
  /** Keys that may hold their own quota (default capacity / 8). */
  maxOverrides?: U64;
  /**
   * Keep the tables in shared segments (byte keys in this one, number keys
   * in `<name>.u64`): every process and thread that builds the limiter with
   * it and the same settings shares each key's bucket.
   */
  shared?: SharedSegment;
}

/** Where and how a limit kept in Redis lives (RedisLimiter, rateLimit's `store`). */
export interface RedisOptions {
  /** The server: 'redis://host:port/db' or 'redis+unix:///path'; or a Redis Cluster's node URLs (any of them). */
  store: RedisStore;
  /** What every bucket's Redis key starts with (default 'floodgate:'): limits with different quotas need different prefixes. */
  prefix?: string;
  /** How long a call may wait for Redis, connecting included (default 5). */
  deadlineMs?: number;
  /** When Redis gives no answer in time: 'open' admits (the default), 'closed' denies, 'local' decides by this process's share. */
  onFailure?: OnFailure;
}

/** A Redis server's URL, or a Redis Cluster's node URLs. */
export type RedisStore = string | readonly string[];

/**
 * What a limit kept in Redis answers when Redis does not: 'open' admits,
 * 'closed' denies, 'local' decides by this process's share of the limit
 * (the rate and burst divided by the hosts counted by heartbeats in Redis).
 */
export type OnFailure = 'open' | 'closed' | 'local';

/** A RedisLimiter's counts so far. */
export interface StoreCounters {
  /** Decisions Redis made. */
  exact: number;
  /** Denials the local deny cache answered without a round trip. */
  cached: number;
  failedOpen: number;
  failedClosed: number;
  /** Requests onFailure 'local' admitted by this process's share. */
  localAdmitted: number;
  /** Requests onFailure 'local' refused by this process's share. */
  localDenied: number;
  timeouts: number;
  errors: number;
  /** Degraded answers given without trying, the circuit breaker being open. */
  skipped: number;
  breakerOpened: number;
}

/**
 * A GCRA bucket per string or Buffer key kept in Redis: every process and
 * host using the same server, prefix and quota enforces one limit, with the
 * local KeyedLimiter's decisions. Each call waits for Redis on a worker
 * thread and answers with a Promise; bad arguments throw synchronously.
 * `new KeyedLimiter(quota, { store })` builds one too.
 */
export declare class RedisLimiter implements Disposable {
  constructor(quota: Quota, options: RedisOptions);
  check(key: string | Uint8Array, cost?: U64): Promise<Decision>;
  peek(key: string | Uint8Array): Promise<Decision>;
  refund(key: string | Uint8Array, amount?: U64): Promise<Decision>;
  readonly quota: Quota;
  readonly counters: StoreCounters;
  readonly closed: boolean;
  /** Frees the handle once the calls still running have answered. */
  close(): void;
  [Symbol.dispose](): void;
}

/**
 * A sliding window per string or Buffer key kept in Redis: at most `limit`
 * units per key in any window of `windowNs` (at least a microsecond) for
 * every process and host using the same server, prefix, limit and window,
 * with a local KeyedWindows' decisions. Calls answer with Promises, as
 * RedisLimiter's; `prefix` defaults to 'floodgate:window:'.
 * `new KeyedWindows(limit, windowNs, { store })` builds one too.
 */
export declare class RedisWindows implements Disposable {
  constructor(limit: U64, windowNs: U64, options: RedisOptions);
  check(key: string | Uint8Array, cost?: U64): Promise<Decision>;
  peek(key: string | Uint8Array): Promise<Decision>;
  refund(key: string | Uint8Array, amount?: U64): Promise<Decision>;
  readonly limit: number;
  readonly windowNs: number;
  readonly counters: StoreCounters;
  readonly closed: boolean;
  /** Frees the handle once the calls still running have answered. */
  close(): void;
  [Symbol.dispose](): void;
}

/** Where and how a leased limit lives and leases (LeasedLimiter). */
export interface LeaseOptions extends RedisOptions {
  /** How long a lease is meant to last (default 500). */
  leaseTimeMs?: number;
  /** Lease more when fewer than this percent (1 to 100) of the last lease is left (default 25). */
  lowWater?: number;
  /** How many processes share the keys: one holds at most burst / (2 x fleetSize) tokens of a key (default 1). */
  fleetSize?: number;
  /** How many keys are leased locally; others are checked in Redis each time (default 16384). */
  capacity?: number;
}

/** A LeasedLimiter's counts so far: its Redis calls', and how its checks were decided. */
export interface LeaseCounters extends StoreCounters {
  leases: {
    /** Checks decided locally. */
    local: number;
    /** Lease calls, in the background or waited on. */
    leases: number;
    /** Lease calls a check waited on. */
    waited: number;
    /** Tokens the leases granted. */
    granted: number;
    giveBacks: number;
    /** Tokens given back. */
    returned: number;
    /** Checks decided by an exact call instead. */
    exact: number;
  };
}

/**
 * RedisLimiter's buckets (same script and keys), checked locally from
 * tokens this process leases ahead of time: `check` is synchronous and
 * waits for Redis (up to `deadlineMs`) only for a key's first lease or a
 * lease spent before its refill landed. No process admits a request the
 * Redis bucket was not charged for.
 */
export declare class LeasedLimiter implements Disposable {
  constructor(quota: Quota, options: LeaseOptions);
  check(key: string | Uint8Array, cost?: U64): Decision;
  readonly quota: Quota;
  readonly counters: LeaseCounters;
  readonly closed: boolean;
  /** Frees the handle, giving unspent tokens back to Redis. */
  close(): void;
  [Symbol.dispose](): void;
}

/** RedisOptions, with how long a permit is leased. */
export interface RedisInFlightOptions extends RedisOptions {
  /** How long a permit is held without being renewed (default 30,000); 'floodgate:inflight:' is the default prefix. */
  leaseMs?: number;
}

/**
 * At most `limit` requests per string or Buffer key in flight at once,
 * kept in Redis for every process and host using the same server and
 * prefix. Its permits are leases: a dead host's come back one lease after
 * it last took or renewed them. Calls answer with Promises.
 */
export declare class RedisInFlight implements Disposable {
  constructor(limit: U64, options: RedisInFlightOptions);
  /** A permit if fewer than the cap are out fleet-wide, else null. */
  acquire(key: string | Uint8Array): Promise<RedisPermit | null>;
  readonly limit: number;
  readonly counters: StoreCounters;
  readonly closed: boolean;
  /** Frees the handle once the calls still running have answered; permits out keep the cap alive. */
  close(): void;
  [Symbol.dispose](): void;
}

/** A unit of a RedisInFlight cap, leased. */
export declare class RedisPermit implements AsyncDisposable {
  /** Permits of the key out just after this one was taken (this one included). */
  readonly inFlight: number;
  readonly limit: number;
  /** The server microsecond its lease first ended at; 0 without a lease (granted by onFailure). */
  readonly leaseEndUs: number;
  readonly released: boolean;
  /** Whether Redis renewed the lease; rejects once the lease had ended. */
  renew(): Promise<boolean>;
  /** The key's permits still out fleet-wide, or null when not known. A second release throws. */
  release(): Promise<number | null>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** One GCRA bucket per key in the library's lock-free table. */
export declare class KeyedLimiter implements Disposable {
  constructor(quota: Quota, options?: KeyedLimiterOptions);
  /** Deletes both key kinds' segments; processes using them keep their mapping. */
  static removeShared(shared: SharedSegment): void;
  /** Whether the tables live in shared segments. */
  readonly isShared: boolean;
  check(key: Key, cost?: U64, nowNs?: U64): Decision;
  /** An unseen key reads full and is not inserted. */
  peek(key: Key, nowNs?: U64): Decision;
  refund(key: Key, amount?: U64, nowNs?: U64): Decision;
  reserve(key: Key, cost: U64, maxWaitNs: U64, nowNs?: U64): Decision;
  /** Gives `key` its own quota from its next check (usage carries over). */
  setQuota(key: Key, quota: Quota, nowNs?: U64): void;
  clearQuota(key: Key, nowNs?: U64): void;
  /** Puts `key`'s bucket back to full; its slot is then free for a new key (unless it has its own quota). */
  reset(key: Key, nowNs?: U64): void;
  /** express-rate-limit's name for reset(key). */
  resetKey(key: Key): void;
  quotaFor(key: Key): Quota;
  /** Replaces the default quota, keeping usage; keys with their own quota keep it. */
  reconfigure(quota: Quota, nowNs?: U64): void;
  /** The default quota. */
  readonly quota: Quota;
  /** Keys holding a slot, both kinds (a full scan: for metrics). */
  readonly size: number;
  readonly capacity: number;
  readonly fullTableEvents: number;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}

/** The `shared` option of the kinds that take only that. */
export interface SharedOptions {
  /**
   * Keep the state in this shared segment: every process and thread that
   * builds the object with it (and the same settings) shares it. A segment
   * holding other settings throws FloodgateError
   * (ERR_FLOODGATE_SEGMENT_MISMATCH) saying what differs.
   */
  shared?: SharedSegment;
}

/** At most `limit` units in any window of `windowNs` (current + overlap-weighted previous window). */
export declare class SlidingWindow implements Disposable {
  /** `shared`: the counts and the limit (and reconfigure()) are shared. */
  constructor(limit: U64, windowNs: U64, options?: SharedOptions);
  static perMinute(limit: U64, options?: SharedOptions): SlidingWindow;
  /** Deletes the segment; processes using it keep their mapping. A missing segment is not an error. */
  static removeShared(shared: SharedSegment): void;
  /** Whether the window lives in a shared segment. */
  readonly isShared: boolean;
  check(cost?: U64, nowNs?: U64): Decision;
  peek(nowNs?: U64): Decision;
  refund(amount?: U64, nowNs?: U64): Decision;
  reconfigure(limit: U64): void;
  readonly limit: number;
  readonly windowNs: number;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}

/** A held unit of an InFlight cap. */
export declare class Permit implements Disposable {
  private constructor();
  readonly owner: bigint;
  readonly ticket: bigint;
  /** Permits out just after this one was taken. */
  readonly inFlight: number;
  readonly limit: number;
  readonly released: boolean;
  /** Returns the permits out afterwards; a second release throws ERR_FLOODGATE_PERMIT_ALREADY_RELEASED. */
  release(): number;
  /** Releases unless already released. */
  [Symbol.dispose](): void;
}

/** At most `limit` permits out at once. */
export declare class InFlight implements Disposable {
  /**
   * `shared`: one limit for every process and thread built on the segment;
   * a permit may be released through any of them, and a dead process's
   * permits come back.
   */
  constructor(limit: U64, options?: SharedOptions);
  /** Deletes the segment; processes using it keep their mapping. A missing segment is not an error. */
  static removeShared(shared: SharedSegment): void;
  /** Whether the permits live in a shared segment. */
  readonly isShared: boolean;
  /** A permit, or null when the cap is full. */
  acquire(): Permit | null;
  /** Throws ERR_FLOODGATE_PERMIT_ALREADY_RELEASED, or ERR_FLOODGATE_FOREIGN_PERMIT for another cap's permit. */
  release(permit: Permit): number;
  readonly inFlight: number;
  readonly limit: number;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}

export interface KeyedWindowsOptions {
  /** Keys each kind's table holds (default 65,536). */
  capacity?: U64;
  /** What a new key that finds no slot gets (default 'deny'). */
  onFull?: 'deny' | 'admit' | 'overflow';
  /**
   * Keep the tables in shared segments (byte keys in this one, number keys
   * in `<name>.u64`): each key's window, setLimit() and reset() are shared.
   */
  shared?: SharedSegment;
}

/** A sliding window per key: at most `limit` requests per key in any window of `windowNs`. Usable as a Policy layer. */
export declare class KeyedWindows implements Disposable {
  constructor(limit: U64, windowNs: U64, options?: KeyedWindowsOptions);
  static perMinute(limit: U64, options?: KeyedWindowsOptions): KeyedWindows;
  /** Deletes both key kinds' segments; processes using them keep their mapping. */
  static removeShared(shared: SharedSegment): void;
  /** Whether the tables live in shared segments. */
  readonly isShared: boolean;
  check(key: Key, cost?: U64, nowNs?: U64): Decision;
  /** Counts nothing and adds no key. */
  peek(key: Key, nowNs?: U64): Decision;
  refund(key: Key, amount?: U64, nowNs?: U64): Decision;
  /** Gives `key` its own limit per window, keeping its counts. */
  setLimit(key: Key, limit: U64): void;
  /** Sets `key`'s counts to zero; it keeps its own limit. */
  reset(key: Key): void;
  /** express-rate-limit's name for reset(key). */
  resetKey(key: Key): void;
  /** Keys holding a window, both kinds. */
  readonly size: number;
  readonly capacity: number;
  readonly fullTableEvents: number;
  readonly windowNs: number;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}

/** A set of suspended keys. As a Policy's first layer a suspended key gets outcome 'suspended' (403 in the middleware). */
export declare class Suspensions implements Disposable {
  /**
   * `capacity`: distinct keys ever suspended, per kind (default 65,536).
   * `shared`: suspensions in shared segments (byte keys in this one, number
   * keys in `<name>.u64`), so one process's suspend and lift hold in all.
   */
  constructor(options?: { capacity?: U64 } & SharedOptions);
  /** Deletes both key kinds' segments; processes using them keep their mapping. */
  static removeShared(shared: SharedSegment): void;
  /** Whether the suspensions live in shared segments. */
  readonly isShared: boolean;
  /** Until `untilNs` on the library's monotonic clock, or with no end (null). */
  suspendUntil(key: Key, untilNs: U64 | null): void;
  suspendFor(key: Key, durationNs: U64): void;
  lift(key: Key): void;
  /** The 'suspended' decision (retryAfterNs: time left, 0 without an end), or null when not suspended. */
  check(key: Key, nowNs?: U64): Decision | null;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}

/** An in-flight cap per key. */
export declare class KeyedInFlight implements Disposable {
  /**
   * `shared`: every key's cap in shared segments (byte keys in this one,
   * number keys in `<name>.u64`, allocated up front).
   */
  constructor(limit: U64, options?: { capacity?: U64 } & SharedOptions);
  /** Deletes both key kinds' segments; processes using them keep their mapping. */
  static removeShared(shared: SharedSegment): void;
  /** Whether the caps live in shared segments. */
  readonly isShared: boolean;
  /** A permit for `key` (its release() gives it back to `key`), or null when the key's cap is full. */
  acquire(key: Key): Permit | null;
  /** Throws ERR_FLOODGATE_PERMIT_ALREADY_RELEASED, or ERR_FLOODGATE_FOREIGN_PERMIT for another key's or cap's permit. */
  release(key: Key, permit: Permit): number;
  /** Permits `key` has out now (0 for a key never seen). */
  inFlight(key: Key): number;
  readonly limit: number;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}

/** An API key or workspace id of a Plans check: UTF-8 string or bytes (1-4096 bytes). */
export type PlanKey = string | Uint8Array;

export interface TierLimits {
  /** Each API key's bucket; null or absent: keys not limited. */
  keyQuota?: Quota | null;
  /** Each workspace's requests per window; 0 or absent: not limited. */
  workspaceLimit?: U64;
}

export interface TierSpec extends TierLimits {
  name: string;
}

export interface PlansOptions {
  /** API keys each tier holds (default 100,000). */
  keyCapacity?: U64;
  /** Workspaces counted at once (default 10,000). */
  workspaceCapacity?: U64;
  /**
   * Keep every tier's tables in this one shared segment: each key's bucket,
   * each workspace's window and reconfigureTier() are shared.
   */
  shared?: SharedSegment;
}

/** A Plans decision names the limit that decided; an unlimited tier admits with limit and remaining Infinity. */
export type PlansDecision = Decision & { readonly scope: 'key' | 'workspace' };

export interface PlansCounters {
  admitted: number;
  denied: number;
  suspended: number;
}

/** Plan tiers: a GCRA bucket per API key and a sliding window per workspace, checked together. */
export declare class Plans implements Disposable {
  /** `windowNs`: the workspace window (default one minute). */
  constructor(tiers: ReadonlyArray<TierSpec>, options?: PlansOptions & { windowNs?: U64 });
  /** GenieOS: 'sandbox' (unlimited), 'hobby', 'pro', 'scale'. */
  static genieos(options?: PlansOptions): Plans;
  /** Deletes the segment; processes using it keep their mapping. A missing segment is not an error. */
  static removeShared(shared: SharedSegment): void;
  /** Whether the plans live in a shared segment. */
  readonly isShared: boolean;
  /** The index of tier `name`; FloodgateRangeError ERR_FLOODGATE_NO_SUCH_LAYER if none. */
  tier(name: string): number;
  /** `tier` by name or index; a refusal charges neither limit. */
  check(tier: string | number, key: PlanKey, workspace: PlanKey, cost?: U64, nowNs?: U64): PlansDecision;
  /** Changes a tier's limits (not adding or removing one), keeping usage. */
  reconfigureTier(tier: string | number, limits: TierLimits): void;
  counters(tier: string | number): PlansCounters;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}

export interface PolicyLayer {
  limit: Limiter | KeyedLimiter | SlidingWindow | KeyedWindows | Suspensions;
  /** 'key', 'workspace', 'ip', 'endpoint', 'token' or a name of your own. */
  scope: string;
  /** Evaluated and counted, never refuses. */
  shadow?: boolean;
}

export interface LayerCounters {
  scope: string;
  shadow: boolean;
  denied: number;
  shadowDenied: number;
  suspended: number;
}

export interface PolicyCounters {
  admitted: number;
  denied: number;
  suspended: number;
  layers: LayerCounters[];
}

/** Layers checked together: admitted only if every enforcing layer admits; a refusal charges none. */
export declare class Policy implements Disposable {
  constructor(layers: ReadonlyArray<PolicyLayer>);
  /** `keys[i]` is layer i's key; null for a Limiter or SlidingWindow layer. */
  check(keys: ReadonlyArray<Key | null | undefined>, cost?: U64, nowNs?: U64): PolicyDecision;
  /** The layers' scope names, in order. */
  readonly scopes: string[];
  /** Per layer, in order, whether it takes a key (its entry in check's keys is not null). */
  readonly keyed: boolean[];
  counters(): PolicyCounters;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}

/** Native handles allocated and not yet freed (close() or finalizer): a leak diagnostic. */
export declare function liveHandles(): number;
/**
 * Now, in nanoseconds on the machine's timeline: the clock every shared
 * object reads in every process; the `nowNs` to pass to shared objects.
 */
export declare function machineNowNs(): bigint;

export interface HeaderRendererOptions {
  /** Digits of Retry-After (0-9); default 1 (GenieOS's "0.6"). */
  retryAfterDecimals?: number;
  /** Write X-RateLimit-*; default true. */
  legacyFields?: boolean;
  /** Adds the IETF draft RateLimit-Policy and RateLimit fields. */
  policy?: { name: string; quota: U64; windowNs: U64 };
}

export interface RenderOptions {
  /** X-RateLimit-Scope; default the decision's own scope, else 'key'. */
  scope?: string;
  /** Wall-clock Unix milliseconds for X-RateLimit-Reset; default Date.now(). */
  nowMs?: number;
}

/** Response fields rendered by the library (fg_headers_render), as { name: value }. */
export declare class HeaderRenderer implements Disposable {
  constructor(options?: HeaderRendererOptions);
  render(decision: DecisionFields, options?: RenderOptions): Record<string, string>;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}

export type DraftHeaders = 'draft-6' | 'draft-7' | 'draft-8';

export interface StandardHeadersOptions {
  /** The IETF draft's fields; default 'draft-8'; false: none. */
  standardHeaders?: DraftHeaders | false;
  /** X-RateLimit-Limit/-Remaining/-Reset (epoch seconds); default true. */
  legacyHeaders?: boolean;
  /** The draft-8 policy name; default 'default'. */
  identifier?: string;
}

export interface StandardRenderOptions {
  /** Wall-clock Unix milliseconds for X-RateLimit-Reset; default Date.now(). */
  nowMs?: number;
  /** Adds RateLimit-Policy: q (the burst) and w (seconds a full burst takes to refill). */
  policy?: { quota: number; windowSeconds: number };
  /** The draft-8 policy name, in place of the constructor's. */
  identifier?: string;
}

/** The fields most HTTP clients read: whole-second Retry-After (never 0), epoch-second X-RateLimit-Reset, an IETF draft. */
export declare class StandardHeaders {
  constructor(options?: StandardHeadersOptions);
  render(decision: DecisionFields, options?: StandardRenderOptions): Record<string, string>;
}

export type ErrorBodyShape = 'genieos_key' | 'genieos_workspace' | 'genieos' | 'clarifai';

export interface ErrorBodyOptions {
  shape?: ErrorBodyShape;
  code?: string;
  /** Template: {retry_after}, {limit}, {remaining}, {scope}. */
  message?: string;
  type?: string;
  description?: string;
  /** A JSON number code (Clarifai's 11005). */
  numericCode?: U64;
  cannotFitMessage?: string;
  /** Default 1. */
  retryAfterDecimals?: number;
}

/** A 429 JSON body rendered by the library (fg_error_body_render). */
export declare class ErrorBody implements Disposable {
  constructor(options?: ErrorBodyOptions);
  static genieosKey(options?: Omit<ErrorBodyOptions, 'shape'>): ErrorBody;
  static genieosWorkspace(options?: Omit<ErrorBodyOptions, 'shape'>): ErrorBody;
  static genieos(code: string, message: string, options?: Omit<ErrorBodyOptions, 'shape' | 'code' | 'message'>): ErrorBody;
  static clarifai(details: string, options?: Omit<ErrorBodyOptions, 'shape' | 'message'>): ErrorBody;
  render(decision: DecisionFields, options?: { scope?: string; requestId?: string }): string;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}

/** 'none': the nominal delay; 'equal': between half of it and all; 'full': between 0 and all. */
export type Jitter = 'none' | 'equal' | 'full';

/** Every delay in nanoseconds, or in whole milliseconds: give one of the pair. */
export type RetryPolicyOptions = ({ initialNs: U64; initialMs?: never } | { initialMs: U64; initialNs?: never }) &
  ({ maxDelayNs: U64; maxDelayMs?: never } | { maxDelayMs: U64; maxDelayNs?: never }) & {
    /** What each nominal delay is multiplied by to give the next (at least 1). */
    factor: number;
    /** How many retries the policy allows (0: never retry). */
    maxRetries: number;
    /** Default 'equal'. */
    jitter?: Jitter;
    /** Equal seeds give equal delays; default none: a random seed drawn once per policy. */
    seed?: U64 | null;
  };

/**
 * When and how often a client retries: the server's Retry-After exactly,
 * else exponential backoff from initialNs by factor, capped at maxDelayNs,
 * jittered, at most maxRetries times. Throws FloodgateRangeError
 * (ERR_FLOODGATE_INVALID_RETRY_POLICY) for factor 0 or initial above the cap.
 */
export declare class RetryPolicy {
  constructor(options: RetryPolicyOptions);
  /** The GenieOS SDKs' policy: 250 ms, 500 ms, 1 s, 2 s, 4 s; equal jitter. */
  static genieos(): RetryPolicy;
  /** The license API's advice: 1 s, 2 s, 4 s, 8 s; equal jitter. */
  static licenseApi(): RetryPolicy;
  readonly initialNs: bigint;
  readonly maxDelayNs: bigint;
  readonly factor: number;
  readonly maxRetries: number;
  readonly jitter: Jitter;
  readonly seed: bigint | null;
  withMaxRetries(maxRetries: number): RetryPolicy;
  withJitter(jitter: Jitter): RetryPolicy;
  withSeed(seed: U64): RetryPolicy;
  /**
   * The wait in nanoseconds before retry number `retry` (0 is the first):
   * exactly `retryAfterNs` when given, else the jittered backoff; null once
   * the retries are used up.
   */
  delay(retry: number, retryAfterNs?: U64 | null): number | null;
  /** A retry sequence following this policy, for one request. */
  start(): Retry;
}

/** One request's retries under a RetryPolicy (from policy.start()). */
export declare class Retry {
  private constructor();
  /** The wait in nanoseconds before the next retry, or null when the policy says stop. */
  nextDelay(retryAfterNs?: U64 | null): number | null;
  /** Retries granted so far. */
  readonly retries: number;
}

/**
 * A Retry-After value as a wait in nanoseconds: seconds (`120`, `0.6`) or an
 * HTTP date counted from `now` (a Date or Unix milliseconds; default now).
 * Throws FloodgateRangeError (ERR_FLOODGATE_INVALID_RETRY_AFTER) for anything else.
 */
export declare function parseRetryAfter(value: string, now?: Date | number): number;

/** A value an option function gives, at once or as a promise (as express-rate-limit allows). */
type Maybe<T> = T | Promise<T>;

/** What a request's limit looks like on req.rateLimit (requestPropertyName). */
export interface RateLimitInfo {
  limit: number;
  used: number;
  remaining: number;
  resetTime: Date;
  /** The key charged (keyed limits only). */
  key?: Key;
}

interface CommonRateLimitOptions<Req extends IncomingMessage> {
  /** Units per request; default 1. */
  cost?: U64 | ((req: Req) => U64);
  /**
   * What responses look like: 'standard' (default: whole-second Retry-After,
   * epoch-second X-RateLimit-Reset, IETF fields, a neutral body), 'genieos'
   * (fractional Retry-After, ISO reset, X-RateLimit-Scope, GenieOS bodies) or
   * 'clarifai' (standard headers, Clarifai's 11005 body).
   */
  preset?: 'standard' | 'genieos' | 'clarifai';
  /** The IETF draft for the standard and clarifai presets; default 'draft-8'; false: none. */
  standardHeaders?: DraftHeaders | false;
  /** X-RateLimit-* (standard and clarifai presets); default true. */
  legacyHeaders?: boolean;
  /** The draft-8 policy name; default '<limit>-in-<window>sec' with windowMs and a number limit, else 'default'. */
  identifier?: string | ((req: Req) => string);
  /** Digits of Retry-After for the preset's renderer and bodies; default 0 (1 for 'genieos'). */
  retryAfterDecimals?: number;
  /** The header renderer; default the preset's. */
  headers?: HeaderRenderer | StandardHeaders;
  /** The 429 body, or one per scope; default the preset's. */
  errorBody?: ErrorBody | ((scope: string) => ErrorBody);
  /** The denial's body in place of the preset's: text as is, anything else as JSON. */
  message?: unknown | ((req: Req, res: ServerResponse) => Maybe<unknown>);
  /** The denial's status; default 429. */
  statusCode?: number;
  /** Called on a denial in place of the default answer, after the headers are set. */
  handler?: (req: Req, res: ServerResponse, next: ((error?: unknown) => void) | undefined, options: object) => unknown;
  /** Requests for which it returns true are not limited. */
  skip?: (req: Req, res: ServerResponse) => Maybe<boolean>;
  /** Where the request's RateLimitInfo goes on req; default 'rateLimit'. */
  requestPropertyName?: string;
  /** Give the charge back when the response's status is below 400 (keyed limits). */
  skipSuccessfulRequests?: boolean;
  /** Give the charge back when the status is 400 or above, or the response never finished (keyed limits). */
  skipFailedRequests?: boolean;
  /** IPv6 client addresses are keyed by this prefix length (default 56); false: each address its own key. */
  ipv6Subnet?: number | false;
  /** Default: X-Request-Id or a fresh req_<uuid>. */
  requestId?: (req: Req) => string;
  /** Unix milliseconds for X-RateLimit-Reset; default Date.now. */
  now?: () => number;
  /**
   * A key problem (missing, empty, oversized, not well-formed, wrong type, or
   * a key function that throws): 'fallback' (default) charges fallbackKey(req)
   * in its place; 'reject' answers 400 with code invalid_key.
   */
  onBadKey?: 'fallback' | 'reject';
  /** The key charged in place of a bad one; default keys.ip. A bad fallback key answers 400. */
  fallbackKey?: (req: Req) => Key | null | undefined;
  /** Told of each error the middleware absorbed (a key function that threw...); default none. */
  onError?: (error: unknown, req: Req) => void;
}

export interface KeyedRateLimitOptions<Req extends IncomingMessage = IncomingMessage> extends CommonRateLimitOptions<Req> {
  /** One bucket per key the key function returns (a RedisLimiter: kept in Redis). */
  limiter: KeyedLimiter | RedisLimiter | LeasedLimiter;
  policy?: undefined;
  plans?: undefined;
  /** Default keys.ip; null or undefined is a missing key (see onBadKey). */
  key?: (req: Req) => Key | null | undefined;
  /** express-rate-limit's name for key; may be async. */
  keyGenerator?: (req: Req, res: ServerResponse) => Maybe<Key | null | undefined>;
  /** X-RateLimit-Scope; default 'key'. */
  scope?: string;
}

export interface PolicyRateLimitOptions<Req extends IncomingMessage = IncomingMessage> extends CommonRateLimitOptions<Req> {
  policy: Policy;
  limiter?: undefined;
  plans?: undefined;
  /** One key per layer (null for unkeyed layers); null is every keyed layer's key missing (see onBadKey). */
  keys: (req: Req) => ReadonlyArray<Key | null | undefined> | null | undefined;
}

export interface PlansRateLimitOptions<Req extends IncomingMessage = IncomingMessage> extends CommonRateLimitOptions<Req> {
  plans: Plans;
  limiter?: undefined;
  policy?: undefined;
  /**
   * [tier, API key, workspace]; a bad key or workspace follows onBadKey; null
   * (no tier to charge) answers 400. An unlimited tier passes with no headers.
   */
  plan: (req: Req) => readonly [string | number, PlanKey, PlanKey] | null | undefined;
}

/** express-rate-limit's form: `limit` requests per `windowMs` per key. */
export interface WindowRateLimitOptions<Req extends IncomingMessage = IncomingMessage> extends CommonRateLimitOptions<Req> {
  limiter?: undefined;
  policy?: undefined;
  plans?: undefined;
  /** Default 60,000. */
  windowMs?: number;
  /** Requests per window, or per request (one table per distinct limit); default 5. */
  limit?: number | ((req: Req, res: ServerResponse) => Maybe<number>);
  /** Default keys.ip. */
  keyGenerator?: (req: Req, res: ServerResponse) => Maybe<Key | null | undefined>;
  /** Keys held per limit (default 65,536). */
  capacity?: number;
  /**
   * One limit across worker processes: each limit's table lives in the
   * shared segment `<name>.<limit>` (a Fastify route with its own
   * config.rateLimit: `<name>.<route>.<limit>`).
   */
  shared?: SharedSegment;
  /**
   * One limit across processes and hosts: each limit is kept in this Redis
   * server (a URL), under `<prefix><limit>/<windowMs>:` (a Fastify route
   * with its own config.rateLimit: `<prefix><route>:<limit>/<windowMs>:`);
   * or on the Redis Cluster whose node URLs it lists.
   */
  store?: RedisStore;
  /** Default 'floodgate:' (with store). */
  prefix?: string;
  /** With store: how long a check may wait for Redis (default 5). */
  deadlineMs?: number;
  /** With store: 'open' (default) admits when Redis gives no answer, 'closed' denies, 'local' decides by this process's share. */
  onFailure?: OnFailure;
  /**
   * With store: 'lease' (the default) checks locally from leases (a
   * LeasedLimiter); 'exact' makes a round trip per check (a RedisLimiter),
   * the default with skipSuccessfulRequests or skipFailedRequests.
   */
  storeMode?: 'lease' | 'exact';
  /** X-RateLimit-Scope (genieos preset); default 'key'. */
  scope?: string;
}

export type RateLimitOptions<Req extends IncomingMessage = IncomingMessage> =
  | WindowRateLimitOptions<Req>
  | KeyedRateLimitOptions<Req>
  | PolicyRateLimitOptions<Req>
  | PlansRateLimitOptions<Req>;

/**
 * node:http guard (returns false after answering 429, 403 for a suspended
 * key, or 400 for a request with no usable key) and Express middleware
 * (calls next). Never throws and never calls next(error).
 */
export type RateLimitHandler<Req extends IncomingMessage = IncomingMessage> = (
  req: Req,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => boolean | Promise<boolean>;

/** A promise only when an option function (limit, keyGenerator, skip, message) returned one. */
export declare function rateLimit<Req extends IncomingMessage = IncomingMessage>(
  options?: RateLimitOptions<Req>,
): RateLimitHandler<Req>;

/** Minimal Fastify shapes, so this package needs no fastify types. */
export interface FastifyRequestLike {
  raw: IncomingMessage;
  headers: IncomingMessage['headers'];
  url: string;
  /** The client address, after Fastify's trustProxy. */
  ip: string;
  routeOptions?: { config?: { rateLimit?: RateLimitOptions | false } };
}
export interface FastifyReplyLike {
  raw: ServerResponse;
  headers(fields: Record<string, string>): unknown;
  code(status: number): FastifyReplyLike;
  type(contentType: string): FastifyReplyLike;
  send(body: string): unknown;
}

/** A Fastify onRequest hook: fastify.addHook('onRequest', fastifyHook(options)). */
export declare function fastifyHook(
  options: RateLimitOptions,
): (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<void>;

/**
 * A Fastify plugin: fastify.register(fastifyRateLimit, options) limits every
 * route; a route's config.rateLimit (options merged over the plugin's) gives
 * it its own limit, config.rateLimit false exempts it; global: false limits
 * only routes with their own.
 */
export declare function fastifyRateLimit(
  fastify: { addHook(name: string, hook: (...args: any[]) => unknown): unknown },
  options: RateLimitOptions & { global?: boolean },
  done: (error?: Error) => void,
): void;

export declare const keys: Readonly<{
  /** The client address; an IPv6 address as its /56 ('2001:db8:1:200:0:0:0:0/56'). */
  ip(req: IncomingMessage & { ip?: string }): string | null;
  path(req: IncomingMessage & { originalUrl?: string }): string;
  header(name: string): (req: IncomingMessage) => string | null;
}>;
