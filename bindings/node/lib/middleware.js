'use strict';
// HTTP middleware: one function that is a node:http guard, an Express/Connect
// middleware and (through fastifyHook) a Fastify onRequest hook. Requests are
// charged to a KeyedLimiter by their key, to a Policy by one key per layer,
// or to Plans by their tier, API key and workspace; the library renders
// every header and body.
//
// No request can make the middleware throw or skip a limit: a key problem
// (missing, empty, oversized, not well-formed, of the wrong type, or a key
// function that throws) charges the fallback key in its place, or answers 400
// when the application asks for that (onBadKey: 'reject'), and any other
// failure while deciding answers 400 too. Either way the app never sees the
// request unlimited and the server never answers 5xx for it.

const { randomUUID } = require('node:crypto');
const { describe, ensureFunction, options: ensureOptions, u64 } = require('./args.js');
const { KeyedLimiter } = require('./keyed.js');
const { checkKey } = require('./keys.js');
const { Policy } = require('./policy.js');
const { Plans } = require('./plans.js');
const { ErrorBody, HeaderRenderer } = require('./headers.js');

/** Key functions: which bucket a request is charged to (null: no key, so the fallback key). */
const keys = Object.freeze({
  /** The peer address (Express's req.ip when set, honouring its trust proxy). */
  ip: (req) => req.ip ?? req.socket?.remoteAddress ?? null,
  /** The request path without the query: one bucket per endpoint. */
  path: (req) => {
    const url = req.originalUrl ?? req.url ?? '/';
    const query = url.indexOf('?');
    return query === -1 ? url : url.slice(0, query);
  },
  /** Request header `name` (say 'x-api-key'); null for requests without it. */
  header: (name) => {
    if (typeof name !== 'string' || name === '') throw new TypeError(`header name must be a non-empty string, got ${describe(name)}`);
    const field = name.toLowerCase();
    return (req) => {
      const value = req.headers[field];
      return Array.isArray(value) ? value[0] : value ?? null;
    };
  },
});

/** A request id a client may choose: 1 to 128 printable ASCII characters. */
const CLIENT_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

function requestIdFromHeader(req) {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent) ? sent : `req_${randomUUID().replaceAll('-', '')}`;
}

/** What a key problem gets: the fallback key in its place, or a 400 answer. */
const ON_BAD_KEY = new Set(['fallback', 'reject']);

/** Thrown (inside the middleware only) when a request has no usable key. */
class NoUsableKey extends Error {}

/** The 400 body of a request the middleware refused before any limit could be checked. */
function badRequestBody(code, message, requestId) {
  return JSON.stringify({ error: { type: 'invalid_request', code, message, request_id: requestId } });
}

/**
 * Whether `key` is one the limiter takes (`bytesOnly`: a string or Buffer,
 * as Plans takes). A bad key is the client's doing, not an error to report.
 */
function usable(key, bytesOnly) {
  if (key === null || key === undefined) return false;
  if (bytesOnly && typeof key !== 'string' && !(key instanceof Uint8Array)) return false;
  try {
    checkKey(key);
    return true;
  } catch {
    return false;
  }
}

/** The default 429 body of a scope: GenieOS's workspace body for 'workspace', its key body otherwise. */
function defaultBodies(retryAfterDecimals) {
  const made = new Map();
  return (scope) => {
    let body = made.get(scope);
    if (body === undefined) {
      body =
        scope === 'workspace'
          ? ErrorBody.genieosWorkspace({ retryAfterDecimals })
          : ErrorBody.genieosKey({ retryAfterDecimals });
      made.set(scope, body);
    }
    return body;
  };
}

/** The 403 body of a suspended scope: GenieOS shape, code `<scope>_suspended`. */
function suspendedBodies() {
  const made = new Map();
  return (scope) => {
    let body = made.get(scope);
    if (body === undefined) {
      body = ErrorBody.genieos(`${scope}_suspended`, 'This {scope} is suspended.', { type: 'suspended', retryAfterDecimals: 0 });
      made.set(scope, body);
    }
    return body;
  };
}

