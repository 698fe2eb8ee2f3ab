'use strict';
// floodgate for Node: lock-free GCRA rate limiting over the C ABI.

const { version } = require('./native.js');
const { FloodgateError, FloodgateRangeError, STATUS } = require('./errors.js');
const { Quota } = require('./quota.js');
const { Limiter } = require('./limiter.js');
const { liveHandles } = require('./handle.js');
const { errorBody, rateLimitHeaders, resetTimestamp, retryAfterSeconds } = require('./headers.js');
const { fastifyHook, keys, rateLimit } = require('./middleware.js');

module.exports = {
  abiVersion: Object.freeze({ ...version }),
  FloodgateError,
  FloodgateRangeError,
  Limiter,
  Quota,
  STATUS,
  errorBody,
  fastifyHook,
  keys,
  liveHandles,
  rateLimit,
  rateLimitHeaders,
  resetTimestamp,
  retryAfterSeconds,
};
