//! `fg_keyed_limiter`: one GCRA bucket per key (`u64`, bytes or IP address)
//! in a fixed-size lock-free table.

use super::args::{self, Out, Versioned, VersionedOut};
use super::decision::{answer, reserve_into, FgDecision};
use super::handle;
use super::key_kind::RawKey::{self, Bytes, Id};
use super::key_kind::{
    each_kind, full_table, ip_from_bytes, kind_mismatch, new_by_key_kind, with_key, Answered,
    ByKeyKind, CKey,
};
use super::quota::{self, FgQuota};
use super::shared::{self, SharedHandle};
use super::shared_memory::{self, FgSharedMemory};
use super::status::{guard, Failure, FgStatus};
use crate::core::decision::Decision;
use crate::core::quota::Quota;
use crate::keyed::KeyedLimiter;
use crate::policy::Layer;
use std::net::IpAddr;
use std::time::Duration;
use AdminCall::{ClearQuota, Reset, SetQuota};
use Operation::{Check, Peek, Refund, Reserve};

/// `fg_keyed_config.key_kind`: keys are `uint64_t` ids, checked with the
/// `*_u64` functions and stored exactly.
pub const FG_KEY_U64: u32 = 1;
/// `fg_keyed_config.key_kind`: keys are byte strings (API keys, tokens) of 1
/// to `FG_MAX_KEY_LEN` bytes, checked with the `*_bytes` functions.
pub const FG_KEY_BYTES: u32 = 2;
/// `fg_keyed_config.key_kind`: keys are IP addresses, passed to the
/// `*_bytes` functions as 4 (IPv4) or 16 (IPv6) bytes in network order.
pub const FG_KEY_IP: u32 = 3;

/// `fg_keyed_config.on_full`: a new key that finds no slot is denied as if
/// its bucket were empty.
pub const FG_FULL_TABLE_DENY: u32 = 0;
/// `fg_keyed_config.on_full`: a new key that finds no slot is admitted,
/// tracking nothing.
pub const FG_FULL_TABLE_ADMIT: u32 = 1;
/// `fg_keyed_config.on_full`: keys that find no slot share one overflow
/// bucket with the default quota.
pub const FG_FULL_TABLE_OVERFLOW: u32 = 2;

/// The longest byte key, in bytes; longer keys get `FG_STATUS_KEY_TOO_LONG`.
pub const FG_MAX_KEY_LEN: usize = 4096;
const _: () = assert!(FG_MAX_KEY_LEN == crate::keyed::MAX_KEY_LEN);

/// How a keyed limiter is built (its default quota is a separate `fg_quota`).
///
/// ```c
/// fg_keyed_config config = { .struct_size = sizeof(fg_keyed_config),
///                            .key_kind = FG_KEY_BYTES, .capacity = 100000 };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgKeyedConfig {
    /// `sizeof(fg_keyed_config)` as the caller compiled it.
    pub struct_size: usize,
    /// `FG_KEY_U64`, `FG_KEY_BYTES` or `FG_KEY_IP`.
    pub key_kind: u32,
    /// `FG_FULL_TABLE_DENY` (0), `FG_FULL_TABLE_ADMIT` or `FG_FULL_TABLE_OVERFLOW`.
    pub on_full: u32,
    /// How many keys the table holds at once (1 to 2^32); memory is
    /// allocated up front (16 bytes a slot for `u64` keys, 24 otherwise).
    pub capacity: u64,
    /// How many keys may hold their own quota at once; 0 picks the default
    /// (capacity / 8, at least 1).
    pub max_overrides: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, plain integers only.
unsafe impl Versioned for FgKeyedConfig {
    const MIN_SIZE: usize = std::mem::size_of::<FgKeyedConfig>();
}

/// An opaque handle to a keyed limiter. Create with `fg_keyed_limiter_new`,
/// release with `fg_keyed_limiter_free`; a policy built from it keeps the
/// table alive after that.
pub struct FgKeyedLimiter {
    _opaque: [u8; 0],
}

impl SharedHandle for FgKeyedLimiter {
    type Inner = Keyed;
}

