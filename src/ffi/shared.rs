//! Handles a policy can share: the handle is `Arc::into_raw` of its object,
//! so a policy built from it holds its own reference and the caller may free
//! the handle (drop its reference) while the policy lives on.

use super::args;
use super::status::Failure;
use std::sync::Arc;

/// An opaque handle type (never instantiated: C sees an incomplete struct)
/// whose pointers are `Arc<Self::Inner>`s turned raw.
pub(crate) trait SharedHandle: Sized {
    /// The object the handle owns a reference to.
    type Inner;
}

/// A new handle owning the only reference to `inner`.
pub(crate) fn into_handle<H: SharedHandle>(inner: H::Inner) -> *mut H {
    Arc::into_raw(Arc::new(inner)).cast_mut().cast::<H>()
}

/// Borrows the object behind a live handle.
///
/// # Safety
/// `handle` must be NULL or a live handle from [`into_handle`], for as long
/// as the borrow is used.
#[inline(always)]
pub(crate) unsafe fn borrow<'a, H: SharedHandle>(
    handle: *const H,
    name: &'static str,
) -> Result<&'a H::Inner, Failure> {
    // SAFETY: a live handle points to an H::Inner (into_handle); this checks
    // NULL and the Inner's alignment.
    unsafe { args::handle(handle.cast::<H::Inner>(), name) }
}

/// A new reference to the object behind a live handle.
///
/// # Safety
/// `handle` must be NULL or a live handle from [`into_handle`].
pub(crate) unsafe fn share<H: SharedHandle>(
    handle: *const H,
    name: &'static str,
) -> Result<Arc<H::Inner>, Failure> {
    // SAFETY: NULL or live, by the contract.
    let inner: *const H::Inner = unsafe { borrow(handle, name) }?;
    // SAFETY: `inner` came from Arc::into_raw and the caller's reference
    // keeps the count above zero meanwhile.
    unsafe {
        Arc::increment_strong_count(inner);
        Ok(Arc::from_raw(inner))
    }
}

/// Drops the handle's reference (the object lives on while a policy holds one).
///
/// # Safety
/// `handle` must be a non-NULL live handle from [`into_handle`], not used again.
pub(crate) unsafe fn release<H: SharedHandle>(handle: *mut H) {
    // SAFETY: from Arc::into_raw (into_handle), released once by the contract.
    drop(unsafe { Arc::from_raw(handle.cast_const().cast::<H::Inner>()) });
}
