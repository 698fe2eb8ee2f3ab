//! `fg_suspensions`: keys (`u64`, bytes or IP address) suspended until a time
//! or indefinitely; a policy layer that answers `FG_OUTCOME_SUSPENDED`.

use super::args::{self, Out};
use super::decision::{FgDecision, FG_SCOPE_SINGLE};
use super::handle;
use super::key_kind::RawKey::{self, Bytes, Id};
use super::key_kind::{
    ip_from_bytes, kind_mismatch, new_by_key_kind, with_key, Answered, ByKeyKind, CKey,
};
use super::shared::{self, SharedHandle};
use super::shared_memory::{self, FgSharedMemory};
use super::status::{guard, Failure, FgStatus};
use crate::core::decision::Decision;
use crate::policy::suspensions::Suspensions;
use crate::policy::Layer;
use std::net::IpAddr;
use std::time::Duration;
use Change::{For, Lift, Until};

/// `fg_suspensions_suspend_until_*` flag: suspend with no end (`until_ns`
/// is ignored) until lifted.
pub const FG_SUSPEND_INDEFINITELY: u32 = 1;

/// An opaque handle to a set of suspended keys. Create with
/// `fg_suspensions_new`, release with `fg_suspensions_free`; a policy built
/// from it (`fg_layer.suspensions`) keeps it alive after that.
pub struct FgSuspensions {
    _opaque: [u8; 0],
}

impl SharedHandle for FgSuspensions {
    type Inner = Suspended;
}

/// The suspensions behind a handle, by key kind.
pub(crate) type Suspended = ByKeyKind<Suspensions<u64>, Suspensions<[u8]>, Suspensions<IpAddr>>;

/// Creates room for `capacity` suspended keys of `key_kind` (`FG_KEY_U64`,
/// `FG_KEY_BYTES` or `FG_KEY_IP`), none suspended, and stores its handle in
/// `*out` (NULL on failure). A key suspended once keeps its slot after it is
/// lifted, so `capacity` bounds the distinct keys ever suspended.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_ARGUMENT` (unknown `key_kind`),
/// `FG_STATUS_ZERO_CAPACITY`, `FG_STATUS_CAPACITY_TOO_LARGE`,
/// `FG_STATUS_ALLOCATION_FAILED`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `out` must be NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_new(
    key_kind: u32,
    capacity: u64,
    out: *mut *mut FgSuspensions,
) -> FgStatus {
    // SAFETY: this function's contract is `new_suspensions`'.
    unsafe { new_suspensions("fg_suspensions_new", key_kind, capacity, None, out) }
}

/// `fg_suspensions_new` in shared mode: the suspensions live in the segment
/// `shared` names, so a key suspended or lifted by one process that created
/// them with this segment is so in every such process (see
/// `fg_shared_memory`). The handle's clock is `CLOCK_MONOTONIC`, so an
/// `until_ns` is one instant for all.
///
/// Errors: those of `fg_suspensions_new`; for `shared`, those of
/// `fg_shared_memory_remove`; `FG_STATUS_SEGMENT_MISMATCH` (the segment
/// holds another kind or key kind (`FG_KEY_U64`,
/// `FG_KEY_BYTES` and `FG_KEY_IP` sets are each their own) or capacity: the message names the field),
/// `FG_STATUS_SEGMENT_NOT_READY`, `FG_STATUS_SHARED_UNSUPPORTED`.
///
/// # Safety
/// As `fg_suspensions_new`; `shared` NULL or readable for its
/// `struct_size`, its `name` or `path` readable for its length.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_new_shared(
    key_kind: u32,
    capacity: u64,
    shared: *const FgSharedMemory,
    out: *mut *mut FgSuspensions,
) -> FgStatus {
    let function = "fg_suspensions_new_shared";
    // SAFETY: this function's contract is `new_suspensions`'.
    unsafe { new_suspensions(function, key_kind, capacity, Some(shared), out) }
}

/// The body of both constructors: `shared` is `None` for the heap.
///
/// # Safety
/// A `Some(shared)` NULL or readable for its `struct_size` (the segment's
/// name or path for its length); `out` NULL or writable for a pointer.
unsafe fn new_suspensions(
    function: &'static str,
    key_kind: u32,
    capacity: u64,
    shared: Option<*const FgSharedMemory>,
    out: *mut *mut FgSuspensions,
) -> FgStatus {
    let make = || {
        // SAFETY: by the contract.
        let shared = unsafe { shared_memory::read_if(shared) }?;
        let capacity = args::saturating_usize(capacity);
        let suspended: Suspended = new_by_key_kind!(key_kind, "key_kind", |K| {
            let builder = Suspensions::<K>::builder().capacity(capacity);
            match shared.clone() {
                Some(shared) => builder.shared(shared).build()?,
                None => builder.build()?,
            }
        });
        Ok(shared::into_handle(suspended))
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create(function, out, make) }
}