/** Validates middleware options once, so a request never meets a bad config. */
function settings(opts) {
  const o = ensureOptions(opts, 'options');
  const { limiter, policy, plans } = o;
  if ([limiter, policy, plans].filter((given) => given !== undefined).length !== 1) {
    throw new TypeError('options must name exactly one of limiter (a KeyedLimiter), policy (a Policy) and plans (a Plans)');
  }
  const onBadKey = o.onBadKey ?? 'fallback';
  if (!ON_BAD_KEY.has(onBadKey)) throw new TypeError(`onBadKey must be 'fallback' or 'reject', got ${describe(onBadKey)}`);
  const fallbackOf = ensureFunction(o.fallbackKey ?? keys.ip, 'fallbackKey');
  const hook = o.onError === undefined ? null : ensureFunction(o.onError, 'onError');
  /** Tells onError; a hook that throws must not make the middleware throw. */
  const onError = (error, req) => {
    try {
      hook?.(error, req);
    } catch {
      // Nothing left to tell: the request is answered all the same.
    }
  };
  /** `pick(req)`, or undefined (reported) if it throws. */
  const attempt = (pick, req) => {
    try {
      return pick(req);
    } catch (error) {
      onError(error, req);
      return undefined;
    }
  };
  /** `key` when usable, else the fallback key; throws NoUsableKey when neither will do. */
  const repair = (key, req, bytesOnly = false) => {
    if (usable(key, bytesOnly)) return key;
    if (onBadKey === 'reject') throw new NoUsableKey();
    const fallback = attempt(fallbackOf, req);
    if (usable(fallback, bytesOnly)) return fallback;
    throw new NoUsableKey();
  };
  let check;
  if (plans !== undefined) {
    if (!(plans instanceof Plans)) throw new TypeError(`plans must be a Plans, got ${describe(plans)}`);
    const planOf = ensureFunction(o.plan, 'plan');
    check = (req, cost) => {
      const plan = attempt(planOf, req);
      // Without a plan there is no tier to charge: refused, never unlimited.
      if (!Array.isArray(plan) || plan.length !== 3) {
        if (plan !== null && plan !== undefined) {
          onError(new TypeError(`plan(req) must return [tier, key, workspace], got ${describe(plan)}`), req);
        }
        throw new NoUsableKey();
      }
      const decision = plans.check(plan[0], repair(plan[1], req, true), repair(plan[2], req, true), cost);
      // An unlimited tier has no limit to advertise: pass it on unlimited.
      return decision.limit === Infinity ? null : decision;
    };
  } else if (policy !== undefined) {
    if (!(policy instanceof Policy)) throw new TypeError(`policy must be a Policy, got ${describe(policy)}`);
    const keysOf = ensureFunction(o.keys, 'keys');
    const keyed = policy.keyed;
    check = (req, cost) => {
      const given = attempt(keysOf, req);
      const listed = Array.isArray(given) && given.length === keyed.length;
      if (!listed && given !== null && given !== undefined) {
        onError(new TypeError(`keys(req) must return one key per layer (${keyed.length}), got ${describe(given)}`), req);
      }
      // No list at all is every keyed layer's key missing.
      return policy.check(keyed.map((isKeyed, i) => (isKeyed ? repair(listed ? given[i] : null, req) : null)), cost);
    };
  } else {
    if (!(limiter instanceof KeyedLimiter)) throw new TypeError(`limiter must be a KeyedLimiter, got ${describe(limiter)}`);
    const keyOf = ensureFunction(o.key ?? keys.ip, 'key');
    check = (req, cost) => limiter.check(repair(attempt(keyOf, req), req), cost);
  }
  const cost = o.cost ?? 1;
  if (typeof cost !== 'function') u64(cost, 'cost');
  const scope = o.scope ?? 'key';
  if (typeof scope !== 'string' || !/^[\x21-\x7e]+$/.test(scope)) {
    throw new TypeError(`scope must be a printable ASCII token, got ${describe(scope)}`);
  }
  const retryAfterDecimals = o.retryAfterDecimals ?? 1;
  const headers = o.headers ?? new HeaderRenderer({ retryAfterDecimals });
  if (!(headers instanceof HeaderRenderer)) throw new TypeError(`headers must be a HeaderRenderer, got ${describe(headers)}`);
  let bodyFor;
  if (o.errorBody instanceof ErrorBody) bodyFor = () => o.errorBody;
  else if (o.errorBody === undefined) bodyFor = defaultBodies(retryAfterDecimals);
  else bodyFor = ensureFunction(o.errorBody, 'errorBody');
  return {
    check,
    onError,
    cost,
    scope,
    headers,
    bodyFor,
    suspendedBodyFor: suspendedBodies(),
    requestId: ensureFunction(o.requestId ?? requestIdFromHeader, 'requestId'),
    now: ensureFunction(o.now ?? Date.now, 'now'),
  };
}