/// The limiter behind a handle, by key kind, inline so a check follows one
/// pointer; an `Arc` (the handle) shares it with policies.
pub(crate) type Keyed = ByKeyKind<KeyedLimiter<u64>, KeyedLimiter<[u8]>, KeyedLimiter<IpAddr>>;

/// Runs a decision-answering export: the operation `operation` returns, on
/// a live handle, its decision written to `*out` (and a reservation's delay
/// to its pointer).
///
/// `operation` is a closure, not a value, for speed: each export's closure
/// is its own type, so each export gets its own copy of this function and of
/// the guard inside, which the compiler inlines and specializes to the one
/// operation (given as a value, all exports would share one out-of-line body
/// that matches the operation on every call).
///
/// # Safety
/// `limiter` NULL or live; `out` NULL or writable for an `fg_decision`;
/// the operation's byte key NULL or readable for its length, and a
/// reservation's `out_delay_ns` NULL or writable for a `uint64_t`.
#[inline(always)]
unsafe fn keyed_decide(
    function: &'static str,
    limiter: *const FgKeyedLimiter,
    operation: impl FnOnce() -> Operation,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = operation();
    let keyed = limiter.cast::<Keyed>();
    // SAFETY: the byte key readable, by the contract.
    let run = |keyed: &Keyed| unsafe { operation.run(keyed) };
    match operation {
        // SAFETY: this function's contract is `reserve_into`'s.
        Reserve(.., out_delay_ns) => unsafe {
            reserve_into(function, keyed, "limiter", out, out_delay_ns, run)
        },
        // SAFETY: this function's contract is `answer`'s.
        _ => unsafe { answer(function, keyed, "limiter", out, run) },
    }
}

/// The decision-answering keyed operations, with the key as the export got
/// it and the time (`None`: the library's clock).
#[derive(Clone, Copy)]
enum Operation {
    /// Key, cost, time.
    Check(RawKey, u64, Option<u64>),
    /// Key, time.
    Peek(RawKey, Option<u64>),
    /// Key, amount, time.
    Refund(RawKey, u64, Option<u64>),
    /// Key, cost, longest wait in ns, time, where the delay goes.
    Reserve(RawKey, u64, u64, Option<u64>, *mut u64),
}

impl Operation {
    /// # Safety
    /// The byte key NULL or readable for its length.
    #[inline(always)]
    unsafe fn run(self, keyed: &Keyed) -> Result<Decision, Failure> {
        let (Check(key, ..) | Peek(key, ..) | Refund(key, ..) | Reserve(key, ..)) = self;
        // SAFETY: the caller's contract.
        let key = unsafe { key.read() }?;
        match self {
            Check(_, cost, None) => with_key!(keyed, key, |limiter, key| limiter.check(key, cost)),
            Check(_, cost, Some(now_ns)) => {
                with_key!(keyed, key, |limiter, key| limiter
                    .check_at(key, cost, now_ns))
            }
            Peek(_, None) => with_key!(keyed, key, |limiter, key| limiter.peek(key)),
            Peek(_, Some(now_ns)) => {
                with_key!(keyed, key, |limiter, key| limiter.peek_at(key, now_ns))
            }
            Refund(_, amount, None) => {
                with_key!(keyed, key, |limiter, key| limiter.refund(key, amount))
            }
            Refund(_, amount, Some(now_ns)) => {
                with_key!(keyed, key, |limiter, key| limiter
                    .refund_at(key, amount, now_ns))
            }
            Reserve(_, cost, max_wait_ns, now_ns, _) => {
                let max_wait = Duration::from_nanos(max_wait_ns);
                match now_ns {
                    None => with_key!(keyed, key, |limiter, key| limiter
                        .reserve(key, cost, max_wait)),
                    Some(now_ns) => with_key!(keyed, key, |limiter, key| limiter
                        .reserve_at(key, cost, max_wait, now_ns)),
                }
            }
        }
    }
}

