'use strict';
// What a client reads from a decision, rendered by the library
// (fg_headers_render, fg_error_body_render) so every floodgate binding
// writes the same fields and bodies: X-RateLimit-*, Retry-After, the IETF
// draft RateLimit fields, and the GenieOS or Clarifai JSON 429 body.

const { ffi, layout, sizes } = require('./native.js');
const { describe, options, u64 } = require('./args.js');
const { STATUS, statusError } = require('./errors.js');
const { encodeDecision, readU64Out, u64Out } = require('./decision.js');
const { HANDLE, HandleOwner } = require('./handle.js');

const NO_LEGACY_FIELDS = 1;
const BODY_SHAPES = Object.freeze({ genieos_key: 0, genieos_workspace: 1, genieos: 2, clarifai: 3 });
const BODY_NUMERIC_CODE = 1;

const decision = new Uint8Array(layout.decision.size);
/** Rendered text lands here; grown when the library asks for more. */
let text = Buffer.alloc(1024);

function text_(value, name) {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  return value;
}

/**
 * `value` as UTF-8 bytes with a spare NUL: koffi passes an empty buffer as
 * NULL, which the library refuses even with a length of 0.
 */
function utf8(value) {
  const bytes = Buffer.allocUnsafe(Buffer.byteLength(value) + 1);
  bytes[bytes.length - 1] = 0;
  bytes.utf8Write(value);
  return bytes;
}

function scopeName(value) {
  if (text_(value, 'scope') === '') throw new RangeError('scope must not be empty');
  return utf8(value);
}

function decimals(value) {
  if (!Number.isInteger(value)) throw new TypeError(`retryAfterDecimals must be an integer, got ${describe(value)}`);
  if (value < 0 || value > 9) throw new RangeError(`retryAfterDecimals must be from 0 to 9, got ${value}`);
  return value;
}

/** A (pointer, length) text field of a config struct: null keeps the library's default. */
function field(value, name) {
  return value === undefined ? [null, 0] : [text_(value, name), Buffer.byteLength(value)];
}

/**
 * Calls `render(buffer, capacity)` (storing the length in u64Out) into the
 * shared text buffer, growing it once if the library asks, and returns the text.
 */
function renderText(render) {
  let status = render(text, text.length);
  if (status === STATUS.BUFFER_TOO_SMALL) {
    text = Buffer.alloc(readU64Out() + 1);
    status = render(text, text.length);
  }
  if (status !== 0) throw statusError(status);
  return text.toString('utf8', 0, readU64Out());
}

/** Wall-clock Unix nanoseconds from options { nowMs } (default Date.now()). */
function unixNs(nowMs) {
  const ms = nowMs === undefined ? Date.now() : nowMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new TypeError(`nowMs must be a finite number, got ${describe(ms)}`);
  if (ms < 0) throw new RangeError(`nowMs must not be negative, got ${ms}`);
  return BigInt(Math.trunc(ms)) * 1_000_000n;
}

/** Rate-limit response fields for decisions. */
class HeaderRenderer extends HandleOwner {
  /**
   * `retryAfterDecimals` (default 1, GenieOS's "0.6"; 0 for whole seconds),
   * `legacyFields` (default true: X-RateLimit-*), `policy` ({ name, quota,
   * windowNs }) to add the IETF draft RateLimit-Policy and RateLimit fields.
   */
  constructor(opts) {
    const { retryAfterDecimals = 1, legacyFields = true, policy } = options(opts, 'options');
    if (typeof legacyFields !== 'boolean') throw new TypeError(`legacyFields must be a boolean, got ${describe(legacyFields)}`);
    const draft = policy === undefined ? undefined : options(policy, 'policy');
    const [name, nameLen] = draft === undefined ? [null, 0] : field(text_(draft.name, 'policy.name'), 'policy.name');
    const config = {
      struct_size: sizes.headersConfig,
      flags: legacyFields ? 0 : NO_LEGACY_FIELDS,
      retry_after_decimals: decimals(retryAfterDecimals),
      policy_name: name,
      policy_name_len: nameLen,
      policy_quota: draft === undefined ? 0 : u64(draft.quota, 'policy.quota'),
      policy_window_ns: draft === undefined ? 0 : u64(draft.windowNs, 'policy.windowNs'),
    };
    super('HeaderRenderer', (out) => ffi.headersNew(config, out), ffi.headersFree);
  }