/// Stores in `*out_shared` whether the suspensions live in a shared segment
/// (made by `fg_suspensions_new_shared`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `suspensions` must be NULL or a live handle; `out_shared` NULL or
/// writable for a `bool`.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_is_shared(
    suspensions: *const FgSuspensions,
    out_shared: *mut bool,
) -> FgStatus {
    let suspended = suspensions.cast::<Suspended>();
    // SAFETY: a live handle points to a Suspended (shared::into_handle); the
    // rest is this function's contract.
    unsafe {
        shared_memory::answer_is_shared(
            "fg_suspensions_is_shared",
            suspended,
            "suspensions",
            out_shared,
            Layer::is_shared,
        )
    }
}

/// Releases a handle. NULL is a no-op. The handle must not be in use by any
/// other thread, and must not be used again; policies built from it keep
/// their reference.
///
/// # Safety
/// `suspensions` must be NULL or a live handle from `fg_suspensions_new`,
/// with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_free(suspensions: *mut FgSuspensions) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_suspensions_free", suspensions, shared::release) }
}

/// A change to one key's suspension, with the key as the export got it.
#[derive(Clone, Copy)]
enum Change {
    /// Key, a time on the library's clock, flags (`FG_SUSPEND_INDEFINITELY`).
    Until(RawKey, u64, u32),
    /// Key, a duration in ns.
    For(RawKey, u64),
    /// Key.
    Lift(RawKey),
}

/// Runs `change` on a live handle.
///
/// # Safety
/// `suspensions` NULL or live; the byte key NULL or readable for its length.
unsafe fn apply(
    function: &'static str,
    suspensions: *const FgSuspensions,
    change: Change,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let suspended = unsafe { shared::borrow(suspensions, "suspensions") }?;
        let (Until(key, ..) | For(key, ..) | Lift(key)) = change;
        // SAFETY: by the contract.
        let key = unsafe { key.read() }?;
        match change {
            Until(_, until_ns, flags) => {
                let until_ns = match flags {
                    0 => Some(until_ns),
                    FG_SUSPEND_INDEFINITELY => None,
                    other => {
                        return Err(Failure::new(
                            FgStatus::InvalidArgument,
                            format!("`flags` is {other}; only FG_SUSPEND_INDEFINITELY is defined"),
                        ))
                    }
                };
                with_key!(suspended, key, |inner, key| inner
                    .suspend_until(key, until_ns))
            }
            For(_, duration_ns) => {
                let duration = Duration::from_nanos(duration_ns);
                with_key!(suspended, key, |inner, key| inner
                    .suspend_for(key, duration))
            }
            Lift(_) => with_key!(suspended, key, |inner, key| inner.lift(key)),
        }
    })
}

/// Suspends the `u64` key `key` until `until_ns` on the handle's monotonic
/// clock (the timeline its checks without `_at` read), or with no end when `flags` is
/// `FG_SUSPEND_INDEFINITELY`. Suspending again replaces the end.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_ARGUMENT` (unknown flag), `FG_STATUS_KEY_KIND_MISMATCH`,
/// `FG_STATUS_TABLE_FULL` (no room for a new key), `FG_STATUS_PANIC`.
///
/// # Safety
/// `suspensions` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_suspend_until_u64(
    suspensions: *const FgSuspensions,
    key: u64,
    until_ns: u64,
    flags: u32,
) -> FgStatus {
    let change = Until(Id(key), until_ns, flags);
    // SAFETY: the contract is `apply`'s.
    unsafe { apply("fg_suspensions_suspend_until_u64", suspensions, change) }
}

/// `fg_suspensions_suspend_until_u64` for a byte or IP key (`key`, `len`).
///
/// Errors: as `fg_suspensions_suspend_until_u64`, and `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_INVALID_LENGTH` (an IP key not 4 or
/// 16 bytes).
///
/// # Safety
/// `suspensions` must be NULL or a live handle; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_suspend_until_bytes(
    suspensions: *const FgSuspensions,
    key: *const u8,
    len: usize,
    until_ns: u64,
    flags: u32,
) -> FgStatus {
    let change = Until(Bytes(key, len), until_ns, flags);
    // SAFETY: the contract is `apply`'s.
    unsafe { apply("fg_suspensions_suspend_until_bytes", suspensions, change) }
}

/// Suspends the `u64` key `key` for `duration_ns` from now.
///
/// Errors: as `fg_suspensions_suspend_until_u64`.
///
/// # Safety
/// `suspensions` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_suspend_for_u64(
    suspensions: *const FgSuspensions,
    key: u64,
    duration_ns: u64,
) -> FgStatus {
    let change = For(Id(key), duration_ns);
    // SAFETY: the contract is `apply`'s.
    unsafe { apply("fg_suspensions_suspend_for_u64", suspensions, change) }
}

/// `fg_suspensions_suspend_for_u64` for a byte or IP key.
///
/// Errors: as `fg_suspensions_suspend_until_bytes`.
///
/// # Safety
/// `suspensions` must be NULL or a live handle; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_suspend_for_bytes(
    suspensions: *const FgSuspensions,
    key: *const u8,
    len: usize,
    duration_ns: u64,
) -> FgStatus {
    let change = For(Bytes(key, len), duration_ns);
    // SAFETY: the contract is `apply`'s.
    unsafe { apply("fg_suspensions_suspend_for_bytes", suspensions, change) }
}

