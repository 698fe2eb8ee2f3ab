'use strict';
// What a client reads from a decision: rate-limit header values and the
// GenieOS JSON error body (shared/seeds/001). The C ABI does not export
// header rendering yet, so these follow the Rust renderer's rules
// (src/headers): Retry-After in decimal seconds rounded UP (never 0 while
// denied), X-RateLimit-Reset as ISO-8601 UTC rounded up to the second.

const NS_PER_SECOND = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;

/** An integer count of nanoseconds (number or bigint) as a bigint. */
function nanos(value) {
  return typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
}

/**
 * `Retry-After` for a wait of `ns`: decimal seconds with at most `decimals`
 * digits (0 = whole seconds), rounded up, trailing zeros dropped.
 * 33_333_334 ns reads "0.1" (1 decimal), "0.034" (3) or "1" (0).
 */
function retryAfterSeconds(ns, decimals = 1) {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 9) {
    throw new RangeError(`decimals must be an integer from 0 to 9, got ${decimals}`);
  }
  const unit = 10n ** BigInt(9 - decimals);
  const units = (nanos(ns) + unit - 1n) / unit;
  const scale = 10n ** BigInt(decimals);
  const whole = units / scale;
  const fraction = units % scale;
  if (fraction === 0n) return String(whole);
  return `${whole}.${String(fraction).padStart(decimals, '0').replace(/0+$/, '')}`;
}

/**
 * `X-RateLimit-Reset`: the UTC instant `resetAfterNs` after `nowMs` (Unix
 * milliseconds), rounded up to the second: "2026-04-20T12:34:00Z".
 */
function resetTimestamp(resetAfterNs, nowMs = Date.now()) {
  const resetNs = BigInt(Math.trunc(nowMs)) * NS_PER_MS + nanos(resetAfterNs);
  const seconds = (resetNs + NS_PER_SECOND - 1n) / NS_PER_SECOND;
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The response header fields for `decision`: X-RateLimit-Limit, -Remaining,
 * -Reset, -Scope, and Retry-After when the request was denied.
 */
function rateLimitHeaders(decision, options = {}) {
  const { scope = 'key', nowMs = Date.now(), retryAfterDecimals = 1 } = options;
  const fields = {
    'X-RateLimit-Limit': String(decision.limit),
    'X-RateLimit-Remaining': String(decision.remaining),
    'X-RateLimit-Reset': resetTimestamp(decision.resetAfterNs, nowMs),
    'X-RateLimit-Scope': scope,
  };
  if (decision.retryAfterNs > 0) {
    fields['Retry-After'] = retryAfterSeconds(decision.retryAfterNs, retryAfterDecimals);
  }
  return fields;
}

const DEFAULT_MESSAGE = 'API key exceeded its rate limit. Retry after {retryAfter}s.';
const CANNOT_FIT_MESSAGE = "The request costs more than the rate limit's burst; it can never be admitted.";
const SUSPENDED_MESSAGE = 'The key is suspended until further notice.';

/** Fills `{retryAfter}`, `{limit}`, `{remaining}` and `{scope}` in `template`. */
function fillTemplate(template, values) {
  return template.replace(/\{(retryAfter|limit|remaining|scope)\}/g, (_, name) => String(values[name]));
}

/**
 * The GenieOS 429 body for a denied `decision`:
 * {"error":{"type","code","message","retry_after_seconds","request_id"}}.
 * `retry_after_seconds` is the number Retry-After carries, or null when no
 * wait helps (the cost exceeds the burst; a suspension without an end).
 */
function errorBody(decision, options = {}) {
  const {
    type = 'rate_limit_exceeded',
    code = 'key_rate_limit',
    message = DEFAULT_MESSAGE,
    scope = 'key',
    requestId,
    retryAfterDecimals = 1,
  } = options;
  const retryAfter =
    decision.retryAfterNs > 0 ? retryAfterSeconds(decision.retryAfterNs, retryAfterDecimals) : null;
  const text =
    retryAfter === null
      ? decision.outcome === 'suspended' ? SUSPENDED_MESSAGE : CANNOT_FIT_MESSAGE
      : fillTemplate(message, { retryAfter, limit: decision.limit, remaining: decision.remaining, scope });
  return JSON.stringify({
    error: {
      type,
      code,
      message: text,
      retry_after_seconds: retryAfter === null ? null : Number(retryAfter),
      request_id: requestId,
    },
  });
}

module.exports = { DEFAULT_MESSAGE, errorBody, rateLimitHeaders, resetTimestamp, retryAfterSeconds };