  /**
   * The fields for `decision` as seen from `scope` (default 'key'; a policy
   * decision's own scope), at wall-clock `nowMs` (default Date.now()), as
   * { name: value } in the library's order.
   */
  render(value, opts) {
    const handle = this[HANDLE];
    const { scope = value?.scope ?? 'key', nowMs } = options(opts, 'options');
    const bytes = encodeDecision(value, decision);
    const name = scopeName(scope);
    const now = unixNs(nowMs);
    const lines = renderText((buffer, capacity) =>
      ffi.headersRender(handle, bytes, name, name.length - 1, now, buffer, capacity, u64Out),
    );
    const fields = {};
    for (const line of lines.split('\r\n')) {
      if (line === '') continue;
      const colon = line.indexOf(': ');
      fields[line.slice(0, colon)] = line.slice(colon + 2);
    }
    return fields;
  }
}

/** A 429 JSON body template. */
class ErrorBody extends HandleOwner {
  /**
   * `shape`: 'genieos_key' (default: code key_rate_limit), 'genieos_workspace'
   * (workspace_rate_limit), 'genieos' (your `code` and `message`) or
   * 'clarifai' (CONN_THROTTLED, `message` as details). Optional: `type`
   * (GenieOS), `description` (Clarifai), `numericCode` (a JSON number code,
   * Clarifai's 11005), `cannotFitMessage`, `retryAfterDecimals` (default 1).
   * Messages may use {retry_after}, {limit}, {remaining} and {scope}.
   */
  constructor(opts) {
    const o = options(opts, 'options');
    const shape = o.shape ?? 'genieos_key';
    if (typeof shape !== 'string') throw new TypeError(`shape must be a string, got ${describe(shape)}`);
    if (!(shape in BODY_SHAPES)) throw new RangeError(`shape must be one of ${Object.keys(BODY_SHAPES).join(', ')}, got '${shape}'`);
    const [code, codeLen] = field(o.code, 'code');
    const [message, messageLen] = field(o.message, 'message');
    const [type, typeLen] = field(o.type, 'type');
    const [description, descriptionLen] = field(o.description, 'description');
    const [cannotFit, cannotFitLen] = field(o.cannotFitMessage, 'cannotFitMessage');
    const config = {
      struct_size: sizes.bodyConfig,
      shape: BODY_SHAPES[shape],
      flags: o.numericCode === undefined ? 0 : BODY_NUMERIC_CODE,
      retry_after_decimals: decimals(o.retryAfterDecimals ?? 1),
      code,
      code_len: codeLen,
      numeric_code: o.numericCode === undefined ? 0 : u64(o.numericCode, 'numericCode'),
      message,
      message_len: messageLen,
      type_name: type,
      type_name_len: typeLen,
      description,
      description_len: descriptionLen,
      cannot_fit_message: cannotFit,
      cannot_fit_message_len: cannotFitLen,
    };
    super('ErrorBody', (out) => ffi.bodyNew(config, out), ffi.bodyFree);
  }

  /** GenieOS per-key body. */
  static genieosKey(opts) {
    return new ErrorBody({ ...options(opts, 'options'), shape: 'genieos_key' });
  }

  /** GenieOS per-workspace body. */
  static genieosWorkspace(opts) {
    return new ErrorBody({ ...options(opts, 'options'), shape: 'genieos_workspace' });
  }

  /** A GenieOS body with your code and message template. */
  static genieos(code, message, opts) {
    return new ErrorBody({ ...options(opts, 'options'), shape: 'genieos', code, message });
  }

  /** A Clarifai body (CONN_THROTTLED) with `details` as its message template. */
  static clarifai(details, opts) {
    return new ErrorBody({ ...options(opts, 'options'), shape: 'clarifai', message: details });
  }

  /** The JSON body for `decision` from `scope` (default: its own, else 'key'), answering `requestId`. */
  render(value, opts) {
    const handle = this[HANDLE];
    const { scope = value?.scope ?? 'key', requestId = '' } = options(opts, 'options');
    const bytes = encodeDecision(value, decision);
    const name = scopeName(scope);
    const id = utf8(text_(requestId, 'requestId'));
    return renderText((buffer, capacity) =>
      ffi.bodyRender(handle, bytes, name, name.length - 1, id, id.length - 1, buffer, capacity, u64Out),
    );
  }
}

