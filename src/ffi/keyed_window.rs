//! `fg_keyed_window`: one sliding window per key (`u64`, bytes or IP
//! address) in a fixed-capacity lock-free table; also a policy layer.

use super::args::{self, Out, Versioned};
use super::decision::{answer, FgDecision};
use super::handle;
use super::key_kind::RawKey::{self, Bytes, Id};
use super::key_kind::{
    each_kind, full_table, ip_from_bytes, kind_mismatch, new_by_key_kind, with_key, Answered,
    ByKeyKind, CKey,
};
use super::shared::{self, SharedHandle};
use super::shared_memory::{self, FgSharedMemory};
use super::status::{guard, FgStatus};
use crate::policy::Layer;
use crate::window::keyed::KeyedWindows;
use std::net::IpAddr;
use std::time::Duration;
use Operation::{Check, Peek, Refund};

/// How a keyed window table is built.
///
/// ```c
/// fg_keyed_window_config config = { .struct_size = sizeof(fg_keyed_window_config),
///     .key_kind = FG_KEY_U64, .limit = 600, .window_ns = 60000000000, .capacity = 10000 };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgKeyedWindowConfig {
    /// `sizeof(fg_keyed_window_config)` as the caller compiled it.
    pub struct_size: usize,
    /// `FG_KEY_U64`, `FG_KEY_BYTES` or `FG_KEY_IP`.
    pub key_kind: u32,
    /// `FG_FULL_TABLE_DENY` (0), `FG_FULL_TABLE_ADMIT` or `FG_FULL_TABLE_OVERFLOW`.
    pub on_full: u32,
    /// Requests each key may make per window.
    pub limit: u64,
    /// The window in nanoseconds.
    pub window_ns: u64,
    /// How many keys the table holds (windows are kept until it is freed).
    pub capacity: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, plain integers only.
unsafe impl Versioned for FgKeyedWindowConfig {
    const MIN_SIZE: usize = std::mem::size_of::<FgKeyedWindowConfig>();
}

/// An opaque handle to per-key sliding windows. Create with
/// `fg_keyed_window_new`, release with `fg_keyed_window_free`; a policy built
/// from it (`fg_layer.keyed_window`) keeps it alive after that.
pub struct FgKeyedWindow {
    _opaque: [u8; 0],
}

impl SharedHandle for FgKeyedWindow {
    type Inner = Windows;
}

/// The windows behind a handle, by key kind.
pub(crate) type Windows = ByKeyKind<KeyedWindows<u64>, KeyedWindows<[u8]>, KeyedWindows<IpAddr>>;

/// Creates a table of sliding windows, one per key, and stores its handle in
/// `*out` (NULL on failure).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_ARGUMENT` (unknown `key_kind`
/// or `on_full`), the window errors, `FG_STATUS_ZERO_CAPACITY`,
/// `FG_STATUS_CAPACITY_TOO_LARGE`,
/// `FG_STATUS_ALLOCATION_FAILED`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `config` NULL or readable for its `struct_size`; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_new(
    config: *const FgKeyedWindowConfig,
    out: *mut *mut FgKeyedWindow,
) -> FgStatus {
    // SAFETY: this function's contract is `new_windows`'.
    unsafe { new_windows("fg_keyed_window_new", config, None, out) }
}

/// `fg_keyed_window_new` in shared mode: the table lives in the segment
/// `shared` names, so every process that creates it with the same segment
/// and config counts each key in one window and sees every
/// `fg_keyed_window_set_limit_*` and reset (see `fg_shared_memory`). The
/// handle's clock is `CLOCK_MONOTONIC`.
///
/// Errors: those of `fg_keyed_window_new`; for `shared`, those of
/// `fg_shared_memory_remove`; `FG_STATUS_SEGMENT_MISMATCH` (the segment
/// holds another kind or key kind (`FG_KEY_U64`,
/// `FG_KEY_BYTES` and `FG_KEY_IP` tables are each their own), limit, window, capacity or `on_full`: the message
/// names the field), `FG_STATUS_SEGMENT_NOT_READY`,
/// `FG_STATUS_SHARED_UNSUPPORTED`.
///
/// # Safety
/// As `fg_keyed_window_new`; `shared` NULL or readable for its
/// `struct_size`, its `name` or `path` readable for its length.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_new_shared(
    config: *const FgKeyedWindowConfig,
    shared: *const FgSharedMemory,
    out: *mut *mut FgKeyedWindow,
) -> FgStatus {
    // SAFETY: this function's contract is `new_windows`'.
    unsafe { new_windows("fg_keyed_window_new_shared", config, Some(shared), out) }
}