/// Creates a keyed limiter whose keys get `default_quota` unless given their
/// own, and stores its handle in `*out` (NULL on failure).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_ARGUMENT` (unknown `key_kind`
/// or `on_full`), `FG_STATUS_ZERO_CAPACITY`, `FG_STATUS_CAPACITY_TOO_LARGE`,
/// `FG_STATUS_ALLOCATION_FAILED`,
/// the quota errors, `FG_STATUS_PANIC`.
///
/// # Safety
/// `config` and `default_quota` must be NULL or readable for their
/// `struct_size`; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_new(
    config: *const FgKeyedConfig,
    default_quota: *const FgQuota,
    out: *mut *mut FgKeyedLimiter,
) -> FgStatus {
    // SAFETY: this function's contract is `new_keyed`'s.
    unsafe { new_keyed("fg_keyed_limiter_new", config, default_quota, None, out) }
}

/// `fg_keyed_limiter_new` in shared mode: the tables live in the segment
/// `shared` names, so every process that creates this limiter with the same
/// segment and settings shares each key's bucket, the per-key quotas and
/// reconfigurations (see `fg_shared_memory`). Every process must give the
/// same `config` (key kind, capacity, `on_full`, `max_overrides`) and
/// default quota. The handle's clock is the machine's timeline
/// (`fg_machine_now_ns`).
///
/// Errors: those of `fg_keyed_limiter_new`; for `shared`, those of
/// `fg_shared_memory_remove`; `FG_STATUS_SEGMENT_MISMATCH` (the message
/// says which field differs, its value in the segment and the one asked
/// for), `FG_STATUS_SEGMENT_NOT_READY`, `FG_STATUS_SHARED_UNSUPPORTED`.
///
/// # Safety
/// As `fg_keyed_limiter_new`; `shared` NULL or readable for its
/// `struct_size`, its `name` or `path` readable for its length.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_new_shared(
    config: *const FgKeyedConfig,
    default_quota: *const FgQuota,
    shared: *const FgSharedMemory,
    out: *mut *mut FgKeyedLimiter,
) -> FgStatus {
    let function = "fg_keyed_limiter_new_shared";
    // SAFETY: this function's contract is `new_keyed`'s.
    unsafe { new_keyed(function, config, default_quota, Some(shared), out) }
}

/// The body of both constructors: `shared` is `None` for the heap.
///
/// # Safety
/// `config`, `default_quota` and a `Some(shared)` NULL or readable for their
/// `struct_size` (the segment's name or path for its length); `out` NULL or
/// writable for a pointer.
unsafe fn new_keyed(
    function: &'static str,
    config: *const FgKeyedConfig,
    default_quota: *const FgQuota,
    shared: Option<*const FgSharedMemory>,
    out: *mut *mut FgKeyedLimiter,
) -> FgStatus {
    let make = || {
        // SAFETY: readable for their struct_size by the contract.
        let config = unsafe { args::read_config(config, "config") }?;
        // SAFETY: as above.
        let quota = unsafe { args::read_config(default_quota, "default_quota") }?.to_quota()?;
        // SAFETY: as above.
        let shared = unsafe { shared_memory::read_if(shared) }?;
        let on_full = full_table(config.on_full)?;
        let capacity = args::saturating_usize(config.capacity);
        let max_overrides = args::saturating_usize(config.max_overrides);
        let keyed: Keyed = new_by_key_kind!(config.key_kind, "config->key_kind", |K| {
            let builder = KeyedLimiter::<K>::builder(quota)
                .capacity(capacity)
                .on_full(on_full);
            let builder = match max_overrides {
                0 => builder,
                max => builder.max_overrides(max),
            };
            let builder = match shared.clone() {
                Some(shared) => builder.shared(shared),
                None => builder,
            };
            builder.build()?
        });
        Ok(shared::into_handle(keyed))
    };
    // SAFETY: the contract is `handle::create`'s.
    unsafe { handle::create(function, out, make) }
}

/// Stores in `*out_shared` whether the limiter's tables live in a shared
/// segment (made by `fg_keyed_limiter_new_shared`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `out_shared` NULL or writable
/// for a `bool`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_is_shared(
    limiter: *const FgKeyedLimiter,
    out_shared: *mut bool,
) -> FgStatus {
    let keyed = limiter.cast::<Keyed>();
    // SAFETY: a live handle points to a Keyed (shared::into_handle); the
    // rest is this function's contract.
    unsafe {
        shared_memory::answer_is_shared(
            "fg_keyed_limiter_is_shared",
            keyed,
            "limiter",
            out_shared,
            Layer::is_shared,
        )
    }
}