/// Lifts the `u64` key's suspension; a key not suspended is left as it is.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_KEY_KIND_MISMATCH`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `suspensions` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_lift_u64(
    suspensions: *const FgSuspensions,
    key: u64,
) -> FgStatus {
    let change = Lift(Id(key));
    // SAFETY: the contract is `apply`'s.
    unsafe { apply("fg_suspensions_lift_u64", suspensions, change) }
}

/// `fg_suspensions_lift_u64` for a byte or IP key.
///
/// Errors: as `fg_suspensions_lift_u64`, and `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_INVALID_LENGTH`.
///
/// # Safety
/// `suspensions` must be NULL or a live handle; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_lift_bytes(
    suspensions: *const FgSuspensions,
    key: *const u8,
    len: usize,
) -> FgStatus {
    let change = Lift(Bytes(key, len));
    // SAFETY: the contract is `apply`'s.
    unsafe { apply("fg_suspensions_lift_bytes", suspensions, change) }
}

/// Whether `key` is suspended at `now_ns` (the library's clock when `None`):
/// stores it in `*out_suspended` and, when it is, the suspended decision in
/// `*out` (`retry_after_ns` 0 for an indefinite suspension). `*out` is left
/// alone when the key is not suspended.
///
/// # Safety
/// `suspensions` NULL or live; `out_suspended` NULL or writable for a `bool`,
/// `out` for an `fg_decision`.
unsafe fn check(
    function: &'static str,
    suspensions: *const FgSuspensions,
    key: impl FnOnce() -> RawKey,
    now_ns: Option<u64>,
    out_suspended: *mut bool,
    out: *mut FgDecision,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let suspended = unsafe { shared::borrow(suspensions, "suspensions") }?;
        let out_suspended = Out::new(out_suspended, "out_suspended")?;
        let out = Out::new(out, "out")?;
        // SAFETY: the byte key readable for its length, by the contract.
        let key = unsafe { key().read() }?;
        let decision: Option<Decision> = match now_ns {
            None => with_key!(suspended, key, |inner, key| inner.check(key)),
            Some(now_ns) => with_key!(suspended, key, |inner, key| inner.check_at(key, now_ns)),
        }?;
        // SAFETY: both checked non-NULL and aligned; writable by the contract.
        unsafe {
            out_suspended.write(decision.is_some());
            if let Some(decision) = decision {
                out.write(FgDecision::new(&decision, FG_SCOPE_SINGLE));
            }
        }
        Ok(())
    })
}

/// Stores whether the `u64` key is suspended now in `*out_suspended`; when it
/// is, fills `*out` (`FG_OUTCOME_SUSPENDED`, `retry_after_ns` the time left,
/// 0 for an indefinite suspension), else leaves `*out` alone.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_KEY_KIND_MISMATCH`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `suspensions` must be NULL or a live handle; `out_suspended` NULL or
/// writable for a `bool`; `out` NULL or writable for an `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_check_u64(
    suspensions: *const FgSuspensions,
    key: u64,
    out_suspended: *mut bool,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: the contract is `check`'s.
    unsafe {
        check(
            "fg_suspensions_check_u64",
            suspensions,
            || Id(key),
            None,
            out_suspended,
            out,
        )
    }
}

/// `fg_suspensions_check_u64` at a caller-supplied time.
///
/// # Safety
/// As `fg_suspensions_check_u64`.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_check_u64_at(
    suspensions: *const FgSuspensions,
    key: u64,
    now_ns: u64,
    out_suspended: *mut bool,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: the contract is `check`'s.
    unsafe {
        check(
            "fg_suspensions_check_u64_at",
            suspensions,
            || Id(key),
            Some(now_ns),
            out_suspended,
            out,
        )
    }
}

/// `fg_suspensions_check_u64` for a byte or IP key.
///
/// Errors: as `fg_suspensions_check_u64`, and `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_INVALID_LENGTH`.
///
/// # Safety
/// As `fg_suspensions_check_u64`; `key` NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_check_bytes(
    suspensions: *const FgSuspensions,
    key: *const u8,
    len: usize,
    out_suspended: *mut bool,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: the contract is `check`'s.
    unsafe {
        check(
            "fg_suspensions_check_bytes",
            suspensions,
            || Bytes(key, len),
            None,
            out_suspended,
            out,
        )
    }
}

/// `fg_suspensions_check_bytes` at a caller-supplied time.
///
/// # Safety
/// As `fg_suspensions_check_bytes`.
#[no_mangle]
pub unsafe extern "C" fn fg_suspensions_check_bytes_at(
    suspensions: *const FgSuspensions,
    key: *const u8,
    len: usize,
    now_ns: u64,
    out_suspended: *mut bool,
    out: *mut FgDecision,
) -> FgStatus {
    // SAFETY: the contract is `check`'s.
    unsafe {
        check(
            "fg_suspensions_check_bytes_at",
            suspensions,
            || Bytes(key, len),
            Some(now_ns),
            out_suspended,
            out,
        )
    }
}