/// The body of both constructors: `shared` is `None` for the heap.
///
/// # Safety
/// `config` and a `Some(shared)` NULL or readable for their `struct_size`
/// (the segment's name or path for its length); `out` NULL or writable for
/// a pointer.
unsafe fn new_windows(
    function: &'static str,
    config: *const FgKeyedWindowConfig,
    shared: Option<*const FgSharedMemory>,
    out: *mut *mut FgKeyedWindow,
) -> FgStatus {
    let make = || {
        // SAFETY: readable for its struct_size by the contract.
        let config = unsafe { args::read_config(config, "config") }?;
        // SAFETY: as above, for `shared`.
        let shared = unsafe { shared_memory::read_if(shared) }?;
        let on_full = full_table(config.on_full)?;
        let capacity = args::saturating_usize(config.capacity);
        let window = Duration::from_nanos(config.window_ns);
        let windows: Windows = new_by_key_kind!(config.key_kind, "config->key_kind", |K| {
            let builder = KeyedWindows::<K>::builder(config.limit, window)
                .capacity(capacity)
                .on_full(on_full);
            match shared.clone() {
                Some(shared) => builder.shared(shared).build()?,
                None => builder.build()?,
            }
        });
        Ok(shared::into_handle(windows))
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create(function, out, make) }
}

/// Stores in `*out_shared` whether the table lives in a shared segment
/// (made by `fg_keyed_window_new_shared`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `windows` must be NULL or a live handle; `out_shared` NULL or writable
/// for a `bool`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_is_shared(
    windows: *const FgKeyedWindow,
    out_shared: *mut bool,
) -> FgStatus {
    let windows = windows.cast::<Windows>();
    // SAFETY: a live handle points to Windows (shared::into_handle); the
    // rest is this function's contract.
    unsafe {
        shared_memory::answer_is_shared(
            "fg_keyed_window_is_shared",
            windows,
            "windows",
            out_shared,
            Layer::is_shared,
        )
    }
}

/// Releases a handle. NULL is a no-op. The handle must not be in use by any
/// other thread, and must not be used again; policies keep their reference.
///
/// # Safety
/// `windows` must be NULL or a live handle from `fg_keyed_window_new`, with
/// no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_free(windows: *mut FgKeyedWindow) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_keyed_window_free", windows, shared::release) }
}

/// The decision-answering operations, with the key as the export got it and
/// the time (`None`: the library's clock).
#[derive(Clone, Copy)]
enum Operation {
    /// Key, cost, time.
    Check(RawKey, u64, Option<u64>),
    /// Key, time.
    Peek(RawKey, Option<u64>),
    /// Key, amount, time.
    Refund(RawKey, u64, Option<u64>),
}

/// `operation` is a closure for speed, as in `keyed_decide` (src/ffi/keyed.rs):
/// each export then gets its own inlined copy, specialized to its operation.
///
/// # Safety
/// `windows` NULL or live; `out` NULL or writable for an `fg_decision`;
/// the byte key NULL or readable for its length.
#[inline(always)]
unsafe fn decide(
    function: &'static str,
    windows: *const FgKeyedWindow,
    operation: impl FnOnce() -> Operation,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = operation();
    let run = |windows: &Windows| {
        let (Check(key, ..) | Peek(key, ..) | Refund(key, ..)) = operation;
        // SAFETY: by the contract.
        let key = unsafe { key.read() }?;
        match operation {
            Check(_, cost, None) => with_key!(windows, key, |w, k| w.check(k, cost)),
            Check(_, cost, Some(now)) => with_key!(windows, key, |w, k| w.check_at(k, cost, now)),
            Peek(_, None) => with_key!(windows, key, |w, k| w.peek(k)),
            Peek(_, Some(now)) => with_key!(windows, key, |w, k| w.peek_at(k, now)),
            Refund(_, amount, None) => with_key!(windows, key, |w, k| w.refund(k, amount)),
            Refund(_, amount, Some(now)) => {
                with_key!(windows, key, |w, k| w.refund_at(k, amount, now))
            }
        }
    };
    // SAFETY: this function's contract is `answer`'s.
    unsafe { answer(function, windows.cast::<Windows>(), "windows", out, run) }
}

/// Decides `cost` requests for `key` in its window now and fills `*out`; a
/// denied request is not an error. A new key that finds the table full gets
/// its `on_full` behaviour.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_KEY_KIND_MISMATCH`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `windows` must be NULL or a live handle; `out` NULL or writable for an
/// `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_check_u64(
    windows: *const FgKeyedWindow,
    key: u64,
    cost: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Check(Id(key), cost, None);
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_check_u64", windows, operation, out) }
}

