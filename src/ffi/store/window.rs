//! `fg_redis_window`: a sliding window per key kept in Redis.

use super::*;

/// Creates sliding windows of `limit` units per `window_ns` per key on
/// `store` and stores the handle in `*out` (NULL on failure). Every process
/// using the same server, prefix (`config->prefix`, NULL for
/// `"floodgate:window:"`), limit and window counts each key in one window.
///
/// ```c
/// fg_redis_window *per_workspace;
/// fg_redis_config config = { .struct_size = sizeof(fg_redis_config),
///                            .prefix = "ws:", .prefix_len = 3,
///                            .on_failure = FG_ON_FAILURE_LOCAL };
/// if (fg_redis_window_new(store, 600, 60000000000, &config, &per_workspace) != FG_STATUS_OK) abort();
/// ```
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_LENGTH`, the window errors
/// (`FG_STATUS_ZERO_LIMIT`, `FG_STATUS_LIMIT_TOO_LARGE`,
/// `FG_STATUS_ZERO_WINDOW` (also a window under a microsecond, the
/// server's tick), `FG_STATUS_WINDOW_TOO_LONG`), `FG_STATUS_INVALID_ARGUMENT`
/// (an unknown `on_failure`, one breaker field alone),
/// `FG_STATUS_ALLOCATION_FAILED` (`FG_ON_FAILURE_LOCAL`'s table),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `store` must be NULL or a live handle; `config` NULL or readable for its
/// `struct_size`, `config->prefix` readable for its length; `out` NULL or
/// writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_window_new(
    store: *const FgRedisStore,
    limit: u64,
    window_ns: u64,
    config: *const FgRedisConfig,
    out: *mut *mut FgRedisWindow,
) -> FgStatus {
    let make = |store: &RedisStore, config: &FgRedisConfig| {
        let settings = Settings::read(config)?;
        let window = Duration::from_nanos(window_ns);
        let mut builder = settings.apply(RedisWindow::builder(store, limit, window));
        // SAFETY: `config->prefix` readable for its length, by the contract.
        if let Some(prefix) = unsafe { prefix(config) }? {
            builder = builder.prefix(prefix);
        }
        Ok(builder.build()?)
    };
    // SAFETY: this function's contract is `build_on_store`'s.
    unsafe { build_on_store("fg_redis_window_new", store, config, out, make) }
}

/// Releases windows. NULL is a no-op.
///
/// # Safety
/// `windows` must be NULL or a handle from `fg_redis_window_new` not yet
/// freed, with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_window_free(windows: *mut FgRedisWindow) {
    // SAFETY: a live handle is a boxed RedisWindow (fg_redis_window_new);
    // the rest is this function's contract.
    unsafe {
        handle::free(
            "fg_redis_window_free",
            windows.cast::<RedisWindow>(),
            handle::unbox,
        )
    }
}

/// Decides a request of `cost` units for `key` (1 to `FG_MAX_KEY_LEN`
/// bytes) in its window in Redis and fills `*out`, as
/// `fg_keyed_window_check_bytes` would. Blocks the calling thread until
/// Redis answers or the deadline passes, then `on_failure` answers.
///
/// Errors: as `fg_redis_limiter_check`.
///
/// # Safety
/// `windows` must be NULL or a live handle; `key` NULL or readable for
/// `key_len` bytes; `out` NULL or writable for an `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_window_check(
    windows: *const FgRedisWindow,
    key: *const u8,
    key_len: usize,
    cost: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide(
            "fg_redis_window_check",
            windows,
            "windows",
            key,
            key_len,
            out,
            |windows: &RedisWindow, key| windows.check(key, cost),
        )
    }
}

/// Fills `*out` with `key`'s window in Redis, charging nothing.
///
/// Errors: as `fg_redis_limiter_check`.
///
/// # Safety
/// As `fg_redis_window_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_window_peek(
    windows: *const FgRedisWindow,
    key: *const u8,
    key_len: usize,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide(
            "fg_redis_window_peek",
            windows,
            "windows",
            key,
            key_len,
            out,
            |windows: &RedisWindow, key| windows.peek(key),
        )
    }
}

/// Gives `amount` units back to `key`'s current window in Redis (never
/// below empty) and fills `*out` with the window afterwards.
///
/// Errors: as `fg_redis_limiter_check`.
///
/// # Safety
/// As `fg_redis_window_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_window_refund(
    windows: *const FgRedisWindow,
    key: *const u8,
    key_len: usize,
    amount: u64,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: this function's contract is `decide`'s.
    unsafe {
        decide(
            "fg_redis_window_refund",
            windows,
            "windows",
            key,
            key_len,
            out,
            |windows: &RedisWindow, key| windows.refund(key, amount),
        )
    }
}

/// Fills `*out` with the windows' counts so far (as `fg_redis_limiter_counters`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `windows` must be NULL or a live handle; `out` NULL or writable for its
/// `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_window_counters(
    windows: *const FgRedisWindow,
    out: *mut FgStoreCounters,
) -> FgStatus {
    guard("fg_redis_window_counters", || {
        // SAFETY: a live handle is a boxed RedisWindow (fg_redis_window_new).
        let windows = unsafe { args::handle(windows.cast::<RedisWindow>(), "windows") }?;
        // SAFETY: NULL or readable for its struct_size, by the contract.
        let out = unsafe { VersionedOut::new(out, "out") }?;
        let counters = window_counters_of(windows);
        // SAFETY: writable for its struct_size, by the contract.
        unsafe { out.write(counters) };
        Ok(())
    })
}