/**
 * Decides one request: `{ status, headers, body }` (status 200 and body null
 * when admitted, or when an unlimited tier admitted it with no headers).
 * Throws whatever a check or the application's functions throw.
 */
function decideOrThrow(config, req) {
  const cost = typeof config.cost === 'function' ? config.cost(req) : config.cost;
  const decision = config.check(req, cost);
  if (decision === null) return { status: 200, headers: {}, body: null };
  const scope = decision.scope ?? config.scope;
  if (decision.outcome === 'suspended') {
    const body = config.suspendedBodyFor(scope).render(decision, { scope, requestId: config.requestId(req) });
    return { status: 403, headers: {}, body };
  }
  const headers = config.headers.render(decision, { scope, nowMs: config.now() });
  if (decision.admitted) return { status: 200, headers, body: null };
  const errorBody = config.bodyFor(scope);
  if (!(errorBody instanceof ErrorBody)) throw new TypeError(`errorBody(scope) must return an ErrorBody, got ${describe(errorBody)}`);
  return { status: 429, headers, body: errorBody.render(decision, { scope, requestId: config.requestId(req) }) };
}

/** As decideOrThrow, but a failure is a 400 answer (reported to onError), never an exception. */
function decide(config, req) {
  try {
    return decideOrThrow(config, req);
  } catch (error) {
    const noKey = error instanceof NoUsableKey;
    if (!noKey) config.onError(error, req);
    // The application's request-id function may be what failed.
    const requestId = requestIdFromHeader(req);
    const body = noKey
      ? badRequestBody('invalid_key', 'The request has no usable key.', requestId)
      : badRequestBody('invalid_request', 'The request could not be checked against its rate limit.', requestId);
    return { status: 400, headers: {}, body };
  }
}

/**
 * `rateLimit(options)` returns `(req, res, next?) => boolean`. It sets the
 * rate-limit headers on `res`; when refused it ends `res` with 429 (403 for a
 * suspended key, 400 for a request with no usable key) and a JSON body and
 * returns false. When admitted it calls `next()` if given (Express) and
 * returns true (node:http). It never throws and never calls next(error).
 */
function rateLimit(opts) {
  const config = settings(opts);
  return function floodgateRateLimit(req, res, next) {
    const verdict = decide(config, req);
    for (const [name, value] of Object.entries(verdict.headers)) res.setHeader(name, value);
    if (verdict.body !== null) {
      res.statusCode = verdict.status;
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Content-Length', Buffer.byteLength(verdict.body));
      res.end(verdict.body);
      return false;
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
    reply.headers(verdict.headers);
    if (verdict.body !== null) {
      await reply.code(verdict.status).type('application/json').send(verdict.body);
    }
  };
}

module.exports = { fastifyHook, keys, rateLimit };
