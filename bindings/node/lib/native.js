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
const { libraryPath } = require('../scripts/library.js');

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
const ABI_MINOR = 12; // 1.12: connections the event loop drives (1.11: answer queues for Redis checks; 1.10: failing local, Redis Cluster, windows and in-flight caps kept in Redis, leased limits; 1.9: limits kept in Redis; 1.8: fg_machine_now_ns)

function loadLibrary() {
  const file = libraryPath();
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

// Constants of include/floodgate.h this package relies on (test/abi.test.js
// checks them against the header).
const limits = Object.freeze({
  maxKeyLen: 4096, // FG_MAX_KEY_LEN
  maxLayers: 32, // FG_MAX_LAYERS
  warningZonePercent: 20, // FG_WARNING_ZONE_PERCENT
});

/** fg_retry_config.jitter values (FG_JITTER_*), by the names the JS API takes. */
const jitters = Object.freeze({ none: 0, equal: 1, full: 2 });

/** The fg_retry_* constants besides the jitter kinds. */
const retryConstants = Object.freeze({
  seeded: 1, // FG_RETRY_SEEDED
  presetGenieos: 1, // FG_RETRY_PRESET_GENIEOS
  presetLicenseApi: 2, // FG_RETRY_PRESET_LICENSE_API
  noRetryAfter: (1n << 64n) - 1n, // FG_NO_RETRY_AFTER
});

// Layout-only type declarations: koffi computes the C offsets for this platform.
const QuotaStruct = koffi.struct('fg_quota', {
  struct_size: 'size_t',
  count: 'uint64_t',
  period_ns: 'uint64_t',
  burst: 'uint64_t',
  lockout_ns: 'uint64_t',
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
const RedisAnswerStruct = koffi.struct('fg_redis_answer', { // ABI 1.9+
  ticket: 'uint64_t',
  status: 'int32_t',
  decision: DecisionStruct,
});
const VerdictStruct = koffi.struct('fg_verdict', {
  decision: DecisionStruct,
  layer: 'uint32_t',
  scope_name: 'const char *',
});
const PermitStruct = koffi.struct('fg_permit', { owner: 'uint64_t', ticket: 'uint64_t' });
const AcquisitionStruct = koffi.struct('fg_acquisition', {
  acquired: 'bool',
  permit: PermitStruct,
  in_flight: 'uint64_t',
  limit: 'uint64_t',
});
const LayerKeyStruct = koffi.struct('fg_layer_key', {
  kind: 'uint32_t',
  id: 'uint64_t',
  bytes: 'void *',
  len: 'size_t',
});
const CountsStruct = koffi.struct('fg_policy_counts', {
  admitted: 'uint64_t',
  denied: 'uint64_t',
  suspended: 'uint64_t',
});
// Config structs are built once per handle, so koffi marshals them from
// plain objects (strings as pointers, handles as pointers).
const KeyedConfigStruct = koffi.struct('fg_keyed_config', {
  struct_size: 'size_t',
  key_kind: 'uint32_t',
  on_full: 'uint32_t',
  capacity: 'uint64_t',
  max_overrides: 'uint64_t',
});
const LayerStruct = koffi.struct('fg_layer', {
  struct_size: 'size_t',
  scope: 'uint32_t',
  flags: 'uint32_t',
  name: 'const char *',
  name_len: 'size_t',
  limiter: 'void *',
  keyed_limiter: 'void *',
  window: 'void *',
  suspensions: 'void *', // ABI 1.2
  keyed_window: 'void *', // ABI 1.2
});
const KeyedWindowConfigStruct = koffi.struct('fg_keyed_window_config', {
  struct_size: 'size_t',
  key_kind: 'uint32_t',
  on_full: 'uint32_t',
  limit: 'uint64_t',
  window_ns: 'uint64_t',
  capacity: 'uint64_t',
});
const TierStruct = koffi.struct('fg_tier', {
  struct_size: 'size_t',
  name: 'const char *',
  name_len: 'size_t',
  key_quota: koffi.pointer(QuotaStruct),
  workspace_limit: 'uint64_t',
});
const PlansConfigStruct = koffi.struct('fg_plans_config', {
  struct_size: 'size_t',
  window_ns: 'uint64_t',
  key_capacity: 'uint64_t',
  workspace_capacity: 'uint64_t',
});
const HeadersConfigStruct = koffi.struct('fg_headers_config', {
  struct_size: 'size_t',
  flags: 'uint32_t',
  retry_after_decimals: 'uint32_t',
  policy_name: 'const char *',
  policy_name_len: 'size_t',
  policy_quota: 'uint64_t',
  policy_window_ns: 'uint64_t',
});
const BodyConfigStruct = koffi.struct('fg_error_body_config', {
  struct_size: 'size_t',
  shape: 'uint32_t',
  flags: 'uint32_t',
  retry_after_decimals: 'uint32_t',
  code: 'const char *',
  code_len: 'size_t',
  numeric_code: 'uint64_t',
  message: 'const char *',
  message_len: 'size_t',
  type_name: 'const char *',
  type_name_len: 'size_t',
  description: 'const char *',
  description_len: 'size_t',
  cannot_fit_message: 'const char *',
  cannot_fit_message_len: 'size_t',
});

const RetryConfigStruct = koffi.struct('fg_retry_config', {
  struct_size: 'size_t',
  initial_ns: 'uint64_t',
  max_delay_ns: 'uint64_t',
  factor: 'uint32_t',
  max_retries: 'uint32_t',
  jitter: 'uint32_t',
  flags: 'uint32_t',
  seed: 'uint64_t',
});

const SharedMemoryStruct = koffi.struct('fg_shared_memory', { // ABI 1.6
  struct_size: 'size_t',
  name: 'const char *',
  name_len: 'size_t',
  path: 'const char *',
  path_len: 'size_t',
  wait_ms: 'uint64_t',
});

const RedisConfigStruct = koffi.struct('fg_redis_config', { // ABI 1.9
  struct_size: 'size_t',
  prefix: 'const char *',
  prefix_len: 'size_t',
  deadline_ns: 'uint64_t',
  on_failure: 'uint32_t',
  breaker_failures: 'uint32_t',
  breaker_cool_down_ns: 'uint64_t',
});
const RedisAcquisitionStruct = koffi.struct('fg_redis_acquisition', { // ABI 1.10
  acquired: 'bool',
  in_flight: 'uint64_t',
  limit: 'uint64_t',
  lease_end_us: 'uint64_t',
});
const StoreCountersStruct = koffi.struct('fg_store_counters', { // ABI 1.10
  struct_size: 'size_t',
  exact: 'uint64_t',
  cached: 'uint64_t',
  failed_open: 'uint64_t',
  failed_closed: 'uint64_t',
  timeouts: 'uint64_t',
  errors: 'uint64_t',
  skipped: 'uint64_t',
  breaker_opened: 'uint64_t',
  local_admitted: 'uint64_t',
  local_denied: 'uint64_t',
});

const LeaseConfigStruct = koffi.struct('fg_lease_config', { // ABI 1.10
  struct_size: 'size_t',
  prefix: 'const char *',
  prefix_len: 'size_t',
  deadline_ns: 'uint64_t',
  on_failure: 'uint32_t',
  low_water_percent: 'uint32_t',
  lease_time_ns: 'uint64_t',
  fleet_size: 'uint64_t',
  capacity: 'uint64_t',
});
const LeaseCountersStruct = koffi.struct('fg_lease_counters', { // ABI 1.10
  struct_size: 'size_t',
  local: 'uint64_t',
  leases: 'uint64_t',
  waited: 'uint64_t',
  granted: 'uint64_t',
  give_backs: 'uint64_t',
  returned: 'uint64_t',
  exact: 'uint64_t',
});

const offsets = (struct, fields) =>
  Object.fromEntries(Object.entries(fields).map(([name, field]) => [name, koffi.offsetof(struct, field)]));

/** Byte offsets and sizes of the C structs, for typed-array access. */
const layout = {
  quota: {
    size: koffi.sizeof(QuotaStruct),
    structSizeBytes: koffi.sizeof('size_t'),
    ...offsets(QuotaStruct, {
      structSize: 'struct_size',
      count: 'count',
      periodNs: 'period_ns',
      burst: 'burst',
      lockoutNs: 'lockout_ns',
    }),
  },
  decision: {
    size: koffi.sizeof(DecisionStruct),
    ...offsets(DecisionStruct, {
      admitted: 'admitted',
      outcome: 'outcome',
      limit: 'limit',
      remaining: 'remaining',
      resetAfterNs: 'reset_after_ns',
      retryAfterNs: 'retry_after_ns',
      scope: 'scope',
    }),
  },
  redisAnswer: {
    size: koffi.sizeof(RedisAnswerStruct),
    ...offsets(RedisAnswerStruct, { ticket: 'ticket', status: 'status', decision: 'decision' }),
  },
  verdict: {
    size: koffi.sizeof(VerdictStruct),
    ...offsets(VerdictStruct, { decision: 'decision', layer: 'layer' }),
  },
  redisAcquisition: offsets(RedisAcquisitionStruct, { acquired: 'acquired', inFlight: 'in_flight', limit: 'limit', leaseEndUs: 'lease_end_us' }),
  acquisition: {
    size: koffi.sizeof(AcquisitionStruct),
    ...offsets(AcquisitionStruct, { acquired: 'acquired', permit: 'permit', inFlight: 'in_flight', limit: 'limit' }),
    owner: koffi.offsetof(AcquisitionStruct, 'permit') + koffi.offsetof(PermitStruct, 'owner'),
    ticket: koffi.offsetof(AcquisitionStruct, 'permit') + koffi.offsetof(PermitStruct, 'ticket'),
  },
  layerKey: {
    size: koffi.sizeof(LayerKeyStruct),
    ...offsets(LayerKeyStruct, { kind: 'kind', id: 'id', bytes: 'bytes', len: 'len' }),
  },
  counts: {
    size: koffi.sizeof(CountsStruct),
    ...offsets(CountsStruct, { first: 'admitted', second: 'denied', third: 'suspended' }),
  },
  retryConfig: {
    size: koffi.sizeof(RetryConfigStruct),
    structSizeBytes: koffi.sizeof('size_t'),
    ...offsets(RetryConfigStruct, {
      structSize: 'struct_size',
      initialNs: 'initial_ns',
      maxDelayNs: 'max_delay_ns',
      factor: 'factor',
      maxRetries: 'max_retries',
      jitter: 'jitter',
      flags: 'flags',
      seed: 'seed',
    }),
  },
  sizes: {
    keyedConfig: koffi.sizeof(KeyedConfigStruct),
    layer: koffi.sizeof(LayerStruct),
    headersConfig: koffi.sizeof(HeadersConfigStruct),
    bodyConfig: koffi.sizeof(BodyConfigStruct),
    keyedWindowConfig: koffi.sizeof(KeyedWindowConfigStruct),
    tier: koffi.sizeof(TierStruct),
    plansConfig: koffi.sizeof(PlansConfigStruct),
    sharedMemory: koffi.sizeof(SharedMemoryStruct),
    redisConfig: koffi.sizeof(RedisConfigStruct),
    storeCounters: koffi.sizeof(StoreCountersStruct),
    redisAcquisition: koffi.sizeof(RedisAcquisitionStruct),
    leaseConfig: koffi.sizeof(LeaseConfigStruct),
    leaseCounters: koffi.sizeof(LeaseCountersStruct),
  },
  littleEndian: os.endianness() === 'LE',
};

// Handles are koffi 3 pointers (BigInt); out-structs are typed arrays.
const fn = (name, result, params) => library.func(name, result, params);
const H = 'void *'; // a handle, or caller-owned bytes
const U64 = 'uint64_t';
const S = 'int32_t'; // fg_status
const ffi = {
  lastErrorMessage: fn('fg_last_error_message', 'const char *', []),
  scopeName: fn('fg_scope_name', S, ['uint32_t', koffi.out(koffi.pointer('const char *'))]),
  inWarningZone: fn('fg_decision_in_warning_zone', S, [H, U64, H]),

  limiterNew: library.func('int32_t fg_limiter_new(void *quota, _Out_ void **out)'),
  limiterNewShared: fn('fg_limiter_new_shared', S, [H, koffi.pointer(SharedMemoryStruct), koffi.out(koffi.pointer(H))]),
  limiterIsShared: fn('fg_limiter_is_shared', S, [H, H]),
  limiterFree: fn('fg_limiter_free', 'void', [H]),
  limiterCheck: fn('fg_limiter_check', S, [H, U64, H]),
  limiterCheckAt: fn('fg_limiter_check_at', S, [H, U64, U64, H]),
  limiterPeek: fn('fg_limiter_peek', S, [H, H]),
  limiterPeekAt: fn('fg_limiter_peek_at', S, [H, U64, H]),
  limiterRefund: fn('fg_limiter_refund', S, [H, U64, H]),
  limiterRefundAt: fn('fg_limiter_refund_at', S, [H, U64, U64, H]),
  limiterReconfigure: fn('fg_limiter_reconfigure', S, [H, H]),
  limiterReconfigureAt: fn('fg_limiter_reconfigure_at', S, [H, H, U64]),
  limiterQuota: fn('fg_limiter_quota', S, [H, H]),
  limiterReserve: fn('fg_limiter_reserve', S, [H, U64, U64, H, H]),
  limiterReserveAt: fn('fg_limiter_reserve_at', S, [H, U64, U64, U64, H, H]),
  limiterSuspendUntil: fn('fg_limiter_suspend_until', S, [H, U64]),
  limiterSuspend: fn('fg_limiter_suspend', S, [H]),
  limiterSuspendFor: fn('fg_limiter_suspend_for', S, [H, U64]),
  limiterLiftSuspension: fn('fg_limiter_lift_suspension', S, [H]),
  limiterSuspensionAt: fn('fg_limiter_suspension_at', S, [H, U64, H, H]),

  keyedNew: fn('fg_keyed_limiter_new', S, [koffi.pointer(KeyedConfigStruct), H, koffi.out(koffi.pointer(H))]),
  keyedNewShared: fn('fg_keyed_limiter_new_shared', S, [
    koffi.pointer(KeyedConfigStruct),
    H,
    koffi.pointer(SharedMemoryStruct),
    koffi.out(koffi.pointer(H)),
  ]),
  keyedIsShared: fn('fg_keyed_limiter_is_shared', S, [H, H]),
  sharedMemoryRemove: fn('fg_shared_memory_remove', S, [koffi.pointer(SharedMemoryStruct)]),
  keyedFree: fn('fg_keyed_limiter_free', 'void', [H]),
  keyedCheckU64: fn('fg_keyed_limiter_check_u64', S, [H, U64, U64, H]),
  keyedCheckU64At: fn('fg_keyed_limiter_check_u64_at', S, [H, U64, U64, U64, H]),
  keyedCheckBytes: fn('fg_keyed_limiter_check_bytes', S, [H, H, 'size_t', U64, H]),
  keyedCheckBytesAt: fn('fg_keyed_limiter_check_bytes_at', S, [H, H, 'size_t', U64, U64, H]),
  keyedPeekU64: fn('fg_keyed_limiter_peek_u64', S, [H, U64, H]),
  keyedPeekU64At: fn('fg_keyed_limiter_peek_u64_at', S, [H, U64, U64, H]),
  keyedPeekBytes: fn('fg_keyed_limiter_peek_bytes', S, [H, H, 'size_t', H]),
  keyedPeekBytesAt: fn('fg_keyed_limiter_peek_bytes_at', S, [H, H, 'size_t', U64, H]),
  keyedRefundU64: fn('fg_keyed_limiter_refund_u64', S, [H, U64, U64, H]),
  keyedRefundU64At: fn('fg_keyed_limiter_refund_u64_at', S, [H, U64, U64, U64, H]),
  keyedRefundBytes: fn('fg_keyed_limiter_refund_bytes', S, [H, H, 'size_t', U64, H]),
  keyedRefundBytesAt: fn('fg_keyed_limiter_refund_bytes_at', S, [H, H, 'size_t', U64, U64, H]),
  keyedReserveU64: fn('fg_keyed_limiter_reserve_u64', S, [H, U64, U64, U64, H, H]),
  keyedReserveU64At: fn('fg_keyed_limiter_reserve_u64_at', S, [H, U64, U64, U64, U64, H, H]),
  keyedReserveBytes: fn('fg_keyed_limiter_reserve_bytes', S, [H, H, 'size_t', U64, U64, H, H]),
  keyedReserveBytesAt: fn('fg_keyed_limiter_reserve_bytes_at', S, [H, H, 'size_t', U64, U64, U64, H, H]),
  keyedSetQuotaU64: fn('fg_keyed_limiter_set_quota_u64', S, [H, U64, H]),
  keyedSetQuotaU64At: fn('fg_keyed_limiter_set_quota_u64_at', S, [H, U64, H, U64]),
  keyedSetQuotaBytes: fn('fg_keyed_limiter_set_quota_bytes', S, [H, H, 'size_t', H]),
  keyedSetQuotaBytesAt: fn('fg_keyed_limiter_set_quota_bytes_at', S, [H, H, 'size_t', H, U64]),
  keyedClearQuotaU64: fn('fg_keyed_limiter_clear_quota_u64', S, [H, U64]),
  keyedClearQuotaU64At: fn('fg_keyed_limiter_clear_quota_u64_at', S, [H, U64, U64]),
  keyedClearQuotaBytes: fn('fg_keyed_limiter_clear_quota_bytes', S, [H, H, 'size_t']),
  keyedClearQuotaBytesAt: fn('fg_keyed_limiter_clear_quota_bytes_at', S, [H, H, 'size_t', U64]),
  keyedResetU64: fn('fg_keyed_limiter_reset_u64', S, [H, U64]),
  keyedResetU64At: fn('fg_keyed_limiter_reset_u64_at', S, [H, U64, U64]),
  keyedResetBytes: fn('fg_keyed_limiter_reset_bytes', S, [H, H, 'size_t']),
  keyedResetBytesAt: fn('fg_keyed_limiter_reset_bytes_at', S, [H, H, 'size_t', U64]),
  keyedQuotaForU64: fn('fg_keyed_limiter_quota_for_u64', S, [H, U64, H]),
  keyedQuotaForBytes: fn('fg_keyed_limiter_quota_for_bytes', S, [H, H, 'size_t', H]),
  keyedDefaultQuota: fn('fg_keyed_limiter_default_quota', S, [H, H]),
  keyedReconfigure: fn('fg_keyed_limiter_reconfigure', S, [H, H]),
  keyedReconfigureAt: fn('fg_keyed_limiter_reconfigure_at', S, [H, H, U64]),
  keyedLen: fn('fg_keyed_limiter_len', S, [H, H]),
  keyedCapacity: fn('fg_keyed_limiter_capacity', S, [H, H]),
  keyedFullTableEvents: fn('fg_keyed_limiter_full_table_events', S, [H, H]),

  windowNew: fn('fg_window_new', S, [U64, U64, koffi.out(koffi.pointer(H))]),
  windowNewShared: fn('fg_window_new_shared', S, [U64, U64, koffi.pointer(SharedMemoryStruct), koffi.out(koffi.pointer(H))]), // ABI 1.7
  windowIsShared: fn('fg_window_is_shared', S, [H, H]),
  windowFree: fn('fg_window_free', 'void', [H]),
  windowCheck: fn('fg_window_check', S, [H, U64, H]),
  windowCheckAt: fn('fg_window_check_at', S, [H, U64, U64, H]),
  windowPeek: fn('fg_window_peek', S, [H, H]),
  windowPeekAt: fn('fg_window_peek_at', S, [H, U64, H]),
  windowRefund: fn('fg_window_refund', S, [H, U64, H]),
  windowRefundAt: fn('fg_window_refund_at', S, [H, U64, U64, H]),
  windowReconfigure: fn('fg_window_reconfigure', S, [H, U64]),

  inflightNew: fn('fg_inflight_new', S, [U64, koffi.out(koffi.pointer(H))]),
  inflightNewShared: fn('fg_inflight_new_shared', S, [U64, koffi.pointer(SharedMemoryStruct), koffi.out(koffi.pointer(H))]), // ABI 1.7
  inflightIsShared: fn('fg_inflight_is_shared', S, [H, H]),
  inflightFree: fn('fg_inflight_free', 'void', [H]),
  inflightAcquire: fn('fg_inflight_acquire', S, [H, H]),
  inflightRelease: fn('fg_inflight_release', S, [H, PermitStruct, H]),
  inflightStatus: fn('fg_inflight_status', S, [H, H, H]),

  keyedWindowNew: fn('fg_keyed_window_new', S, [koffi.pointer(KeyedWindowConfigStruct), koffi.out(koffi.pointer(H))]),
  keyedWindowNewShared: fn('fg_keyed_window_new_shared', S, [koffi.pointer(KeyedWindowConfigStruct), koffi.pointer(SharedMemoryStruct), koffi.out(koffi.pointer(H))]), // ABI 1.7
  keyedWindowIsShared: fn('fg_keyed_window_is_shared', S, [H, H]),
  keyedWindowFree: fn('fg_keyed_window_free', 'void', [H]),
  keyedWindowCheckU64: fn('fg_keyed_window_check_u64', S, [H, U64, U64, H]),
  keyedWindowCheckU64At: fn('fg_keyed_window_check_u64_at', S, [H, U64, U64, U64, H]),
  keyedWindowCheckBytes: fn('fg_keyed_window_check_bytes', S, [H, H, 'size_t', U64, H]),
  keyedWindowCheckBytesAt: fn('fg_keyed_window_check_bytes_at', S, [H, H, 'size_t', U64, U64, H]),
  keyedWindowRefundU64: fn('fg_keyed_window_refund_u64', S, [H, U64, U64, H]),
  keyedWindowRefundU64At: fn('fg_keyed_window_refund_u64_at', S, [H, U64, U64, U64, H]),
  keyedWindowRefundBytes: fn('fg_keyed_window_refund_bytes', S, [H, H, 'size_t', U64, H]),
  keyedWindowRefundBytesAt: fn('fg_keyed_window_refund_bytes_at', S, [H, H, 'size_t', U64, U64, H]),
  keyedWindowPeekU64: fn('fg_keyed_window_peek_u64', S, [H, U64, H]),
  keyedWindowPeekU64At: fn('fg_keyed_window_peek_u64_at', S, [H, U64, U64, H]),
  keyedWindowPeekBytes: fn('fg_keyed_window_peek_bytes', S, [H, H, 'size_t', H]),
  keyedWindowPeekBytesAt: fn('fg_keyed_window_peek_bytes_at', S, [H, H, 'size_t', U64, H]),
  keyedWindowSetLimitU64: fn('fg_keyed_window_set_limit_u64', S, [H, U64, U64]),
  keyedWindowSetLimitBytes: fn('fg_keyed_window_set_limit_bytes', S, [H, H, 'size_t', U64]),
  keyedWindowResetU64: fn('fg_keyed_window_reset_u64', S, [H, U64]),
  keyedWindowResetBytes: fn('fg_keyed_window_reset_bytes', S, [H, H, 'size_t']),
  keyedWindowLen: fn('fg_keyed_window_len', S, [H, H]),
  keyedWindowCapacity: fn('fg_keyed_window_capacity', S, [H, H]),
  keyedWindowFullTableEvents: fn('fg_keyed_window_full_table_events', S, [H, H]),

  suspensionsNew: fn('fg_suspensions_new', S, ['uint32_t', U64, koffi.out(koffi.pointer(H))]),
  suspensionsNewShared: fn('fg_suspensions_new_shared', S, ['uint32_t', U64, koffi.pointer(SharedMemoryStruct), koffi.out(koffi.pointer(H))]), // ABI 1.7
  suspensionsIsShared: fn('fg_suspensions_is_shared', S, [H, H]),
  suspensionsFree: fn('fg_suspensions_free', 'void', [H]),
  suspensionsSuspendUntilU64: fn('fg_suspensions_suspend_until_u64', S, [H, U64, U64, 'uint32_t']),
  suspensionsSuspendUntilBytes: fn('fg_suspensions_suspend_until_bytes', S, [H, H, 'size_t', U64, 'uint32_t']),
  suspensionsSuspendForU64: fn('fg_suspensions_suspend_for_u64', S, [H, U64, U64]),
  suspensionsSuspendForBytes: fn('fg_suspensions_suspend_for_bytes', S, [H, H, 'size_t', U64]),
  suspensionsLiftU64: fn('fg_suspensions_lift_u64', S, [H, U64]),
  suspensionsLiftBytes: fn('fg_suspensions_lift_bytes', S, [H, H, 'size_t']),
  suspensionsCheckU64: fn('fg_suspensions_check_u64', S, [H, U64, H, H]),
  suspensionsCheckU64At: fn('fg_suspensions_check_u64_at', S, [H, U64, U64, H, H]),
  suspensionsCheckBytes: fn('fg_suspensions_check_bytes', S, [H, H, 'size_t', H, H]),
  suspensionsCheckBytesAt: fn('fg_suspensions_check_bytes_at', S, [H, H, 'size_t', U64, H, H]),

  keyedInflightNew: fn('fg_keyed_inflight_new', S, ['uint32_t', U64, U64, koffi.out(koffi.pointer(H))]),
  keyedInflightNewShared: fn('fg_keyed_inflight_new_shared', S, ['uint32_t', U64, U64, koffi.pointer(SharedMemoryStruct), koffi.out(koffi.pointer(H))]), // ABI 1.7
  keyedInflightIsShared: fn('fg_keyed_inflight_is_shared', S, [H, H]),
  keyedInflightFree: fn('fg_keyed_inflight_free', 'void', [H]),
  keyedInflightAcquireU64: fn('fg_keyed_inflight_acquire_u64', S, [H, U64, H]),
  keyedInflightAcquireBytes: fn('fg_keyed_inflight_acquire_bytes', S, [H, H, 'size_t', H]),
  keyedInflightReleaseU64: fn('fg_keyed_inflight_release_u64', S, [H, U64, PermitStruct, H]),
  keyedInflightReleaseBytes: fn('fg_keyed_inflight_release_bytes', S, [H, H, 'size_t', PermitStruct, H]),
  keyedInflightInFlightU64: fn('fg_keyed_inflight_in_flight_u64', S, [H, U64, H, H]),
  keyedInflightInFlightBytes: fn('fg_keyed_inflight_in_flight_bytes', S, [H, H, 'size_t', H, H]),

  plansNew: fn('fg_plans_new', S, [koffi.pointer(TierStruct), 'size_t', koffi.pointer(PlansConfigStruct), koffi.out(koffi.pointer(H))]),
  plansNewGenieos: fn('fg_plans_new_genieos', S, [koffi.pointer(PlansConfigStruct), koffi.out(koffi.pointer(H))]),
  machineNowNs: fn('fg_machine_now_ns', U64, []), // ABI 1.8
  plansNewShared: fn('fg_plans_new_shared', S, [koffi.pointer(TierStruct), 'size_t', koffi.pointer(PlansConfigStruct), koffi.pointer(SharedMemoryStruct), koffi.out(koffi.pointer(H))]), // ABI 1.7
  plansNewGenieosShared: fn('fg_plans_new_genieos_shared', S, [koffi.pointer(PlansConfigStruct), koffi.pointer(SharedMemoryStruct), koffi.out(koffi.pointer(H))]),
  plansIsShared: fn('fg_plans_is_shared', S, [H, H]),
  plansFree: fn('fg_plans_free', 'void', [H]),
  plansTier: fn('fg_plans_tier', S, [H, H, 'size_t', H]),
  plansCheck: fn('fg_plans_check', S, [H, 'uint32_t', H, 'size_t', H, 'size_t', U64, H]),
  plansCheckAt: fn('fg_plans_check_at', S, [H, 'uint32_t', H, 'size_t', H, 'size_t', U64, U64, H]),
  plansReconfigureTier: fn('fg_plans_reconfigure_tier', S, [H, 'uint32_t', koffi.pointer(TierStruct)]),
  plansCounters: fn('fg_plans_counters', S, [H, 'uint32_t', H]),

  policyNew: fn('fg_policy_new', S, [koffi.pointer(LayerStruct), 'size_t', koffi.out(koffi.pointer(H))]),
  policyFree: fn('fg_policy_free', 'void', [H]),
  policyCheck: fn('fg_policy_check', S, [H, H, 'size_t', U64, H]),
  policyCheckAt: fn('fg_policy_check_at', S, [H, H, 'size_t', U64, U64, H]),
  policyCounters: fn('fg_policy_counters', S, [H, H]),
  policyLayerCounters: fn('fg_policy_layer_counters', S, [H, 'size_t', H]),
  policyLayerScope: fn('fg_policy_layer_scope', S, [H, 'size_t', koffi.out(koffi.pointer('const char *'))]),

  headersNew: fn('fg_headers_new', S, [koffi.pointer(HeadersConfigStruct), koffi.out(koffi.pointer(H))]),
  headersFree: fn('fg_headers_free', 'void', [H]),
  headersRender: fn('fg_headers_render', S, [H, H, H, 'size_t', U64, H, 'size_t', H]),
  bodyNew: fn('fg_error_body_new', S, [koffi.pointer(BodyConfigStruct), koffi.out(koffi.pointer(H))]),
  bodyFree: fn('fg_error_body_free', 'void', [H]),
  bodyRender: fn('fg_error_body_render', S, [H, H, H, 'size_t', H, 'size_t', H, 'size_t', H]),

  // ABI 1.9. RedisLimiter's checks are the `_queued` calls below, which return at
  // once and answer into the thread's answer queue (lib/redis.js).
  redisStoreOpen: fn('fg_redis_store_open', S, ['const char *', 'size_t', koffi.out(koffi.pointer(H))]),
  redisStoreOpenCluster: fn('fg_redis_store_open_cluster', S, [koffi.pointer('const char *'), 'size_t', koffi.out(koffi.pointer(H))]), // ABI 1.10
  redisStoreFree: fn('fg_redis_store_free', 'void', [H]),
  redisLimiterNew: fn('fg_redis_limiter_new', S, [H, H, koffi.pointer(RedisConfigStruct), koffi.out(koffi.pointer(H))]),
  redisLimiterFree: fn('fg_redis_limiter_free', 'void', [H]),
  redisLimiterCounters: fn('fg_redis_limiter_counters', S, [H, koffi.inout(koffi.pointer(StoreCountersStruct))]),
  // ABI 1.10: sliding windows kept in Redis.
  redisWindowNew: fn('fg_redis_window_new', S, [H, U64, U64, koffi.pointer(RedisConfigStruct), koffi.out(koffi.pointer(H))]),
  redisWindowFree: fn('fg_redis_window_free', 'void', [H]),
  redisWindowCheck: fn('fg_redis_window_check', S, [H, H, 'size_t', U64, H]),
  redisWindowPeek: fn('fg_redis_window_peek', S, [H, H, 'size_t', H]),
  redisWindowRefund: fn('fg_redis_window_refund', S, [H, H, 'size_t', U64, H]),
  redisWindowCounters: fn('fg_redis_window_counters', S, [H, koffi.inout(koffi.pointer(StoreCountersStruct))]),
  // ABI 1.10: in-flight caps kept in Redis; a permit is a handle.
  redisInflightNew: fn('fg_redis_inflight_new', S, [H, U64, U64, koffi.pointer(RedisConfigStruct), koffi.out(koffi.pointer(H))]),
  redisInflightFree: fn('fg_redis_inflight_free', 'void', [H]),
  redisInflightAcquire: fn('fg_redis_inflight_acquire', S, [H, H, 'size_t', H, koffi.out(koffi.pointer(H))]),
  redisInflightCounters: fn('fg_redis_inflight_counters', S, [H, koffi.inout(koffi.pointer(StoreCountersStruct))]),
  redisPermitRenew: fn('fg_redis_permit_renew', S, [H, koffi.out(koffi.pointer('bool'))]),
  redisPermitRelease: fn('fg_redis_permit_release', S, [H, koffi.out(koffi.pointer(U64))]),
  redisPermitFree: fn('fg_redis_permit_free', 'void', [H]),

  // ABI 1.10. A check is local (it blocks, up to the deadline, only for a
  // key's first lease or a lease spent before its refill landed): called
  // synchronously by lib/leased.js.
  leasedLimiterNew: fn('fg_leased_limiter_new', S, [H, H, koffi.pointer(LeaseConfigStruct), koffi.out(koffi.pointer(H))]),
  leasedLimiterFree: fn('fg_leased_limiter_free', 'void', [H]),
  leasedLimiterCheck: fn('fg_leased_limiter_check', S, [H, H, 'size_t', U64, H]),
  leasedLimiterCounters: fn('fg_leased_limiter_counters', S, [
    H,
    koffi.inout(koffi.pointer(StoreCountersStruct)),
    koffi.inout(koffi.pointer(LeaseCountersStruct)),
  ]),
  // ABI 1.11: a Redis check answered into an answer queue whose socket the
  // event loop watches (lib/redis.js): no thread is held, and none calls back.
  redisAnswersNew: fn('fg_redis_answers_new', S, [koffi.out(koffi.pointer('int')), koffi.out(koffi.pointer(H))]),
  redisAnswersTake: fn('fg_redis_answers_take', S, [H, H, 'size_t', koffi.out(koffi.pointer('size_t'))]),
  redisAnswersFree: fn('fg_redis_answers_free', 'void', [H]),
  redisLimiterCheckQueued: fn('fg_redis_limiter_check_queued', S, [H, H, 'size_t', U64, U64, H]),
  redisLimiterPeekQueued: fn('fg_redis_limiter_peek_queued', S, [H, H, 'size_t', U64, H]),
  redisLimiterRefundQueued: fn('fg_redis_limiter_refund_queued', S, [H, H, 'size_t', U64, U64, H]),
  // ABI 1.12: a connection to the store's server whose socket the event loop
  // owns (lib/wire.js); the calls on a wire are in `hot`.
  redisWireNew: fn('fg_redis_wire_new', S, [H, koffi.out(koffi.pointer(H))]),
  redisWireFree: fn('fg_redis_wire_free', 'void', [H]),
  redisWireEndpoint: fn('fg_redis_wire_endpoint', S, [H, H, 'size_t', H, H]),

  retryConfigPreset: fn('fg_retry_config_preset', S, ['uint32_t', H]),
  retryDelay: fn('fg_retry_delay', S, [H, 'uint32_t', U64, H, H]),
  parseRetryAfter: fn('fg_parse_retry_after', S, [H, 'size_t', U64, H]),
};

// The calls made once per request, declared a second time with addresses as
// `uintptr_t` numbers (see addressArg): koffi converts a number argument in
// one N-API call, where a `void *` tries BigInt and then buffer first, and a
// typed array costs about three number arguments. String keys go in as `str`,
// which koffi encodes as UTF-8 itself for less than TextEncoder#encodeInto
// costs (BENCHMARKS.md, "Node").
const A = 'uintptr_t';
const hot = {
  limiterCheck: fn('fg_limiter_check', S, [A, U64, A]),
  keyedCheckU64: fn('fg_keyed_limiter_check_u64', S, [A, U64, U64, A]),
  keyedCheckCstr: fn('fg_keyed_limiter_check_cstr', S, [A, 'str', U64, A]), // ABI 1.5
  // ABI 1.12 (lib/wire.js): every buffer is native memory passed by address,
  // so koffi neither converts nor copies it; the calls made only on a
  // connect, a close or a deadline take the same outs as the others.
  redisWireOpen: fn('fg_redis_wire_open', S, [A, A]),
  redisWireClose: fn('fg_redis_wire_close', S, [A, A]),
  redisWireExpire: fn('fg_redis_wire_expire', S, [A, A, A]),
  redisWireWrite: fn('fg_redis_wire_write', S, [A, A, 'size_t', A]),
  redisWireRead: fn('fg_redis_wire_read', S, [A, A, 'size_t', A]),
  redisWireTake: fn('fg_redis_wire_take', S, [A, A, 'size_t', A]),
  redisLimiterCheckWire: fn('fg_redis_limiter_check_wire', S, [A, A, A, 'size_t', U64, U64, A]),
  redisLimiterPeekWire: fn('fg_redis_limiter_peek_wire', S, [A, A, A, 'size_t', U64, A]),
  redisLimiterRefundWire: fn('fg_redis_limiter_refund_wire', S, [A, A, A, 'size_t', U64, U64, A]),
};

/**
 * A pointer (a koffi BigInt) as a `uintptr_t` argument of the `hot` calls: a
 * number when exact (user-space addresses fit in 53 bits on every platform
 * this package ships for), else the BigInt itself, which koffi also takes.
 */
function addressArg(pointer) {
  const number = Number(pointer);
  return Number.isSafeInteger(number) ? number : pointer;
}

/** Writes the struct_size (a size_t) that starts a versioned struct of layout `at` into `view`. */
function setStructSize(view, at) {
  if (at.structSizeBytes === 8) view.setBigUint64(at.structSize, BigInt(at.size), layout.littleEndian);
  else view.setUint32(at.structSize, at.size, layout.littleEndian);
}

/**
 * Native scratch memory that lives as long as the process: koffi's view of it
 * is a Buffer the JS side writes keys into, and its address goes into the
 * structs (fg_layer_key.bytes) the library reads.
 */
function nativeScratch(bytes) {
  // uint64_t elements: the library checks the alignment of the structs it writes here.
  const pointer = koffi.alloc('uint64_t', Math.ceil(bytes / 8));
  return { address: koffi.address(pointer), buffer: Buffer.from(koffi.view(pointer, bytes)) };
}

/** ffi[name] for a name built at load (keyed operations are found by prefix), failing loudly on a typo. */
function nativeFunction(name) {
  const found = ffi[name];
  if (typeof found !== 'function') throw new Error(`floodgate: no native function ${name}`);
  return found;
}

module.exports = { addressArg, ffi, hot, jitters, layout, limits, nativeFunction, nativeScratch, retryConstants, setStructSize, sizes: layout.sizes, version };
