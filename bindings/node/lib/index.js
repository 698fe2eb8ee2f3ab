'use strict';
// floodgate for Node: lock-free GCRA rate limiting over the C ABI.

const { version } = require('./native.js');
const { FloodgateError, FloodgateRangeError, STATUS } = require('./errors.js');
const { Decision } = require('./decision.js');
const { Quota } = require('./quota.js');
const { Limiter } = require('./limiter.js');
const { KeyedLimiter } = require('./keyed.js');
const { SlidingWindow } = require('./window.js');
const { InFlight, Permit } = require('./inflight.js');
const { Policy } = require('./policy.js');
const { ErrorBody, HeaderRenderer } = require('./headers.js');
const { liveHandles } = require('./handle.js');
const { fastifyHook, keys, rateLimit } = require('./middleware.js');

module.exports = {
  abiVersion: Object.freeze({ ...version }),
  Decision,
  ErrorBody,
  FloodgateError,
  FloodgateRangeError,
  HeaderRenderer,
  InFlight,
  KeyedLimiter,
  Limiter,
  Permit,
  Policy,
  Quota,
  STATUS,
  SlidingWindow,
  fastifyHook,
  keys,
  liveHandles,
  rateLimit,
};
