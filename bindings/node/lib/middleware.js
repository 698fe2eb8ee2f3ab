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
const { ErrorBody, HeaderRenderer, StandardHeaders, policyOf } = require('./headers.js');
const { Quota } = require('./quota.js');
const { addressKey, clientAddress, subnetBits } = require('./client-address.js');
const { sharedOption, withSuffix } = require('./shared.js');
const { RedisLimiter } = require('./redis.js');
const { LeasedLimiter } = require('./leased.js');

/** Key functions: which bucket a request is charged to (null: no key, so the fallback key). */
const keys = Object.freeze({
  /**
   * The client address (Express's and Fastify's req.ip when set, honouring
   * their proxy settings); an IPv6 address is keyed by its /56.
   */
  ip: (req) => addressKey(clientAddress(req)),
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

/** Thrown (inside the middleware only) when the limit function failed (already reported). */
class NoUsableLimit extends Error {}

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

/** The response presets: what a 429 looks like. */
const PRESETS = new Set(['standard', 'genieos', 'clarifai']);

/** The standard preset's 429 body: names no kind of key. */
function neutralBody(retryAfterDecimals) {
  return ErrorBody.genieos('rate_limited', 'Too many requests. Retry after {retry_after}s.', { retryAfterDecimals });
}

function flag(value, name) {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/**
 * Which KeyedLimiter a request is charged to, from the limit its request
 * gets: the `limiter` given, or (express-rate-limit's options) `limit`
 * requests per `windowMs` (default 5 per 60,000 ms), one table per distinct
 * limit when `limit` is a function. With `shared` (a segment name or
 * `{ name }` / `{ path }`), each table lives in its own shared segment,
 * `<name>.<limit>`, so every worker process charges one table per limit.
 * With `store` (a Redis URL) each limit is kept in Redis instead, under the
 * prefix `<prefix><limit>/<windowMs>:` (`prefix` default 'floodgate:'), so
 * every process and host using that server charges one bucket per key:
 * checked locally from leases (a LeasedLimiter) unless `storeMode` is
 * 'exact' (a RedisLimiter: a round trip per check), which
 * skipSuccessfulRequests and skipFailedRequests need (a lease is spent, not
 * refunded) and choose when `storeMode` is not given.
 */
function limiterSource(o, limiter) {
  const shared = sharedOption(o.shared, 'shared');
  const redis = { store: o.store, prefix: o.prefix, deadlineMs: o.deadlineMs, onFailure: o.onFailure, storeMode: o.storeMode };
  const refunds = o.skipSuccessfulRequests === true || o.skipFailedRequests === true;
  const redisOptions = Object.keys(redis).filter((name) => redis[name] !== undefined);
  if (limiter !== undefined) {
    if (!(limiter instanceof KeyedLimiter) && !(limiter instanceof RedisLimiter) && !(limiter instanceof LeasedLimiter)) {
      throw new TypeError(`limiter must be a KeyedLimiter, a RedisLimiter or a LeasedLimiter, got ${describe(limiter)}`);
    }
    if (limiter instanceof LeasedLimiter && refunds) {
      throw new TypeError('skipSuccessfulRequests and skipFailedRequests refund, and a LeasedLimiter cannot: give a RedisLimiter');
    }
    if (o.windowMs !== undefined || o.limit !== undefined) throw new TypeError('give either limiter or windowMs and limit, not both');
    if (shared !== null) throw new TypeError('shared applies to windowMs and limit; give it to the KeyedLimiter passed as limiter instead');
    if (redisOptions.length > 0) throw new TypeError(`${redisOptions.join(', ')} apply to windowMs and limit; give them to the limiter instead`);
    return () => limiter;
  }
  if (redisOptions.length > 0 && o.store === undefined) throw new TypeError(`${redisOptions.join(', ')} are options of a limit kept in Redis: give store too`);
  if (o.store !== undefined && shared !== null) throw new TypeError('give either shared (one machine) or store (Redis), not both');
  if (o.prefix !== undefined && typeof o.prefix !== 'string') throw new TypeError(`prefix must be a string, got ${describe(o.prefix)}`);
  if (o.storeMode !== undefined && o.storeMode !== 'lease' && o.storeMode !== 'exact') {
    throw new TypeError(`storeMode must be 'lease' or 'exact', got ${describe(o.storeMode)}`);
  }
  if (o.storeMode === 'lease' && refunds) {
    throw new TypeError("skipSuccessfulRequests and skipFailedRequests refund, and leases cannot: give storeMode: 'exact'");
  }
  const Kept = (o.storeMode ?? (refunds ? 'exact' : 'lease')) === 'lease' ? LeasedLimiter : RedisLimiter;
  const windowMs = o.windowMs ?? 60_000;
  const capacity = o.capacity ?? 65_536;
  const tables = new Map();
  const tableOf = (limit) => {
    let table = tables.get(limit);
    if (table === undefined) {
      const quota = Quota.perPeriodMs(limit, windowMs);
      if (o.store === undefined) {
        const segment = shared === null ? undefined : withSuffix(shared, `.${limit}`);
        table = new KeyedLimiter(quota, { capacity, shared: segment });
      } else {
        const prefix = `${o.prefix ?? 'floodgate:'}${limit}/${windowMs}:`;
        table = new Kept(quota, { store: o.store, prefix, deadlineMs: o.deadlineMs, onFailure: o.onFailure });
      }
      tables.set(limit, table);
    }
    return table;
  };
  if (typeof o.limit === 'function') return tableOf;
  const fixed = tableOf(o.limit ?? 5);
  return () => fixed;
}

/** Validates middleware options once, so a request never meets a bad config. */
function settings(opts) {
  const o = ensureOptions(opts, 'options');
  const { limiter, policy, plans } = o;
  if ([limiter, policy, plans].filter((given) => given !== undefined).length > 1) {
    throw new TypeError('options may name only one of limiter (a KeyedLimiter), policy (a Policy) and plans (a Plans)');
  }
  if ((o.shared !== undefined || o.store !== undefined) && (policy !== undefined || plans !== undefined)) {
    throw new TypeError('shared applies to windowMs and limit; give { shared } to the kinds the policy or plans are built from instead');
  }
  const onBadKey = o.onBadKey ?? 'fallback';
  if (!ON_BAD_KEY.has(onBadKey)) throw new TypeError(`onBadKey must be 'fallback' or 'reject', got ${describe(onBadKey)}`);
  const bits = subnetBits(o.ipv6Subnet ?? 56);
  const ipKey = (req) => addressKey(clientAddress(req), bits);
  const fallbackOf = ensureFunction(o.fallbackKey ?? ipKey, 'fallbackKey');
  const hook = o.onError === undefined ? null : ensureFunction(o.onError, 'onError');
  /** Tells onError; a hook that throws must not make the middleware throw. */
  const onError = (error, req) => {
    try {
      hook?.(error, req);
    } catch {
      // Nothing left to tell: the request is answered all the same.
    }
  };
  /** `call()`'s value, or `fallback` (reported to onError) if it throws or its promise rejects. */
  const safely = (req, call, fallback) => {
    let value;
    try {
      value = call();
    } catch (error) {
      onError(error, req);
      return fallback;
    }
    if (!(value instanceof Promise)) return value;
    return value.catch((error) => {
      onError(error, req);
      return fallback;
    });
  };
  /** `key` when usable, else the fallback key; throws NoUsableKey when neither will do. */
  const repair = (key, req, bytesOnly = false) => {
    if (usable(key, bytesOnly)) return key;
    if (onBadKey === 'reject') throw new NoUsableKey();
    const fallback = safely(req, () => fallbackOf(req), undefined);
    if (usable(fallback, bytesOnly)) return fallback;
    throw new NoUsableKey();
  };
  let check;
  /** The IETF policy of a decision's quota, when one quota is known: { quota, windowSeconds } or undefined. */
  let policyFor = () => undefined;
  /** Gives `cost` back to the key a request was charged to (skipSuccessfulRequests, skipFailedRequests). */
  let refund = null;
  if (plans !== undefined) {
    if (!(plans instanceof Plans)) throw new TypeError(`plans must be a Plans, got ${describe(plans)}`);
    const planOf = ensureFunction(o.plan, 'plan');
    check = (req, cost) => {
      const plan = safely(req, () => planOf(req), undefined);
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
      const given = safely(req, () => keysOf(req), undefined);
      const listed = Array.isArray(given) && given.length === keyed.length;
      if (!listed && given !== null && given !== undefined) {
        onError(new TypeError(`keys(req) must return one key per layer (${keyed.length}), got ${describe(given)}`), req);
      }
      // No list at all is every keyed layer's key missing.
      return policy.check(keyed.map((isKeyed, i) => (isKeyed ? repair(listed ? given[i] : null, req) : null)), cost);
    };
  } else {
    const limiterOf = limiterSource(o, limiter);
    // The key: `key` or express-rate-limit's `keyGenerator`, settled before the check (it may be async).
    check = (req, cost, prepared) => {
      const bucket = limiterOf(prepared.limit);
      const key = repair(prepared.key, req);
      prepared.charged = { bucket, key };
      return bucket.check(key, cost);
    };
    policyFor = (decision, prepared) => {
      const quota = prepared.charged?.bucket.quota;
      return quota !== undefined && Number(quota.burst) === decision.limit ? policyOf(quota) : undefined;
    };
    // A limit kept in Redis answers with a Promise.
    refund = (prepared, cost) => (prepared.charged !== undefined && cost > 0 ? prepared.charged.bucket.refund(prepared.charged.key, cost) : undefined);
  }
  const skipSuccessfulRequests = flag(o.skipSuccessfulRequests, 'skipSuccessfulRequests');
  const skipFailedRequests = flag(o.skipFailedRequests, 'skipFailedRequests');
  if ((skipSuccessfulRequests || skipFailedRequests) && refund === null) {
    throw new TypeError('skipSuccessfulRequests and skipFailedRequests need a keyed limit (limiter, or windowMs and limit)');
  }
  const cost = o.cost ?? 1;
  if (typeof cost !== 'function') u64(cost, 'cost');
  const scope = o.scope ?? 'key';
  if (typeof scope !== 'string' || !/^[\x21-\x7e]+$/.test(scope)) {
    throw new TypeError(`scope must be a printable ASCII token, got ${describe(scope)}`);
  }
  const preset = o.preset ?? 'standard';
  if (!PRESETS.has(preset)) throw new TypeError(`preset must be 'standard', 'genieos' or 'clarifai', got ${describe(preset)}`);
  const retryAfterDecimals = o.retryAfterDecimals ?? (preset === 'genieos' ? 1 : 0);
  // express-rate-limit's default name: the limit in its window.
  const windowed = limiter === undefined && policy === undefined && plans === undefined && typeof o.limit !== 'function';
  const identifier = o.identifier ?? (windowed ? `${o.limit ?? 5}-in-${Math.ceil((o.windowMs ?? 60_000) / 1000)}sec` : 'default');
  if (typeof identifier !== 'string' && typeof identifier !== 'function') {
    throw new TypeError(`identifier must be a string or a function, got ${describe(identifier)}`);
  }
  const headers =
    o.headers ??
    (preset === 'genieos'
      ? new HeaderRenderer({ retryAfterDecimals })
      : new StandardHeaders({
          standardHeaders: o.standardHeaders ?? 'draft-8',
          legacyHeaders: o.legacyHeaders ?? true,
          identifier: typeof identifier === 'string' ? identifier : 'default',
        }));
  if (!(headers instanceof HeaderRenderer) && !(headers instanceof StandardHeaders)) {
    throw new TypeError(`headers must be a HeaderRenderer or StandardHeaders, got ${describe(headers)}`);
  }
  let bodyFor;
  if (o.errorBody instanceof ErrorBody) bodyFor = () => o.errorBody;
  else if (o.errorBody !== undefined) bodyFor = ensureFunction(o.errorBody, 'errorBody');
  else if (preset === 'genieos') bodyFor = defaultBodies(retryAfterDecimals);
  else {
    const body = preset === 'clarifai' ? ErrorBody.clarifai('Too many requests', { numericCode: 11005, retryAfterDecimals }) : neutralBody(retryAfterDecimals);
    bodyFor = () => body;
  }
  const statusCode = o.statusCode ?? 429;
  if (!Number.isInteger(statusCode) || statusCode < 400 || statusCode > 599) {
    throw new RangeError(`statusCode must be an HTTP error status (400 to 599), got ${describe(statusCode)}`);
  }
  const requestPropertyName = o.requestPropertyName ?? 'rateLimit';
  if (typeof requestPropertyName !== 'string' || requestPropertyName === '') {
    throw new TypeError(`requestPropertyName must be a non-empty string, got ${describe(requestPropertyName)}`);
  }
  const optional = (name) => (o[name] === undefined ? null : ensureFunction(o[name], name));
  return {
    check,
    policyFor,
    refund,
    skipSuccessfulRequests,
    skipFailedRequests,
    onError,
    safely,
    cost,
    scope,
    headers,
    identifier,
    bodyFor,
    statusCode,
    message: o.message,
    handler: optional('handler'),
    skip: optional('skip'),
    requestPropertyName,
    options: o,
    keyOf: policy === undefined && plans === undefined ? ensureFunction(o.key ?? o.keyGenerator ?? ipKey, 'keyGenerator') : null,
    limitOf: typeof o.limit === 'function' ? o.limit : null,
    suspendedBodyFor: suspendedBodies(),
    requestId: ensureFunction(o.requestId ?? requestIdFromHeader, 'requestId'),
    now: ensureFunction(o.now ?? Date.now, 'now'),
  };
}

/** Runs `then` on `value`, at once unless it is a promise (an async option function). */
function settle(value, then) {
  return value instanceof Promise ? value.then(then) : then(value);
}

/** A limit function that failed: the request is answered 400, never let through unlimited. */
const NO_LIMIT = Symbol('no limit');

/**
 * What a request's check needs from the application's functions, which may
 * be async: { key, limit }, or a promise of it that never rejects (a failed
 * key function is a bad key; a failed limit function a 400).
 */
function prepare(config, req, res) {
  if (config.keyOf === null) return {};
  const key = config.safely(req, () => config.keyOf(req, res), undefined);
  const limit = config.limitOf === null ? undefined : config.safely(req, () => config.limitOf(req, res), NO_LIMIT);
  if (key instanceof Promise || limit instanceof Promise) {
    return Promise.all([key, limit]).then(([k, l]) => ({ key: k, limit: l }));
  }
  return { key, limit };
}

/**
 * Decides one request: `{ status, headers, body, decision }` (status 200 and
 * body null when admitted, or when an unlimited tier admitted it with no
 * headers). Throws whatever a check or the application's functions throw.
 */
function decideOrThrow(config, req, prepared) {
  const cost = typeof config.cost === 'function' ? config.cost(req) : config.cost;
  if (prepared.limit === NO_LIMIT) throw new NoUsableLimit();
  if (config.limitOf !== null) u64(prepared.limit, 'limit(req)');
  const decision = config.check(req, cost, prepared);
  prepared.cost = cost;
  // A limit kept in Redis answers with a Promise.
  if (decision instanceof Promise) return decision.then((settled) => answer(config, req, prepared, settled));
  return answer(config, req, prepared, decision);
}

/** The response to `decision` (see decideOrThrow). */
function answer(config, req, prepared, decision) {
  if (decision === null) return { status: 200, headers: {}, body: null, decision };
  const scope = decision.scope ?? config.scope;
  if (decision.outcome === 'suspended') {
    const body = config.suspendedBodyFor(scope).render(decision, { scope, requestId: config.requestId(req) });
    return { status: 403, headers: {}, body, decision };
  }
  const identifier = typeof config.identifier === 'function' ? config.identifier(req) : config.identifier;
  const headers = config.headers.render(decision, { scope, nowMs: config.now(), policy: config.policyFor(decision, prepared), identifier });
  if (decision.admitted) return { status: 200, headers, body: null, decision };
  const errorBody = config.bodyFor(scope);
  if (!(errorBody instanceof ErrorBody)) throw new TypeError(`errorBody(scope) must return an ErrorBody, got ${describe(errorBody)}`);
  const body = errorBody.render(decision, { scope, requestId: config.requestId(req) });
  return { status: config.statusCode, headers, body, decision, limited: true };
}

/**
 * As decideOrThrow, but a failure is a 400 answer (reported to onError),
 * never an exception or a rejected promise.
 */
function decide(config, req, prepared) {
  try {
    const verdict = decideOrThrow(config, req, prepared);
    return verdict instanceof Promise ? verdict.catch((error) => refused(config, req, error)) : verdict;
  } catch (error) {
    return refused(config, req, error);
  }
}

/** The 400 answer to a request whose check failed with `error`. */
function refused(config, req, error) {
  const noKey = error instanceof NoUsableKey;
  if (!noKey && !(error instanceof NoUsableLimit)) config.onError(error, req);
  // The application's request-id function may be what failed.
  const requestId = requestIdFromHeader(req);
  const body = noKey
    ? badRequestBody('invalid_key', 'The request has no usable key.', requestId)
    : badRequestBody('invalid_request', 'The request could not be checked against its rate limit.', requestId);
  return { status: 400, headers: {}, body, decision: null };
}

/** Which of two decisions' headers a response carries when limits are stacked: the most restrictive. */
function moreRestrictive(a, b) {
  if (a.admitted !== b.admitted) return a.admitted ? b : a;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining ? a : b;
  return a.resetAfterNs >= b.resetAfterNs ? a : b;
}

/** The decision whose headers a response carries, per response (stacked middlewares). */
const shown = new WeakMap();

/**
 * Whether `verdict`'s headers replace those an earlier limit put on `res`
 * (they do if more restrictive); `remove(name)` takes an earlier field off.
 */
function takesHeaders(res, verdict, remove = (name) => res.removeHeader(name)) {
  if (verdict.decision === null) return true;
  const earlier = shown.get(res);
  if (earlier !== undefined && moreRestrictive(earlier.decision, verdict.decision) === earlier.decision) return false;
  if (earlier !== undefined) for (const name of Object.keys(earlier.headers)) remove(name);
  shown.set(res, verdict);
  return true;
}

/** express-rate-limit's req.rateLimit: { limit, used, remaining, resetTime, key }. */
function describeLimit(config, req, verdict, prepared) {
  const { decision } = verdict;
  if (decision === null || decision === undefined) return;
  req[config.requestPropertyName] = {
    limit: decision.limit,
    used: decision.limit - decision.remaining,
    remaining: decision.remaining,
    resetTime: new Date(config.now() + decision.resetAfterMs),
    key: prepared.charged?.key,
  };
}

/** skipSuccessfulRequests / skipFailedRequests: gives the charge back once the response's status is known. */
function refundAfter(config, res, prepared) {
  if (!config.skipSuccessfulRequests && !config.skipFailedRequests) return;
  let done = false;
  const settleWith = (failed) => {
    if (done) return;
    done = true;
    if (failed ? config.skipFailedRequests : config.skipSuccessfulRequests) {
      try {
        const refunded = config.refund(prepared, prepared.cost);
        if (refunded instanceof Promise) refunded.catch((error) => config.onError(error, res.req));
      } catch (error) {
        config.onError(error, res.req);
      }
    }
  };
  res.once('finish', () => settleWith(res.statusCode >= 400));
  // Closed before finishing: the client or the server gave up, a failure.
  res.once('close', () => settleWith(true));
}

/**
 * A refused request's { body, type }: express-rate-limit's `message` (text
 * as is, anything else as JSON; a function's value, which may be async) for
 * a rate-limit denial when given, else the verdict's JSON body.
 */
function denial(config, req, res, verdict) {
  const preset = { body: verdict.body, type: 'application/json' };
  if (config.message === undefined || !verdict.limited) return preset;
  const message = typeof config.message === 'function' ? config.safely(req, () => config.message(req, res), undefined) : config.message;
  return settle(message, (value) => {
    if (value === undefined) return preset;
    return typeof value === 'string' ? { body: value, type: 'text/plain; charset=utf-8' } : { body: JSON.stringify(value), type: 'application/json' };
  });
}

/**
 * `rateLimit(options)` returns `(req, res, next?) => boolean` (a promise of
 * it when an option function is async). It sets the rate-limit headers on
 * `res`; when refused it ends `res` with 429 (or `statusCode`; 403 for a
 * suspended key, 400 for a request with no usable key), or calls `handler`,
 * and returns false. When admitted it calls `next()` if given (Express) and
 * returns true (node:http). It never throws (a `handler`'s own errors aside)
 * and never calls next(error): a failing option function is reported to
 * onError and taken as no key, no skip, the preset's body, or (the limit) a
 * 400 answer.
 */
function rateLimit(opts) {
  const config = settings(opts);
  return function floodgateRateLimit(req, res, next) {
    const pass = () => {
      if (typeof next === 'function') next();
      return true;
    };
    const skipped = config.skip === null ? false : config.safely(req, () => config.skip(req, res), false);
    return settle(skipped, (skip) => {
      if (skip === true) return pass();
      return settle(prepare(config, req, res), (prepared) => settle(decide(config, req, prepared), (verdict) => {
        if (takesHeaders(res, verdict)) for (const [name, value] of Object.entries(verdict.headers)) res.setHeader(name, value);
        describeLimit(config, req, verdict, prepared);
        if (verdict.body === null) {
          refundAfter(config, res, prepared);
          return pass();
        }
        if (config.handler !== null && verdict.limited) {
          config.handler(req, res, next, config.options);
          return false;
        }
        return settle(denial(config, req, res, verdict), ({ body, type }) => {
          res.statusCode = verdict.status;
          res.setHeader('Content-Type', type);
          res.setHeader('Content-Length', Buffer.byteLength(body));
          res.end(body);
          return false;
        });
      }));
    });
  };
}

/** One Fastify request through a middleware config: headers on the reply, a denial sent. */
async function fastifyCheck(config, request, reply) {
  if (config.skip !== null && (await config.safely(request, () => config.skip(request, reply), false)) === true) return;
  const prepared = await prepare(config, request, reply);
  const verdict = await decide(config, request, prepared);
  // Fastify keeps a reply's fields on the reply until it sends.
  if (takesHeaders(reply.raw, verdict, (name) => reply.removeHeader(name))) reply.headers(verdict.headers);
  describeLimit(config, request, verdict, prepared);
  if (verdict.body === null) {
    refundAfter(config, reply.raw, prepared);
    return;
  }
  if (config.handler !== null && verdict.limited) {
    await config.handler(request, reply, undefined, config.options);
    return;
  }
  const { body, type } = await denial(config, request, reply, verdict);
  await reply.code(verdict.status).type(type).send(body);
}

/**
 * A Fastify `onRequest` hook: `fastify.addHook('onRequest', fastifyHook(options))`.
 * Key functions receive Fastify's request, so `request.ip` honours its trustProxy.
 */
function fastifyHook(opts) {
  const config = settings(opts);
  return async function floodgateOnRequest(request, reply) {
    await fastifyCheck(config, request, reply);
  };
}

/**
 * A Fastify plugin: `fastify.register(fastifyRateLimit, options)` limits
 * every route by `options`; a route's `config: { rateLimit: {...} }` gives it
 * its own limit (its own options, merged over the plugin's), and
 * `config: { rateLimit: false }` exempts it.
 */
function fastifyRateLimit(fastify, opts, done) {
  const { global = true, ...base } = ensureOptions(opts, 'options');
  const shared = global ? settings(base) : null;
  /** A route's own settings, by its config.rateLimit object; built when the route is added, so a bad one fails at startup. */
  const routeConfigs = new WeakMap();
  const ownSettings = (own, url) => {
    let config = routeConfigs.get(own);
    if (config === undefined) {
      const merged = { ...base, ...ensureOptions(own, 'config.rateLimit') };
      // A route's own limit is its own table: shared, in segments of its own, named by its route.
      if (own.shared === undefined && base.shared !== undefined) {
        merged.shared = withSuffix(sharedOption(base.shared, 'shared'), `.${String(url).replace(/[^A-Za-z0-9._-]/g, '_')}`);
      }
      // Likewise in Redis, under a prefix of its own.
      if (own.prefix === undefined && base.store !== undefined && own.store === undefined) {
        merged.prefix = `${base.prefix ?? 'floodgate:'}${String(url)}:`;
      }
      config = settings(merged);
      routeConfigs.set(own, config);
    }
    return config;
  };
  fastify.addHook('onRoute', (route) => {
    const own = route.config?.rateLimit;
    if (own !== undefined && own !== false) ownSettings(own, route.url);
  });
  fastify.addHook('onRequest', async (request, reply) => {
    const own = request.routeOptions?.config?.rateLimit;
    if (own === false) return;
    const config = own === undefined ? shared : ownSettings(own, request.routeOptions?.url);
    if (config !== null) await fastifyCheck(config, request, reply);
  });
  done();
}
// Registered once, its hooks apply to the routes of the instance it is registered on, not only its own context.
fastifyRateLimit[Symbol.for('skip-override')] = true;
fastifyRateLimit[Symbol.for('fastify.display-name')] = 'floodgate';

module.exports = { fastifyHook, fastifyRateLimit, keys, rateLimit };