/// Releases a keyed limiter. NULL is a no-op. The handle must not be in use
/// by any other thread, and must not be used (or freed) again afterwards.
/// Policies built from it keep using the table until they are freed.
///
/// # Safety
/// `limiter` must be NULL or a live handle from `fg_keyed_limiter_new`, with
/// no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_free(limiter: *mut FgKeyedLimiter) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_keyed_limiter_free", limiter, shared::release) }
}

/// Decides a request of `cost` units for `key` now (the library's clock) and
/// fills `*out`. A cost of 0 only peeks; a cost above the key's burst answers
/// `FG_OUTCOME_CANNOT_FIT`. A denied request is not an error.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_KEY_KIND_MISMATCH` (a limiter not built with `FG_KEY_U64`),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `out` NULL or writable for an `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_check_u64(
    limiter: *const FgKeyedLimiter,
    key: u64,
    cost: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Check(Id(key), cost, None);
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_check_u64", limiter, operation, out) }
}

/// `fg_keyed_limiter_check_u64` at a caller-supplied `now_ns` (see
/// `fg_limiter_check_at`).
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// As `fg_keyed_limiter_check_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_check_u64_at(
    limiter: *const FgKeyedLimiter,
    key: u64,
    cost: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Check(Id(key), cost, Some(now_ns));
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_check_u64_at", limiter, operation, out) }
}

/// `fg_keyed_limiter_check_u64` for a byte key (`FG_KEY_BYTES`: 1 to
/// `FG_MAX_KEY_LEN` bytes; `FG_KEY_IP`: 4 or 16 bytes).
///
/// Errors: `FG_STATUS_NULL_POINTER` (also `key` NULL with `key_len` > 0),
/// `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_INVALID_LENGTH` (over
/// `PTRDIFF_MAX`, or an IP key not 4 or 16 bytes), `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_KEY_KIND_MISMATCH` (a limiter built
/// with `FG_KEY_U64`), `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `key` NULL or readable for
/// `key_len` bytes; `out` NULL or writable for an `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_check_bytes(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    cost: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Check(Bytes(key, key_len), cost, None);
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_check_bytes", limiter, operation, out) }
}

/// `fg_keyed_limiter_check_bytes` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_check_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_check_bytes_at(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    cost: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Check(Bytes(key, key_len), cost, Some(now_ns));
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_check_bytes_at", limiter, operation, out) }
}

/// Fills `*out` with `key`'s bucket as it stands now, charging nothing; a key
/// without a bucket reads as full and is not inserted.
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// As `fg_keyed_limiter_check_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_peek_u64(
    limiter: *const FgKeyedLimiter,
    key: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Peek(Id(key), None);
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_peek_u64", limiter, operation, out) }
}

/// `fg_keyed_limiter_peek_u64` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// As `fg_keyed_limiter_check_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_peek_u64_at(
    limiter: *const FgKeyedLimiter,
    key: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Peek(Id(key), Some(now_ns));
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_peek_u64_at", limiter, operation, out) }
}

/// `fg_keyed_limiter_peek_u64` for a byte key.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_check_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_peek_bytes(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Peek(Bytes(key, key_len), None);
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_peek_bytes", limiter, operation, out) }
}

/// `fg_keyed_limiter_peek_bytes` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_check_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_peek_bytes_at(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Peek(Bytes(key, key_len), Some(now_ns));
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_peek_bytes_at", limiter, operation, out) }
}

/// Gives `amount` units back to `key`'s bucket (never above full) and fills
/// `*out` with the bucket afterwards.
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// As `fg_keyed_limiter_check_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_refund_u64(
    limiter: *const FgKeyedLimiter,
    key: u64,
    amount: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Refund(Id(key), amount, None);
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_refund_u64", limiter, operation, out) }
}

/// `fg_keyed_limiter_refund_u64` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// As `fg_keyed_limiter_check_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_refund_u64_at(
    limiter: *const FgKeyedLimiter,
    key: u64,
    amount: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Refund(Id(key), amount, Some(now_ns));
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_refund_u64_at", limiter, operation, out) }
}

/// `fg_keyed_limiter_refund_u64` for a byte key.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_check_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_refund_bytes(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    amount: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Refund(Bytes(key, key_len), amount, None);
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_refund_bytes", limiter, operation, out) }
}