/// `fg_keyed_window_check_u64` at a caller-supplied time.
///
/// # Safety
/// As `fg_keyed_window_check_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_check_u64_at(
    windows: *const FgKeyedWindow,
    key: u64,
    cost: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Check(Id(key), cost, Some(now_ns));
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_check_u64_at", windows, operation, out) }
}

/// `fg_keyed_window_check_u64` for a byte or IP key (`key`, `len`); also `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_INVALID_LENGTH` (an IP key not 4 or
/// 16 bytes).
///
/// # Safety
/// As `fg_keyed_window_check_u64`; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_check_bytes(
    windows: *const FgKeyedWindow,
    key: *const u8,
    len: usize,
    cost: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Check(Bytes(key, len), cost, None);
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_check_bytes", windows, operation, out) }
}

/// `fg_keyed_window_check_bytes` at a caller-supplied time.
///
/// # Safety
/// As `fg_keyed_window_check_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_check_bytes_at(
    windows: *const FgKeyedWindow,
    key: *const u8,
    len: usize,
    cost: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Check(Bytes(key, len), cost, Some(now_ns));
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_check_bytes_at", windows, operation, out) }
}

/// Gives back `amount` requests counted for `key` in its current window and
/// fills `*out` with the key's state after.
///
/// Errors: as `fg_keyed_window_check_u64`.
///
/// # Safety
/// `windows` must be NULL or a live handle; `out` NULL or writable for an
/// `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_refund_u64(
    windows: *const FgKeyedWindow,
    key: u64,
    amount: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Refund(Id(key), amount, None);
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_refund_u64", windows, operation, out) }
}

/// `fg_keyed_window_refund_u64` at a caller-supplied time.
///
/// # Safety
/// As `fg_keyed_window_refund_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_refund_u64_at(
    windows: *const FgKeyedWindow,
    key: u64,
    amount: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Refund(Id(key), amount, Some(now_ns));
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_refund_u64_at", windows, operation, out) }
}

/// `fg_keyed_window_refund_u64` for a byte or IP key (`key`, `len`); also `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_INVALID_LENGTH` (an IP key not 4 or
/// 16 bytes).
///
/// # Safety
/// As `fg_keyed_window_refund_u64`; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_refund_bytes(
    windows: *const FgKeyedWindow,
    key: *const u8,
    len: usize,
    amount: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Refund(Bytes(key, len), amount, None);
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_refund_bytes", windows, operation, out) }
}

/// `fg_keyed_window_refund_bytes` at a caller-supplied time.
///
/// # Safety
/// As `fg_keyed_window_refund_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_refund_bytes_at(
    windows: *const FgKeyedWindow,
    key: *const u8,
    len: usize,
    amount: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Refund(Bytes(key, len), amount, Some(now_ns));
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_refund_bytes_at", windows, operation, out) }
}

/// Fills `*out` with what a 0-cost check of the `u64` key would answer now,
/// counting nothing and adding no key.
///
/// Errors: as `fg_keyed_window_check_u64`.
///
/// # Safety
/// `windows` NULL or live; `out` NULL or writable for an `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_peek_u64(
    windows: *const FgKeyedWindow,
    key: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Peek(Id(key), None);
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_peek_u64", windows, operation, out) }
}

/// `fg_keyed_window_peek_u64` at a caller-supplied time.
///
/// # Safety
/// As `fg_keyed_window_peek_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_peek_u64_at(
    windows: *const FgKeyedWindow,
    key: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Peek(Id(key), Some(now_ns));
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_peek_u64_at", windows, operation, out) }
}

/// `fg_keyed_window_peek_u64` for a byte or IP key.
///
/// # Safety
/// As `fg_keyed_window_peek_u64`; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_peek_bytes(
    windows: *const FgKeyedWindow,
    key: *const u8,
    len: usize,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Peek(Bytes(key, len), None);
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_peek_bytes", windows, operation, out) }
}

/// `fg_keyed_window_peek_bytes` at a caller-supplied time.
///
/// # Safety
/// As `fg_keyed_window_peek_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_peek_bytes_at(
    windows: *const FgKeyedWindow,
    key: *const u8,
    len: usize,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Peek(Bytes(key, len), Some(now_ns));
    // SAFETY: the contract is `decide`'s.
    unsafe { decide("fg_keyed_window_peek_bytes_at", windows, operation, out) }
}

