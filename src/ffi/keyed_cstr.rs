//! A keyed check whose byte key is a NUL-terminated string.
//!
//! FFI layers that convert each argument on its own pay per argument and per
//! buffer they fill: through koffi (Node) a string argument costs about what
//! one integer argument does, while encoding the string into a buffer first
//! and passing pointer and length costs about three times that. So the one
//! check that bindings call per request takes the key as a C string too.

use super::decision::FgDecision;
use super::keyed::{fg_keyed_limiter_check_bytes, FgKeyedLimiter};
use super::status::{guard, Failure, FgStatus};
use std::ffi::{c_char, CStr};

/// `fg_keyed_limiter_check_bytes` with the key given as a NUL-terminated
/// string: the key is its bytes before the NUL (a key that contains a NUL
/// byte goes through `fg_keyed_limiter_check_bytes`).
///
/// ```c
/// fg_decision d;
/// if (fg_keyed_limiter_check_cstr(limiter, "user-42", 1, &d) == FG_STATUS_OK && !d.admitted) reject();
/// ```
///
/// Errors: `FG_STATUS_NULL_POINTER` (also `key` NULL), then as
/// `fg_keyed_limiter_check_bytes` (an empty string is `FG_STATUS_EMPTY_KEY`).
///
/// # Safety
/// `limiter` must be NULL or a live handle; `key` NULL or a NUL-terminated
/// string; `out` NULL or writable for an `fg_decision`.
#[no_mangle]
pub unsafe extern "C" fn fg_keyed_limiter_check_cstr(
    limiter: *const FgKeyedLimiter,
    key: *const c_char,
    cost: u64,
    out: *mut FgDecision,
) -> FgStatus {
    if key.is_null() {
        return guard("fg_keyed_limiter_check_cstr", || {
            Err(Failure::new(FgStatus::NullPointer, "`key` is NULL".into()))
        });
    }
    // SAFETY: `key` is non-NULL and NUL-terminated by this function's contract.
    let key = unsafe { CStr::from_ptr(key) }.to_bytes();
    // SAFETY: `key` is readable for `key.len()` bytes; `limiter` and `out` are
    // as `fg_keyed_limiter_check_bytes` requires, by this function's contract.
    unsafe { fg_keyed_limiter_check_bytes(limiter, key.as_ptr(), key.len(), cost, out) }
}
