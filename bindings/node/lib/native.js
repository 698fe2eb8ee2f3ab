'use strict';
// The C ABI (include/floodgate.h) as koffi sees it: the loaded library, its
// functions, and the byte layouts of the structs the JS side reads and writes.
//
// Structs cross the boundary as caller-owned bytes (`void *` to a typed
// array), never as koffi struct objects: decoding an fg_decision into an
// object costs ~840 ns per call here, reading it from a reused buffer ~5 ns
// (BENCHMARKS.md, "Node").

const os = require('node:os');
const koffi = requireKoffi();
const { buildLibrary, libraryPath } = require('../scripts/library.js');

function requireKoffi() {
  try {
    return require('koffi');
  } catch (error) {
    // `npm install <folder>` links a folder outside the project without
    // installing the folder's own dependencies.
    throw new Error(`floodgate: cannot load koffi (${error.message}); run npm install in ${require('node:path').join(__dirname, '..')} or install with --install-links`);
  }
}

/** The ABI major this package speaks and the least minor it needs. */
const ABI_MAJOR = 1;
const ABI_MINOR = 0;

function loadLibrary() {
  let file = libraryPath();
  if (file === null) {
    // npm 11 skips dependency install scripts unless allowed, so the first
    // load builds what `npm install` did not.
    process.stderr.write('floodgate: no built library yet; running cargo build --release --lib\n');
    buildLibrary();
    file = libraryPath();
  }
  const library = koffi.load(file);
  const version = library.func('uint32_t fg_abi_version(void)')();
  const major = version >>> 16;
  const minor = version & 0xffff;
  if (major !== ABI_MAJOR || minor < ABI_MINOR) {
    throw new Error(
      `floodgate: ${file} has ABI ${major}.${minor}; this package needs ${ABI_MAJOR}.${ABI_MINOR} or a later 1.x`,
    );
  }
  return { library, version: { major, minor } };
}

const { library, version } = loadLibrary();

// Layout-only type declarations: koffi computes the C offsets for this platform.
const QuotaStruct = koffi.struct('fg_quota', {
  struct_size: 'size_t',
  count: 'uint64_t',
  period_ns: 'uint64_t',
  burst: 'uint64_t',
});
const DecisionStruct = koffi.struct('fg_decision', {
  admitted: 'bool',
  outcome: 'int32_t',
  limit: 'uint64_t',
  remaining: 'uint64_t',
  reset_after_ns: 'uint64_t',
  retry_after_ns: 'uint64_t',
  scope: 'uint32_t',
});

/** Byte offsets and sizes of the C structs, for typed-array access. */
const layout = {
  quota: {
    size: koffi.sizeof(QuotaStruct),
    structSizeBytes: koffi.sizeof('size_t'),
    structSize: koffi.offsetof(QuotaStruct, 'struct_size'),
    count: koffi.offsetof(QuotaStruct, 'count'),
    periodNs: koffi.offsetof(QuotaStruct, 'period_ns'),
    burst: koffi.offsetof(QuotaStruct, 'burst'),
  },
  decision: {
    size: koffi.sizeof(DecisionStruct),
    admitted: koffi.offsetof(DecisionStruct, 'admitted'),
    outcome: koffi.offsetof(DecisionStruct, 'outcome'),
    limit: koffi.offsetof(DecisionStruct, 'limit'),
    remaining: koffi.offsetof(DecisionStruct, 'remaining'),
    resetAfterNs: koffi.offsetof(DecisionStruct, 'reset_after_ns'),
    retryAfterNs: koffi.offsetof(DecisionStruct, 'retry_after_ns'),
    scope: koffi.offsetof(DecisionStruct, 'scope'),
  },
  littleEndian: os.endianness() === 'LE',
};

// Handles are koffi 3 pointers (BigInt); out-structs are typed arrays.
const fn = (name, result, params) => library.func(name, result, params);
const ffi = {
  limiterNew: library.func('int32_t fg_limiter_new(void *quota, _Out_ void **out)'),
  limiterFree: fn('fg_limiter_free', 'void', ['void *']),
  limiterCheck: fn('fg_limiter_check', 'int32_t', ['void *', 'uint64_t', 'void *']),
  limiterCheckAt: fn('fg_limiter_check_at', 'int32_t', ['void *', 'uint64_t', 'uint64_t', 'void *']),
  limiterPeek: fn('fg_limiter_peek', 'int32_t', ['void *', 'void *']),
  limiterPeekAt: fn('fg_limiter_peek_at', 'int32_t', ['void *', 'uint64_t', 'void *']),
  limiterRefund: fn('fg_limiter_refund', 'int32_t', ['void *', 'uint64_t', 'void *']),
  limiterRefundAt: fn('fg_limiter_refund_at', 'int32_t', ['void *', 'uint64_t', 'uint64_t', 'void *']),
  limiterReconfigure: fn('fg_limiter_reconfigure', 'int32_t', ['void *', 'void *']),
  limiterReconfigureAt: fn('fg_limiter_reconfigure_at', 'int32_t', ['void *', 'void *', 'uint64_t']),
  limiterQuota: fn('fg_limiter_quota', 'int32_t', ['void *', 'void *']),
  lastErrorMessage: fn('fg_last_error_message', 'const char *', []),
};

module.exports = { ffi, layout, version };