/// `fg_keyed_limiter_refund_bytes` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_check_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_refund_bytes_at(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    amount: u64,
    now_ns: u64,
    out: *mut FgDecision,
) -> FgStatus {
    let operation = || Refund(Bytes(key, key_len), amount, Some(now_ns));
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_refund_bytes_at", limiter, operation, out) }
}

/// Delay instead of reject for `key`: as `fg_limiter_reserve`. Cancel an
/// admitted reservation with `fg_keyed_limiter_refund_u64` of its cost.
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// As `fg_keyed_limiter_check_u64`; `out_delay_ns` NULL or writable for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_reserve_u64(
    limiter: *const FgKeyedLimiter,
    key: u64,
    cost: u64,
    max_wait_ns: u64,
    out: *mut FgDecision,
    out_delay_ns: *mut u64,
) -> FgStatus {
    let operation = || Reserve(Id(key), cost, max_wait_ns, None, out_delay_ns);
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_reserve_u64", limiter, operation, out) }
}

/// `fg_keyed_limiter_reserve_u64` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// As `fg_keyed_limiter_reserve_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_reserve_u64_at(
    limiter: *const FgKeyedLimiter,
    key: u64,
    cost: u64,
    max_wait_ns: u64,
    now_ns: u64,
    out: *mut FgDecision,
    out_delay_ns: *mut u64,
) -> FgStatus {
    let operation = || Reserve(Id(key), cost, max_wait_ns, Some(now_ns), out_delay_ns);
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_reserve_u64_at", limiter, operation, out) }
}

/// `fg_keyed_limiter_reserve_u64` for a byte key.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_check_bytes`; `out_delay_ns` NULL or writable for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_reserve_bytes(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    cost: u64,
    max_wait_ns: u64,
    out: *mut FgDecision,
    out_delay_ns: *mut u64,
) -> FgStatus {
    let operation = || Reserve(Bytes(key, key_len), cost, max_wait_ns, None, out_delay_ns);
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_reserve_bytes", limiter, operation, out) }
}

/// `fg_keyed_limiter_reserve_bytes` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_reserve_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_reserve_bytes_at(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    cost: u64,
    max_wait_ns: u64,
    now_ns: u64,
    out: *mut FgDecision,
    out_delay_ns: *mut u64,
) -> FgStatus {
    let operation = || {
        Reserve(
            Bytes(key, key_len),
            cost,
            max_wait_ns,
            Some(now_ns),
            out_delay_ns,
        )
    };
    // SAFETY: this function's contract is `keyed_decide`'s.
    unsafe { keyed_decide("fg_keyed_limiter_reserve_bytes_at", limiter, operation, out) }
}

/// The administrative keyed operations (no decision to answer), with the
/// key as the export got it and the time (`None`: the library's clock).
enum AdminCall {
    /// Key, the new quota (read inside the guard), time.
    SetQuota(RawKey, *const FgQuota, Option<u64>),
    /// Key, time.
    ClearQuota(RawKey, Option<u64>),
    /// Key, time.
    Reset(RawKey, Option<u64>),
}

/// An [`AdminCall`] with its quota read.
enum Admin {
    SetQuota(Quota),
    ClearQuota,
    Reset,
}

/// # Safety
/// `limiter` NULL or live; the byte key NULL or readable for its length; a
/// `SetQuota` pointer NULL or readable for its `struct_size`.
unsafe fn keyed_admin(
    function: &'static str,
    limiter: *const FgKeyedLimiter,
    call: AdminCall,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let keyed = unsafe { shared::borrow(limiter, "limiter") }?;
        let (key, admin, now_ns) = match call {
            SetQuota(key, quota, now_ns) => {
                // SAFETY: readable for its struct_size, by the contract.
                let quota = unsafe { args::read_config(quota, "quota") }?.to_quota()?;
                (key, Admin::SetQuota(quota), now_ns)
            }
            ClearQuota(key, now_ns) => (key, Admin::ClearQuota, now_ns),
            Reset(key, now_ns) => (key, Admin::Reset, now_ns),
        };
        // SAFETY: by the contract.
        let key = unsafe { key.read() }?;
        match (admin, now_ns) {
            (Admin::SetQuota(quota), None) => {
                with_key!(keyed, key, |limiter, key| limiter.set_quota(key, quota))
            }
            (Admin::SetQuota(quota), Some(now_ns)) => {
                with_key!(keyed, key, |limiter, key| limiter
                    .set_quota_at(key, quota, now_ns))
            }
            (Admin::ClearQuota, None) => {
                with_key!(keyed, key, |limiter, key| limiter.clear_quota(key))
            }
            (Admin::ClearQuota, Some(now_ns)) => {
                with_key!(keyed, key, |limiter, key| limiter
                    .clear_quota_at(key, now_ns))
            }
            (Admin::Reset, None) => {
                with_key!(keyed, key, |limiter, key| limiter.reset(key))
            }
            (Admin::Reset, Some(now_ns)) => {
                with_key!(keyed, key, |limiter, key| limiter.reset_at(key, now_ns))
            }
        }
    })
}