const DRAFTS = new Set(['draft-6', 'draft-7', 'draft-8']);

/** Nanoseconds as whole seconds, rounded up. */
const secondsUp = (ns) => Math.ceil(ns / 1e9);

/** A structured-field string (draft-8 policy names): quoted, `"` and `\` escaped. */
const quoted = (name) => `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/**
 * The IETF policy of a quota, as RateLimitPolicy::from_quota derives it: q is
 * the burst, w the seconds a full burst takes to refill (rounded up).
 */
function policyOf(quota) {
  const refillNs = (quota.burst * quota.periodNs + quota.count - 1n) / quota.count;
  return { quota: Number(quota.burst), windowSeconds: Math.max(1, secondsUp(Number(refillNs))) };
}

/**
 * The fields most HTTP clients read: `Retry-After` in whole seconds rounded
 * up (RFC 9110's only form; never 0), `X-RateLimit-*` with the reset in Unix
 * epoch seconds (GitHub's and express-rate-limit's form), and the IETF
 * draft fields. Plain arithmetic on a decision, so rendered here.
 */
class StandardHeaders {
  #draft;
  #legacy;
  #name;

  /**
   * `standardHeaders`: 'draft-6' (RateLimit-Limit/-Remaining/-Reset),
   * 'draft-7' (RateLimit: limit=, remaining=, reset=), 'draft-8' (default:
   * named RateLimit and RateLimit-Policy) or false; `legacyHeaders` (default
   * true): X-RateLimit-*; `identifier`: the draft-8 policy name.
   */
  constructor(opts) {
    const { standardHeaders = 'draft-8', legacyHeaders = true, identifier = 'default' } = options(opts, 'options');
    if (standardHeaders !== false && !DRAFTS.has(standardHeaders)) {
      throw new TypeError(`standardHeaders must be false, 'draft-6', 'draft-7' or 'draft-8', got ${describe(standardHeaders)}`);
    }
    if (typeof legacyHeaders !== 'boolean') throw new TypeError(`legacyHeaders must be a boolean, got ${describe(legacyHeaders)}`);
    this.#draft = standardHeaders;
    this.#legacy = legacyHeaders;
    this.#name = text_(identifier, 'identifier');
  }

  /**
   * The fields for `decision` at wall-clock `nowMs` (default Date.now()).
   * `policy` ({ quota, windowSeconds }, see policyOf) adds RateLimit-Policy;
   * `identifier` names it (draft-8) in place of the constructor's.
   */
  render(value, opts) {
    const { nowMs = Date.now(), policy, identifier = this.#name } = options(opts, 'options');
    const fields = {};
    if (!value.admitted && value.retryAfterNs > 0 && Number.isFinite(value.retryAfterNs)) {
      fields['Retry-After'] = String(Math.max(1, secondsUp(value.retryAfterNs)));
    }
    const reset = secondsUp(value.resetAfterNs);
    if (this.#legacy) {
      fields['X-RateLimit-Limit'] = String(value.limit);
      fields['X-RateLimit-Remaining'] = String(value.remaining);
      fields['X-RateLimit-Reset'] = String(Math.ceil((nowMs + value.resetAfterMs) / 1000));
    }
    const name = quoted(text_(identifier, 'identifier'));
    switch (this.#draft) {
      case 'draft-6':
        if (policy) fields['RateLimit-Policy'] = `${policy.quota};w=${policy.windowSeconds}`;
        fields['RateLimit-Limit'] = String(value.limit);
        fields['RateLimit-Remaining'] = String(value.remaining);
        fields['RateLimit-Reset'] = String(reset);
        break;
      case 'draft-7':
        if (policy) fields['RateLimit-Policy'] = `${policy.quota};w=${policy.windowSeconds}`;
        fields.RateLimit = `limit=${value.limit}, remaining=${value.remaining}, reset=${reset}`;
        break;
      case 'draft-8':
        if (policy) fields['RateLimit-Policy'] = `${name};q=${policy.quota};w=${policy.windowSeconds}`;
        fields.RateLimit = `${name};r=${value.remaining};t=${reset}`;
        break;
      default:
    }
    return fields;
  }
}

module.exports = { ErrorBody, HeaderRenderer, StandardHeaders, policyOf };
