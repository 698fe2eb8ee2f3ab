'use strict';
// HTTP middleware: one function that is a node:http guard, an Express/Connect
// middleware and (through fastifyHook) a Fastify onRequest hook. Requests are
// charged to a KeyedLimiter by their key, to a Policy by one key per layer,
// or to Plans by their tier, API key and workspace; the library renders
// every header and body.

const { randomUUID } = require('node:crypto');
const { describe, ensureFunction, options: ensureOptions, u64 } = require('./args.js');
const { KeyedLimiter } = require('./keyed.js');
const { Policy } = require('./policy.js');
const { Plans } = require('./plans.js');
const { ErrorBody, HeaderRenderer } = require('./headers.js');

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
  let check;
  if (plans !== undefined) {
    if (!(plans instanceof Plans)) throw new TypeError(`plans must be a Plans, got ${describe(plans)}`);
    const planOf = ensureFunction(o.plan, 'plan');
    check = (req, cost) => {
      const plan = planOf(req);
      if (plan === null || plan === undefined) return null;
      if (!Array.isArray(plan) || plan.length !== 3) {
        throw new TypeError(`plan(req) must return [tier, key, workspace] or null, got ${describe(plan)}`);
      }
      const decision = plans.check(plan[0], plan[1], plan[2], cost);
      // An unlimited tier has no limit to advertise: pass it on unlimited.
      return decision.limit === Infinity ? null : decision;
    };
  } else if (policy !== undefined) {
    if (!(policy instanceof Policy)) throw new TypeError(`policy must be a Policy, got ${describe(policy)}`);
    const keysOf = ensureFunction(o.keys, 'keys');
    check = (req, cost) => {
      const layerKeys = keysOf(req);
      return layerKeys === null || layerKeys === undefined ? null : policy.check(layerKeys, cost);
    };
  } else {
    if (!(limiter instanceof KeyedLimiter)) throw new TypeError(`limiter must be a KeyedLimiter, got ${describe(limiter)}`);
    const keyOf = ensureFunction(o.key ?? keys.ip, 'key');
    check = (req, cost) => {
      const key = keyOf(req);
      return key === null || key === undefined ? null : limiter.check(key, cost);
    };
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
 * when admitted), or null when the request was not limited (no key).
 */
function decide(config, req) {
  const cost = typeof config.cost === 'function' ? config.cost(req) : config.cost;
  const decision = config.check(req, cost);
  if (decision === null) return null;
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

/**
 * `rateLimit(options)` returns `(req, res, next?) => boolean`. It sets the
 * rate-limit headers on `res`; when refused it ends `res` with 429 (403 for a
 * suspended key) and the JSON body and returns false. When admitted it calls
 * `next()` if given (Express) and returns true (node:http).
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
        res.statusCode = verdict.status;
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
      await reply.code(verdict.status).type('application/json').send(verdict.body);
    }
  };
}

module.exports = { fastifyHook, keys, rateLimit };