/// # Safety
/// `windows` NULL or live; the byte key NULL or readable for its length.
unsafe fn set_limit(
    function: &'static str,
    windows: *const FgKeyedWindow,
    key: RawKey,
    limit: u64,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let windows = unsafe { shared::borrow(windows, "windows") }?;
        // SAFETY: by the contract.
        let key = unsafe { key.read() }?;
        with_key!(windows, key, |w, k| w.set_limit(k, limit))
    })
}

/// Gives the `u64` key its own limit per window (its counts kept), adding
/// the key if new.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_KEY_KIND_MISMATCH`, `FG_STATUS_ZERO_LIMIT`,
/// `FG_STATUS_TABLE_FULL`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `windows` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_set_limit_u64(
    windows: *const FgKeyedWindow,
    key: u64,
    limit: u64,
) -> FgStatus {
    let key = Id(key);
    // SAFETY: the contract is `set_limit`'s.
    unsafe { set_limit("fg_keyed_window_set_limit_u64", windows, key, limit) }
}

/// `fg_keyed_window_set_limit_u64` for a byte or IP key.
///
/// # Safety
/// As `fg_keyed_window_set_limit_u64`; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_set_limit_bytes(
    windows: *const FgKeyedWindow,
    key: *const u8,
    len: usize,
    limit: u64,
) -> FgStatus {
    let key = Bytes(key, len);
    // SAFETY: the contract is `set_limit`'s.
    unsafe { set_limit("fg_keyed_window_set_limit_bytes", windows, key, limit) }
}

/// # Safety
/// `windows` NULL or live; the byte key NULL or readable for its length.
unsafe fn reset(function: &'static str, windows: *const FgKeyedWindow, key: RawKey) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let windows = unsafe { shared::borrow(windows, "windows") }?;
        // SAFETY: by the contract.
        let key = unsafe { key.read() }?;
        with_key!(windows, key, |w, k| w.reset(k))
    })
}

/// Sets the `u64` key's counts to zero (an operator lifts a block); the key
/// keeps its window and its own limit. A key with no window is left alone.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_KEY_KIND_MISMATCH`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `windows` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_reset_u64(
    windows: *const FgKeyedWindow,
    key: u64,
) -> FgStatus {
    // SAFETY: the contract is `reset`'s.
    unsafe { reset("fg_keyed_window_reset_u64", windows, Id(key)) }
}

/// `fg_keyed_window_reset_u64` for a byte or IP key.
///
/// Errors: as `fg_keyed_window_reset_u64`, and the byte-key errors of
/// `fg_keyed_window_check_bytes`.
///
/// # Safety
/// As `fg_keyed_window_reset_u64`; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_reset_bytes(
    windows: *const FgKeyedWindow,
    key: *const u8,
    len: usize,
) -> FgStatus {
    // SAFETY: the contract is `reset`'s.
    unsafe { reset("fg_keyed_window_reset_bytes", windows, Bytes(key, len)) }
}

/// # Safety
/// `windows` NULL or live; `out` NULL or writable for a `uint64_t`.
unsafe fn figure(
    function: &'static str,
    windows: *const FgKeyedWindow,
    out: *mut u64,
    read: fn(&Windows) -> u64,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let windows = unsafe { shared::borrow(windows, "windows") }?;
        let out = Out::new(out, "out")?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(read(windows)) };
        Ok(())
    })
}

/// Stores how many keys hold a window in `*out`.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `windows` NULL or live; `out` NULL or writable for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_len(
    windows: *const FgKeyedWindow,
    out: *mut u64,
) -> FgStatus {
    // SAFETY: the contract is `figure`'s.
    unsafe {
        figure("fg_keyed_window_len", windows, out, |w| {
            each_kind!(w, |i| i.len() as u64)
        })
    }
}

/// Stores how many keys the table holds at most in `*out`.
///
/// Errors: as `fg_keyed_window_len`.
///
/// # Safety
/// As `fg_keyed_window_len`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_capacity(
    windows: *const FgKeyedWindow,
    out: *mut u64,
) -> FgStatus {
    // SAFETY: the contract is `figure`'s.
    unsafe {
        figure("fg_keyed_window_capacity", windows, out, |w| {
            each_kind!(w, |i| i.capacity() as u64)
        })
    }
}

/// Stores how many checks found the table full (a new key, no room) in `*out`.
///
/// Errors: as `fg_keyed_window_len`.
///
/// # Safety
/// As `fg_keyed_window_len`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_window_full_table_events(
    windows: *const FgKeyedWindow,
    out: *mut u64,
) -> FgStatus {
    // SAFETY: the contract is `figure`'s.
    unsafe {
        figure("fg_keyed_window_full_table_events", windows, out, |w| {
            each_kind!(w, |i| i.full_table_events())
        })
    }
}
