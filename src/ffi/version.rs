//! The ABI version, so a program can refuse a library it was not built for.

/// The ABI version this header describes: major in the high 16 bits, minor in
/// the low 16. A library is compatible with a program built against this
/// header when the majors are equal and the library's minor is at least the
/// header's (minors only add functions, and fields at the end of structs
/// that carry a `struct_size`). 1.1 added keyed limiters, sliding windows,
/// in-flight caps, layered policies, response headers and bodies,
/// suspension, reservations and quota lockouts; 1.2 added suspended-key
/// sets (`fg_suspensions`, also a policy layer through `fg_layer.suspensions`)
/// per-key in-flight caps (`fg_keyed_inflight`), per-key sliding windows
/// (`fg_keyed_window`, also `fg_layer.keyed_window`) and plan tables (`fg_plans`);
/// 1.3 added the client retry helper (`fg_retry_delay`, `fg_parse_retry_after`);
/// 1.4 added resetting a key (`fg_keyed_limiter_reset_*`,
/// `fg_keyed_window_reset_*`), `fg_plans_reconfigure_tier_at`,
/// `fg_error_body_render_rate`, and the statuses `FG_STATUS_ALLOCATION_FAILED`
/// and `FG_STATUS_INEXACT_RATE`; 1.5 added `fg_keyed_limiter_check_cstr`; 1.6
/// added shared mode (`fg_shared_memory`, `fg_limiter_new_shared`,
/// `fg_keyed_limiter_new_shared`, `fg_limiter_is_shared`,
/// `fg_keyed_limiter_is_shared`, `fg_shared_memory_remove`) and the statuses
/// `FG_STATUS_SEGMENT_IO` ... `FG_STATUS_INVALID_SEGMENT_NAME`; 1.7 added
/// shared mode for the other kinds (`fg_window_new_shared`,
/// `fg_keyed_window_new_shared`, `fg_suspensions_new_shared`,
/// `fg_plans_new_shared`, `fg_plans_new_genieos_shared`,
/// `fg_inflight_new_shared`, `fg_keyed_inflight_new_shared` and their
/// `_is_shared` queries); 1.8 added `fg_machine_now_ns`; 1.9 added limits
/// kept in Redis (`fg_redis_store`, `fg_redis_limiter`, `fg_redis_layers`,
/// `fg_redis_layer`, `fg_redis_config`, `fg_store_counters`) and the statuses `FG_STATUS_INVALID_STORE_URL`,
/// `FG_STATUS_STORE_THREAD` and `FG_STATUS_STORE_UNAVAILABLE`; 1.10 added
/// failing local (`FG_ON_FAILURE_LOCAL`, `fg_store_counters.local_admitted`
/// and `local_denied`), Redis Cluster (`fg_redis_store_open_cluster`,
/// `FG_MAX_CLUSTER_URLS`), sliding windows kept in Redis
/// (`fg_redis_window`) and in-flight caps kept in Redis
/// (`fg_redis_inflight`, `fg_redis_permit`, `fg_redis_acquisition`),
/// asynchronous Redis checks (`fg_redis_limiter_check_async`, `fg_redis_done`),
/// and
/// leased limits checked locally (`fg_leased_limiter`, `fg_leased_layers`,
/// `fg_lease_config`, `fg_lease_counters`); 1.11 added answer queues for
/// asynchronous Redis checks, watched by an event loop on a socket
/// (`fg_redis_answers`, `fg_redis_limiter_check_queued` and its peek and
/// refund); 1.12 added connections to a store's server whose socket the
/// caller drives (`fg_redis_wire`, `FG_WIRE_*`,
/// `fg_redis_limiter_check_wire` and its peek and refund).
pub const FG_ABI_VERSION: u32 = 0x0001_000C;

/// The ABI version of the loaded library, encoded as `FG_ABI_VERSION` is.
///
/// ```c
/// uint32_t v = fg_abi_version();
/// if ((v >> 16) != (FG_ABI_VERSION >> 16) || (v & 0xffff) < (FG_ABI_VERSION & 0xffff)) abort();
/// ```
#[no_mangle]
pub extern "C" fn fg_abi_version() -> u32 {
    FG_ABI_VERSION
}