/// Gives `key` its own quota (a customer's plan) while checks go on; its next
/// check uses it. What the key has used carries over, capped at the new burst.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, the quota errors, `FG_STATUS_KEY_KIND_MISMATCH`,
/// `FG_STATUS_TOO_MANY_OVERRIDES`, `FG_STATUS_TABLE_FULL`,
/// `FG_STATUS_ALLOCATION_FAILED` (the per-key quota table's next segment),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `quota` NULL or readable for its
/// `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_set_quota_u64(
    limiter: *const FgKeyedLimiter,
    key: u64,
    quota: *const FgQuota,
) -> FgStatus {
    let call = SetQuota(Id(key), quota, None);
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_set_quota_u64", limiter, call) }
}

/// `fg_keyed_limiter_set_quota_u64` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_set_quota_u64`.
///
/// # Safety
/// As `fg_keyed_limiter_set_quota_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_set_quota_u64_at(
    limiter: *const FgKeyedLimiter,
    key: u64,
    quota: *const FgQuota,
    now_ns: u64,
) -> FgStatus {
    let call = SetQuota(Id(key), quota, Some(now_ns));
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_set_quota_u64_at", limiter, call) }
}

/// `fg_keyed_limiter_set_quota_u64` for a byte key.
///
/// Errors: as `fg_keyed_limiter_set_quota_u64`, and the byte-key errors of
/// `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_set_quota_u64`; `key` NULL or readable for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_set_quota_bytes(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    quota: *const FgQuota,
) -> FgStatus {
    let call = SetQuota(Bytes(key, key_len), quota, None);
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_set_quota_bytes", limiter, call) }
}

/// `fg_keyed_limiter_set_quota_bytes` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_set_quota_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_set_quota_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_set_quota_bytes_at(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    quota: *const FgQuota,
    now_ns: u64,
) -> FgStatus {
    let call = SetQuota(Bytes(key, key_len), quota, Some(now_ns));
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_set_quota_bytes_at", limiter, call) }
}

/// Returns `key` to the default quota, keeping what it has used (capped at
/// the default burst). A key without its own quota is left as is.
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// `limiter` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_clear_quota_u64(
    limiter: *const FgKeyedLimiter,
    key: u64,
) -> FgStatus {
    let call = ClearQuota(Id(key), None);
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_clear_quota_u64", limiter, call) }
}

/// `fg_keyed_limiter_clear_quota_u64` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// As `fg_keyed_limiter_clear_quota_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_clear_quota_u64_at(
    limiter: *const FgKeyedLimiter,
    key: u64,
    now_ns: u64,
) -> FgStatus {
    let call = ClearQuota(Id(key), Some(now_ns));
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_clear_quota_u64_at", limiter, call) }
}

/// `fg_keyed_limiter_clear_quota_u64` for a byte key.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `key` NULL or readable for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_clear_quota_bytes(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
) -> FgStatus {
    let call = ClearQuota(Bytes(key, key_len), None);
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_clear_quota_bytes", limiter, call) }
}

/// `fg_keyed_limiter_clear_quota_bytes` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_clear_quota_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_clear_quota_bytes_at(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    now_ns: u64,
) -> FgStatus {
    let call = ClearQuota(Bytes(key, key_len), Some(now_ns));
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_clear_quota_bytes_at", limiter, call) }
}

