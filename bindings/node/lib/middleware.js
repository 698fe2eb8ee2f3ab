'use strict';
// HTTP middleware: one function that is a node:http guard, an Express/Connect
// middleware and (through fastifyHook) a Fastify onRequest hook.

const { randomUUID } = require('node:crypto');
const { describe, ensureFunction, options: ensureOptions, u64 } = require('./args.js');
const { Limiter } = require('./limiter.js');
const { DEFAULT_MESSAGE, errorBody, rateLimitHeaders } = require('./headers.js');

/** Key functions: which bucket a request is charged to (null: not limited). */
const keys = Object.freeze({
  /** The peer address (Express's req.ip when set, honouring its trust proxy). */
  ip: (req) => req.ip ?? req.socket?.remoteAddress ?? null,
  /** The request path without the query: one bucket per endpoint. */
  path: (req) => {
    const url = req.originalUrl ?? req.url ?? '/';
    const query = url.indexOf('?');
    return query === -1 ? url : url.slice(0, query);
  },
  /** Request header `name` (say 'x-api-key'); requests without it are not limited. */
  header: (name) => {
    if (typeof name !== 'string' || name === '') throw new TypeError(`header name must be a non-empty string, got ${describe(name)}`);
    const field = name.toLowerCase();
    return (req) => {
      const value = req.headers[field];
      return Array.isArray(value) ? value[0] : value ?? null;
    };
  },
});

function requestIdFromHeader(req) {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && sent !== '' ? sent : `req_${randomUUID().replaceAll('-', '')}`;
}

/** Validates middleware options once, so a request never meets a bad config. */
function settings(opts) {
  const o = ensureOptions(opts, 'options');
  const { limiter } = o;
  const keyed = !(limiter instanceof Limiter);
  if (keyed && (limiter === null || typeof limiter !== 'object' || typeof limiter.check !== 'function')) {
    throw new TypeError(`limiter must be a Limiter or an object with check(key, cost), got ${describe(limiter)}`);
  }
  const cost = o.cost ?? 1;
  if (typeof cost !== 'function') u64(cost, 'cost');
  const message = o.message ?? DEFAULT_MESSAGE;
  if (typeof message !== 'string') throw new TypeError(`message must be a string, got ${describe(message)}`);
  const scope = o.scope ?? 'key';
  if (typeof scope !== 'string' || !/^[\x21-\x7e]+$/.test(scope)) {
    throw new TypeError(`scope must be a printable ASCII token, got ${describe(scope)}`);
  }
  const retryAfterDecimals = o.retryAfterDecimals ?? 1;
  if (!Number.isInteger(retryAfterDecimals) || retryAfterDecimals < 0 || retryAfterDecimals > 9) {
    throw new RangeError(`retryAfterDecimals must be an integer from 0 to 9, got ${retryAfterDecimals}`);
  }
  return {
    check: keyed ? (key, units) => limiter.check(key, units) : (_key, units) => limiter.check(units),
    key: ensureFunction(o.key ?? keys.ip, 'key'),
    cost,
    scope,
    type: o.errorType ?? 'rate_limit_exceeded',
    code: o.errorCode ?? 'key_rate_limit',
    message,
    retryAfterDecimals,
    requestId: ensureFunction(o.requestId ?? requestIdFromHeader, 'requestId'),
    now: ensureFunction(o.now ?? Date.now, 'now'),
  };
}

/**
 * Decides one request: `{ decision, headers, body }` where `body` is the 429
 * JSON when denied, or null when the request was not limited (no key).
 */
function decide(config, req) {
  const key = config.key(req);
  if (key === null || key === undefined) return null;
  const cost = typeof config.cost === 'function' ? config.cost(req) : config.cost;
  const decision = config.check(key, cost);
  const headers = rateLimitHeaders(decision, {
    scope: config.scope,
    nowMs: config.now(),
    retryAfterDecimals: config.retryAfterDecimals,
  });
  const body = decision.admitted
    ? null
    : errorBody(decision, {
        type: config.type,
        code: config.code,
        message: config.message,
        scope: config.scope,
        requestId: config.requestId(req),
        retryAfterDecimals: config.retryAfterDecimals,
      });
  return { decision, headers, body };
}

/**
 * `rateLimit(options)` returns `(req, res, next?) => boolean`. It sets the
 * X-RateLimit-* headers on `res`; when denied it ends `res` with 429,
 * Retry-After and the JSON error body and returns false. When admitted it
 * calls `next()` if given (Express) and returns true (node:http).
 */
function rateLimit(opts) {
  const config = settings(opts);
  return function floodgateRateLimit(req, res, next) {
    let verdict;
    try {
      verdict = decide(config, req);
    } catch (error) {
      if (typeof next === 'function') {
        next(error);
        return false;
      }
      throw error;
    }
    if (verdict !== null) {
      for (const [name, value] of Object.entries(verdict.headers)) res.setHeader(name, value);
      if (verdict.body !== null) {
        res.statusCode = 429;
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Content-Length', Buffer.byteLength(verdict.body));
        res.end(verdict.body);
        return false;
      }
    }
    if (typeof next === 'function') next();
    return true;
  };
}

/**
 * A Fastify `onRequest` hook: `fastify.addHook('onRequest', fastifyHook(options))`.
 * Key functions receive the raw node:http request.
 */
function fastifyHook(opts) {
  const config = settings(opts);
  return async function floodgateOnRequest(request, reply) {
    const verdict = decide(config, request.raw);
    if (verdict === null) return;
    reply.headers(verdict.headers);
    if (verdict.body !== null) {
      await reply.code(429).type('application/json').send(verdict.body);
    }
  };
}

module.exports = { fastifyHook, keys, rateLimit };
