'use strict';
// ABI status codes (enum fg_status in include/floodgate.h) as JS errors.
// Every error carries `code` ('ERR_FLOODGATE_<STATUS>') and, when the library
// refused a call, `status` (the negative fg_status) with the library's message.

const { ffi } = require('./native.js');

/** fg_status values by name; test/abi.test.js checks them against the header. */
const STATUS = Object.freeze({
  OK: 0,
  NULL_POINTER: -1,
  MISALIGNED_POINTER: -2,
  STRUCT_SIZE: -3,
  INVALID_LENGTH: -4,
  INVALID_ARGUMENT: -5,
  BUFFER_TOO_SMALL: -6,
  INVALID_UTF8: -7,
  KEY_KIND_MISMATCH: -8,
  ALLOCATION_FAILED: -9,
  ZERO_COUNT: -10,
  ZERO_PERIOD: -11,
  ZERO_BURST: -12,
  PERIOD_TOO_LONG: -13,
  RATE_TOO_HIGH: -14,
  BURST_TOO_LARGE: -15,
  LOCKOUT_TOO_LONG: -16,
  INEXACT_RATE: -17,
  NO_LAYERS: -20,
  TOO_MANY_LAYERS: -21,
  LAYER_KEY_COUNT: -22,
  NO_SUCH_LAYER: -23,
  ZERO_LIMIT: -30,
  LIMIT_TOO_LARGE: -31,
  ZERO_WINDOW: -32,
  WINDOW_TOO_LONG: -33,
  PERMIT_ALREADY_RELEASED: -40,
  FOREIGN_PERMIT: -41,
  INVALID_RETRY_AFTER: -50,
  INVALID_TEMPLATE: -51,
  INVALID_RETRY_POLICY: -52,
  INVALID_POLICY_NAME: -53,
  ZERO_CAPACITY: -60,
  CAPACITY_TOO_LARGE: -61,
  EMPTY_KEY: -62,
  KEY_TOO_LONG: -63,
  TABLE_FULL: -64,
  TOO_MANY_OVERRIDES: -65,
  SEGMENT_IO: -70,
  SEGMENT_MISMATCH: -71,
  SEGMENT_NOT_READY: -72,
  SHARED_UNSUPPORTED: -73,
  INVALID_SEGMENT_NAME: -74,
  INVALID_STORE_URL: -80,
  STORE_THREAD: -81,
  STORE_UNAVAILABLE: -82,
  PANIC: -100,
});

const NAMES = new Map(Object.entries(STATUS).map(([name, value]) => [value, name]));

/** Statuses that mean "this value is out of range" (the caller's to fix). */
const RANGE_STATUSES = new Set([
  STATUS.INVALID_LENGTH,
  STATUS.INVALID_ARGUMENT,
  STATUS.INVALID_UTF8,
  STATUS.ALLOCATION_FAILED,
  STATUS.ZERO_COUNT,
  STATUS.ZERO_PERIOD,
  STATUS.ZERO_BURST,
  STATUS.PERIOD_TOO_LONG,
  STATUS.RATE_TOO_HIGH,
  STATUS.BURST_TOO_LARGE,
  STATUS.LOCKOUT_TOO_LONG,
  STATUS.INEXACT_RATE,
  STATUS.NO_LAYERS,
  STATUS.TOO_MANY_LAYERS,
  STATUS.LAYER_KEY_COUNT,
  STATUS.NO_SUCH_LAYER,
  STATUS.ZERO_LIMIT,
  STATUS.LIMIT_TOO_LARGE,
  STATUS.ZERO_WINDOW,
  STATUS.WINDOW_TOO_LONG,
  STATUS.INVALID_RETRY_AFTER,
  STATUS.INVALID_TEMPLATE,
  STATUS.INVALID_RETRY_POLICY,
  STATUS.INVALID_POLICY_NAME,
  STATUS.ZERO_CAPACITY,
  STATUS.CAPACITY_TOO_LARGE,
  STATUS.EMPTY_KEY,
  STATUS.KEY_TOO_LONG,
  STATUS.INVALID_SEGMENT_NAME,
  STATUS.INVALID_STORE_URL,
]);

/**
 * A failure that is not an argument's range: a closed handle, a permit
 * released twice or to another cap, a full key table, a shared segment that
 * cannot be opened or holds other settings (ERR_FLOODGATE_SEGMENT_MISMATCH,
 * its message naming the field), a library bug.
 */
class FloodgateError extends Error {
  constructor(message, code, status) {
    super(message);
    this.name = 'FloodgateError';
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

/** A value the library refused as out of range (say, a quota burst of 0). */
class FloodgateRangeError extends RangeError {
  constructor(message, code, status) {
    super(message);
    this.name = 'FloodgateRangeError';
    this.code = code;
    this.status = status;
  }
}

/** The error for a non-OK status, with fg_last_error_message's text. */
/** The error of `status`; `message` defaults to this thread's last (a call made on a worker thread left its own there). */
function statusError(status, message = ffi.lastErrorMessage() || `floodgate call failed with status ${status}`) {
  const name = NAMES.get(status) ?? `STATUS_${-status}`;
  const code = `ERR_FLOODGATE_${name}`;
  return RANGE_STATUSES.has(status)
    ? new FloodgateRangeError(message, code, status)
    : new FloodgateError(message, code, status);
}

function closedError(what) {
  return new FloodgateError(`${what} is closed`, 'ERR_FLOODGATE_CLOSED');
}

module.exports = { STATUS, FloodgateError, FloodgateRangeError, closedError, statusError };