/// Puts `key`'s bucket back to full, forgetting what it has used (an
/// operator lifts a block). The key's slot is then free for a new key unless
/// the key has its own quota, which it keeps. A key with no bucket is left
/// alone; nothing is inserted.
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// `limiter` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_reset_u64(
    limiter: *const FgKeyedLimiter,
    key: u64,
) -> FgStatus {
    let call = Reset(Id(key), None);
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_reset_u64", limiter, call) }
}

/// `fg_keyed_limiter_reset_u64` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_u64`.
///
/// # Safety
/// As `fg_keyed_limiter_reset_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_reset_u64_at(
    limiter: *const FgKeyedLimiter,
    key: u64,
    now_ns: u64,
) -> FgStatus {
    let call = Reset(Id(key), Some(now_ns));
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_reset_u64_at", limiter, call) }
}

/// `fg_keyed_limiter_reset_u64` for a byte or IP key.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `key` NULL or readable for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_reset_bytes(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
) -> FgStatus {
    let call = Reset(Bytes(key, key_len), None);
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_reset_bytes", limiter, call) }
}

/// `fg_keyed_limiter_reset_bytes` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_reset_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_reset_bytes_at(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    now_ns: u64,
) -> FgStatus {
    let call = Reset(Bytes(key, key_len), Some(now_ns));
    // SAFETY: this function's contract is `keyed_admin`'s.
    unsafe { keyed_admin("fg_keyed_limiter_reset_bytes_at", limiter, call) }
}

/// # Safety
/// `limiter` NULL or live; the byte key NULL or readable for its length;
/// `out` NULL or readable and writable for its `struct_size`.
unsafe fn write_quota(
    function: &'static str,
    limiter: *const FgKeyedLimiter,
    key: Option<RawKey>,
    out: *mut FgQuota,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let keyed = unsafe { shared::borrow(limiter, "limiter") }?;
        // SAFETY: readable for a usize, by the contract.
        let out = unsafe { VersionedOut::new(out, "out") }?;
        let quota = match key {
            Some(key) => {
                // SAFETY: the byte key readable for its length, by the contract.
                let key = unsafe { key.read() }?;
                with_key!(keyed, key, |limiter, key| limiter.quota_for(key))?
            }
            None => each_kind!(keyed, |limiter| limiter.default_quota()),
        };
        // SAFETY: writable for its struct_size, by the contract.
        unsafe { out.write(FgQuota::from_quota(&quota)) };
        Ok(())
    })
}

/// Fills `*out` with the quota `key`'s checks use: its own, or the default.
/// Set `out->struct_size` first (see `fg_limiter_quota`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_KEY_KIND_MISMATCH`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `out` NULL or readable and
/// writable for `out->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_quota_for_u64(
    limiter: *const FgKeyedLimiter,
    key: u64,
    out: *mut FgQuota,
) -> FgStatus {
    // SAFETY: this function's contract is `write_quota`'s.
    unsafe {
        write_quota(
            "fg_keyed_limiter_quota_for_u64",
            limiter,
            Some(Id(key)),
            out,
        )
    }
}

/// `fg_keyed_limiter_quota_for_u64` for a byte key.
///
/// Errors: as `fg_keyed_limiter_quota_for_u64`, and the byte-key errors of
/// `fg_keyed_limiter_check_bytes`.
///
/// # Safety
/// As `fg_keyed_limiter_quota_for_u64`; `key` NULL or readable for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_quota_for_bytes(
    limiter: *const FgKeyedLimiter,
    key: *const u8,
    key_len: usize,
    out: *mut FgQuota,
) -> FgStatus {
    // SAFETY: this function's contract is `write_quota`'s.
    unsafe {
        write_quota(
            "fg_keyed_limiter_quota_for_bytes",
            limiter,
            Some(Bytes(key, key_len)),
            out,
        )
    }
}

/// Fills `*out` with the default quota (that of every key without its own).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_PANIC`.
///
/// # Safety
/// As `fg_keyed_limiter_quota_for_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_default_quota(
    limiter: *const FgKeyedLimiter,
    out: *mut FgQuota,
) -> FgStatus {
    // SAFETY: this function's contract is `write_quota`'s.
    unsafe { write_quota("fg_keyed_limiter_default_quota", limiter, None, out) }
}

