//! The shells of every `*_new` and `*_free` export: how a handle reaches the
//! caller and how it is released, whether it owns its object alone (a box)
//! or shares it with policies (an `Arc`, see `shared`).

use super::args::Out;
use super::status::{guard, Failure, FgStatus};

/// Runs a `*_new` export: checks `out`, stores NULL in it first (so every
/// failure leaves a NULL handle behind), then stores the handle `make`
/// returns.
///
/// # Safety
/// `out` must be NULL or writable for a pointer; `make`'s own contract holds.
pub(crate) unsafe fn create<H>(
    function: &'static str,
    out: *mut *mut H,
    make: impl FnOnce() -> Result<*mut H, Failure>,
) -> FgStatus {
    guard(function, || {
        let out = Out::new(out, "out")?;
        // SAFETY: checked non-NULL and aligned; writable by the caller's contract.
        unsafe { out.write(std::ptr::null_mut()) };
        let handle = make()?;
        // SAFETY: as for the NULL above.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// A new handle owning `object` alone.
pub(crate) fn boxed<T>(object: T) -> *mut T {
    Box::into_raw(Box::new(object))
}

/// Drops the object behind a handle from [`boxed`].
///
/// # Safety
/// `handle` must be a live handle from [`boxed`], not used again.
pub(crate) unsafe fn unbox<T>(handle: *mut T) {
    // SAFETY: from Box::into_raw (boxed), owned by this call per the contract.
    drop(unsafe { Box::from_raw(handle) });
}

/// Runs a `*_free` export: NULL is a no-op; otherwise `release` (the
/// counterpart of how the handle was made: [`unbox`] or `shared::release`)
/// runs inside the guard. Dropping runs no user code; catching keeps even a
/// bug there from unwinding into C.
///
/// # Safety
/// `handle` must be NULL or a live handle that `release` accepts, with no
/// call on it running or starting concurrently, and not used again.
pub(crate) unsafe fn free<H>(function: &'static str, handle: *mut H, release: unsafe fn(*mut H)) {
    if handle.is_null() {
        return;
    }
    let _ = guard(function, || {
        // SAFETY: non-NULL, live and released once, by the contract.
        unsafe { release(handle) };
        Ok(())
    });
}
