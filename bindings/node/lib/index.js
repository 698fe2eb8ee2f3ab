'use strict';
// floodgate for Node: lock-free GCRA rate limiting over the C ABI.

const { version } = require('./native.js');
const { FloodgateError, FloodgateRangeError, STATUS } = require('./errors.js');
const { Decision } = require('./decision.js');
const { Quota } = require('./quota.js');
const { Limiter } = require('./limiter.js');
const { KeyedLimiter } = require('./keyed.js');
const { RedisInFlight, RedisLimiter, RedisPermit, RedisWindows } = require('./redis.js');
const { LeasedLimiter } = require('./leased.js');
const { SlidingWindow } = require('./window.js');
const { InFlight, Permit } = require('./inflight.js');
const { Policy } = require('./policy.js');
const { KeyedWindows } = require('./keyed-windows.js');
const { Suspensions } = require('./suspensions.js');
const { KeyedInFlight } = require('./keyed-inflight.js');
const { Plans } = require('./plans.js');
const { ErrorBody, HeaderRenderer, StandardHeaders } = require('./headers.js');
const { Retry, RetryPolicy, parseRetryAfter } = require('./retry.js');
const { liveHandles } = require('./handle.js');
const { machineNowNs } = require('./shared.js');
const { fastifyHook, fastifyRateLimit, keys, rateLimit } = require('./middleware.js');

// Shorthand properties only: Node's ESM loader finds a CommonJS module's named
// exports by reading this literal, and stops at the first other form.
const abiVersion = Object.freeze({ ...version });

module.exports = {
  abiVersion,
  Decision,
  ErrorBody,
  FloodgateError,
  FloodgateRangeError,
  HeaderRenderer,
  StandardHeaders,
  InFlight,
  KeyedInFlight,
  KeyedLimiter,
  KeyedWindows,
  LeasedLimiter,
  Limiter,
  machineNowNs,
  Permit,
  Plans,
  Policy,
  Quota,
  RedisInFlight,
  RedisLimiter,
  RedisPermit,
  RedisWindows,
  Retry,
  RetryPolicy,
  STATUS,
  SlidingWindow,
  Suspensions,
  fastifyHook,
  fastifyRateLimit,
  keys,
  liveHandles,
  parseRetryAfter,
  rateLimit,
};
