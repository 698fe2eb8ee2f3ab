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
  ZERO_COUNT: -10;
  ZERO_PERIOD: -11;
  ZERO_BURST: -12;
  PERIOD_TOO_LONG: -13;
  RATE_TOO_HIGH: -14;
  BURST_TOO_LARGE: -15;
  PANIC: -100;
}>;

/** A failure that is not an argument's fault: a closed handle (ERR_FLOODGATE_CLOSED) or a library bug. */
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
  /** The period in milliseconds. */
  readonly periodMs: number;
  withBurst(burst: U64): Quota;
  equals(other: unknown): boolean;
  toJSON(): { count: string; periodNs: string; burst: string };
}

/**
 * 'cannot_fit': the cost exceeds the burst (nothing charged); 'suspended': the
 * key is suspended, not rate limited (retryAfterNs is the suspension's end, 0
 * when open-ended).
 */
export type Outcome = 'admitted' | 'denied' | 'cannot_fit' | 'suspended';

/**
 * The answer to a check, peek or refund, as a plain object. Nanosecond and
 * count fields are numbers: exact up to 2^53 (104 days of nanoseconds).
 */
export interface Decision {
  /** Whether the request may go (outcome === 'admitted'). */
  admitted: boolean;
  /** 'cannot_fit': the cost exceeds the burst and is never admitted (nothing charged). */
  outcome: Outcome;
  /** The burst capacity: X-RateLimit-Limit. */
  limit: number;
  /** Whole units left after this decision: X-RateLimit-Remaining. */
  remaining: number;
  /** Until the bucket is full again. */
  resetAfterNs: number;
  resetAfterMs: number;
  /** When denied, the wait after which the same cost is admitted (never 0); 0 otherwise. */
  retryAfterNs: number;
  retryAfterMs: number;
  /** Which limit decided: 0 (FG_SCOPE_SINGLE) for a Limiter. */
  scope: number;
}

/** One lock-free GCRA bucket in native memory. Free it with close() (or let the GC do it). */
export declare class Limiter implements Disposable {
  constructor(quota: Quota);
  /** Charges `cost` (default 1) now, or at `nowNs` on the caller's own monotonic timeline. */
  check(cost?: U64, nowNs?: U64): Decision;
  /** The bucket as it stands, charging nothing. */
  peek(nowNs?: U64): Decision;
  /** Gives back `amount` (default 1); the bucket never exceeds its burst. */
  refund(amount?: U64, nowNs?: U64): Decision;
  /** Replaces the quota while checks go on; what was used carries over. */
  reconfigure(quota: Quota, nowNs?: U64): void;
  /** The quota in force. */
  readonly quota: Quota;
  readonly closed: boolean;
  /** Frees the bucket now; later calls throw FloodgateError (ERR_FLOODGATE_CLOSED). Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}

/** Native handles allocated and not yet freed (close() or finalizer): a leak diagnostic. */
export declare function liveHandles(): number;

/** `Retry-After` for a wait: decimal seconds (0-9 decimals, default 1), rounded up. */
export declare function retryAfterSeconds(ns: U64, decimals?: number): string;

/** `X-RateLimit-Reset`: ISO-8601 UTC of `nowMs + resetAfterNs`, rounded up to the second. */
export declare function resetTimestamp(resetAfterNs: U64, nowMs?: number): string;

export interface HeaderOptions {
  /** X-RateLimit-Scope; default 'key'. */
  scope?: string;
  /** Unix milliseconds now; default Date.now(). */
  nowMs?: number;
  /** Digits of Retry-After; default 1. */
  retryAfterDecimals?: number;
}

export type RateLimitHeaderFields = {
  'X-RateLimit-Limit': string;
  'X-RateLimit-Remaining': string;
  'X-RateLimit-Reset': string;
  'X-RateLimit-Scope': string;
  'Retry-After'?: string;
};

export declare function rateLimitHeaders(decision: Decision, options?: HeaderOptions): RateLimitHeaderFields;

export interface ErrorBodyOptions {
  type?: string;
  code?: string;
  /** May use {retryAfter}, {limit}, {remaining} and {scope}. */
  message?: string;
  scope?: string;
  requestId?: string;
  retryAfterDecimals?: number;
}

/** The GenieOS JSON 429 body. */
export declare function errorBody(decision: Decision, options?: ErrorBodyOptions): string;

/** What a key function returns; null or undefined leaves the request unlimited. */
export type Key = string | Buffer | number | bigint;

/** Anything that decides per key (e.g. a user's map of Limiters). */
export interface KeyedChecker {
  check(key: Key, cost: U64): Decision;
}

export interface RateLimitOptions<Req extends IncomingMessage = IncomingMessage> {
  /** A Limiter (one bucket for every limited request) or a per-key checker. */
  limiter: Limiter | KeyedChecker;
  /** Default keys.ip. */
  key?: (req: Req) => Key | null | undefined;
  /** Units per request; default 1. */
  cost?: U64 | ((req: Req) => U64);
  /** X-RateLimit-Scope; default 'key'. */
  scope?: string;
  errorType?: string;
  errorCode?: string;
  /** 429 message; may use {retryAfter}, {limit}, {remaining}, {scope}. */
  message?: string;
  retryAfterDecimals?: number;
  /** Default: X-Request-Id or a fresh req_<uuid>. */
  requestId?: (req: Req) => string;
  /** Unix milliseconds for X-RateLimit-Reset; default Date.now. */
  now?: () => number;
}

/** node:http guard (returns false after answering 429) and Express middleware (calls next). */
export type RateLimitHandler<Req extends IncomingMessage = IncomingMessage> = (
  req: Req,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => boolean;

export declare function rateLimit<Req extends IncomingMessage = IncomingMessage>(
  options: RateLimitOptions<Req>,
): RateLimitHandler<Req>;

/** Minimal Fastify shapes, so this package needs no fastify types. */
export interface FastifyRequestLike {
  raw: IncomingMessage;
}
export interface FastifyReplyLike {
  headers(fields: Record<string, string>): unknown;
  code(status: number): FastifyReplyLike;
  type(contentType: string): FastifyReplyLike;
  send(body: string): unknown;
}

/** A Fastify onRequest hook: fastify.addHook('onRequest', fastifyHook(options)). */
export declare function fastifyHook(
  options: RateLimitOptions,
): (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<void>;

export declare const keys: Readonly<{
  ip(req: IncomingMessage & { ip?: string }): string | null;
  path(req: IncomingMessage & { originalUrl?: string }): string;
  header(name: string): (req: IncomingMessage) => string | null;
}>;