/// Replaces the default quota while checks go on, keeping what each key has
/// used (capped at the new burst). Keys with their own quota keep it. Visits
/// every slot once (milliseconds per million slots), off the check path.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, the quota errors, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `quota` NULL or readable for its `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_reconfigure(
    limiter: *const FgKeyedLimiter,
    quota: *const FgQuota,
) -> FgStatus {
    // SAFETY: this function's contract is `reconfigure`'s.
    unsafe { reconfigure("fg_keyed_limiter_reconfigure", limiter, quota, None) }
}

/// `fg_keyed_limiter_reconfigure` at a caller-supplied `now_ns`.
///
/// Errors: as `fg_keyed_limiter_reconfigure`.
///
/// # Safety
/// As `fg_keyed_limiter_reconfigure`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_reconfigure_at(
    limiter: *const FgKeyedLimiter,
    quota: *const FgQuota,
    now_ns: u64,
) -> FgStatus {
    // SAFETY: this function's contract is `reconfigure`'s.
    unsafe {
        reconfigure(
            "fg_keyed_limiter_reconfigure_at",
            limiter,
            quota,
            Some(now_ns),
        )
    }
}

/// # Safety
/// `limiter` NULL or live; `quota` NULL or readable for its `struct_size`.
unsafe fn reconfigure(
    function: &'static str,
    limiter: *const FgKeyedLimiter,
    quota: *const FgQuota,
    now_ns: Option<u64>,
) -> FgStatus {
    let apply = |keyed: &Keyed, quota| {
        each_kind!(keyed, |limiter| match now_ns {
            Some(now_ns) => limiter.reconfigure_at(quota, now_ns),
            None => limiter.reconfigure(quota),
        })
    };
    // SAFETY: this function's contract is `quota::reconfigure`'s.
    unsafe { quota::reconfigure(function, limiter, quota, apply) }
}

/// The table's figures for monitoring.
#[derive(Clone, Copy)]
enum Figure {
    Len,
    Capacity,
    FullTableEvents,
}

/// # Safety
/// `limiter` NULL or live; `out` NULL or writable for a `uint64_t`.
unsafe fn figure(
    function: &'static str,
    limiter: *const FgKeyedLimiter,
    which: Figure,
    out: *mut u64,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let keyed = unsafe { shared::borrow(limiter, "limiter") }?;
        let out = Out::new(out, "out")?;
        let value = each_kind!(keyed, |limiter| match which {
            // usize is at most 64 bits on every supported target.
            Figure::Len => limiter.len() as u64,
            Figure::Capacity => limiter.capacity() as u64,
            Figure::FullTableEvents => limiter.full_table_events(),
        });
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(value) };
        Ok(())
    })
}

/// Stores in `*out` how many keys hold a slot (refilled ones not yet reused
/// included). Scans the whole table: for metrics, not the request path.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle; `out` NULL or writable for a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_len(
    limiter: *const FgKeyedLimiter,
    out: *mut u64,
) -> FgStatus {
    // SAFETY: this function's contract is `figure`'s.
    unsafe { figure("fg_keyed_limiter_len", limiter, Figure::Len, out) }
}

/// Stores in `*out` how many keys the table was built for.
///
/// Errors: as `fg_keyed_limiter_len`.
///
/// # Safety
/// As `fg_keyed_limiter_len`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_capacity(
    limiter: *const FgKeyedLimiter,
    out: *mut u64,
) -> FgStatus {
    // SAFETY: this function's contract is `figure`'s.
    unsafe { figure("fg_keyed_limiter_capacity", limiter, Figure::Capacity, out) }
}

/// Stores in `*out` how many checks of a new key found no slot and fell back
/// to `on_full`'s choice.
///
/// Errors: as `fg_keyed_limiter_len`.
///
/// # Safety
/// As `fg_keyed_limiter_len`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_full_table_events(
    limiter: *const FgKeyedLimiter,
    out: *mut u64,
) -> FgStatus {
    // SAFETY: this function's contract is `figure`'s.
    unsafe {
        figure(
            "fg_keyed_limiter_full_table_events",
            limiter,
            Figure::FullTableEvents,
            out,
        )
    }
}
