'use strict';
// Shared mode: a limiter, window, cap, set of suspensions or plan table
// whose state lives in a segment that every worker process (Node cluster,
// PM2) and worker thread of a host maps, so that one limit holds across all
// of them. The `shared` option names the segment.

const { ffi, sizes } = require('./native.js');
const { describe, u64 } = require('./args.js');
const { statusError } = require('./errors.js');
const { KIND } = require('./keys.js');

/**
 * The `shared` option, checked: undefined (not shared, null returned), a
 * segment name (the file /dev/shm/floodgate.<name>), or `{ name }` or
 * `{ path }` (any file every process can open) with an optional `waitMs`
 * (how long to wait for another process still creating the segment; 0,
 * the default, is the library's 5 s). The library checks the name itself.
 */
function sharedOption(value, what) {
  if (value === undefined) return null;
  if (typeof value === 'string') return segment(value, undefined, 0, what);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be a segment name, { name } or { path }, got ${describe(value)}`);
  }
  const { name, path, waitMs = 0 } = value;
  if ((name === undefined) === (path === undefined)) throw new TypeError(`${what} must give exactly one of name and path`);
  return segment(name, path, u64(waitMs, `${what}.waitMs`), what);
}

function segment(name, path, waitMs, what) {
  const [field, given] = name === undefined ? ['path', path] : ['name', name];
  if (typeof given !== 'string') throw new TypeError(`${what}.${field} must be a string, got ${describe(given)}`);
  // The library reads (pointer, length): a NUL would end koffi's copy early.
  if (given.includes('\0')) throw new RangeError(`${what}.${field} must not contain U+0000`);
  return Object.freeze({ name, path, waitMs });
}

/** The segment `spec` names with `suffix` appended to its name or path: another table's own segment. */
function withSuffix(spec, suffix) {
  return spec.name === undefined
    ? Object.freeze({ ...spec, path: spec.path + suffix })
    : Object.freeze({ ...spec, name: spec.name + suffix });
}

/**
 * The segment of a keyed object's native table for keys of `kind`: a
 * native table holds one key kind, so byte keys live in the segment `spec`
 * names and number keys in its companion `<name>.u64`.
 */
function keyedSegment(spec, kind) {
  return kind === KIND.U64 ? withSuffix(spec, '.u64') : spec;
}

/** `spec` as an fg_shared_memory (koffi passes the strings as UTF-8). */
function sharedStruct(spec) {
  return {
    struct_size: sizes.sharedMemory,
    name: spec.name ?? null,
    name_len: spec.name === undefined ? 0 : Buffer.byteLength(spec.name),
    path: spec.path ?? null,
    path_len: spec.path === undefined ? 0 : Buffer.byteLength(spec.path),
    wait_ms: spec.waitMs,
  };
}

/** Deletes the segment `spec` names (a missing one is not an error). */
function removeSegment(spec) {
  const status = ffi.sharedMemoryRemove(sharedStruct(spec));
  if (status !== 0) throw statusError(status);
}

/** Deletes the segments of a keyed object's two tables (see keyedSegment). */
function removeKeyedSegments(spec) {
  for (const kind of [KIND.BYTES, KIND.U64]) removeSegment(keyedSegment(spec, kind));
}

/** Whether the handle `read(handle, out)` asks about lives in a shared segment. */
function isShared(read, handle) {
  const out = new Uint8Array(1);
  const status = read(handle, out);
  if (status !== 0) throw statusError(status);
  return out[0] !== 0;
}

/**
 * Now, in nanoseconds (a BigInt) on the machine's timeline: the clock every
 * shared object reads, in every process alike. Pass it as `nowNs` to a
 * shared object's methods (a process's own clock is another timeline).
 */
function machineNowNs() {
  return BigInt(ffi.machineNowNs());
}

module.exports = { isShared, machineNowNs, keyedSegment, removeKeyedSegments, removeSegment, sharedOption, sharedStruct, withSuffix };
