//! Fallible allocation for every table whose size a caller chooses.
//!
//! A capacity the allocator refuses must come back as
//! [`Error::AllocationFailed`], never abort the process, so each such table
//! is reserved with `try_reserve_exact` (which asks for exactly its size)
//! before it is filled.

use crate::core::error::{Error, Result};

/// `len` values from `make`, in one allocation of exactly `len` of them.
pub(crate) fn filled<T>(len: usize, make: impl FnMut() -> T) -> Result<Box<[T]>> {
    let mut values: Vec<T> = Vec::new();
    values
        .try_reserve_exact(len)
        .map_err(|_| Error::AllocationFailed {
            bytes: len.saturating_mul(std::mem::size_of::<T>()),
        })?;
    huge_pages(
        values.as_mut_ptr().cast(),
        len.saturating_mul(std::mem::size_of::<T>()),
    );
    values.extend(std::iter::repeat_with(make).take(len));
    Ok(values.into_boxed_slice())
}

/// Asks Linux to back a large table with 2 MB pages (where the system
/// allows them on request), before it is first touched: a keyed table is
/// read at random, and in 4 KB pages a 20 MB table misses the TLB on almost
/// every lookup. Only a hint: if refused, the table works as before.
fn huge_pages(start: *mut u8, bytes: usize) {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64"),
        not(loom)
    ))]
    {
        const HUGE_PAGE: usize = 2 << 20;
        const MADV_HUGEPAGE: i32 = 14;
        extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        // Only whole huge pages inside the allocation can be huge.
        let first = (start as usize).next_multiple_of(HUGE_PAGE);
        let end = (start as usize).saturating_add(bytes) & !(HUGE_PAGE - 1);
        if end > first {
            // SAFETY: madvise only changes how the kernel backs these pages,
            // never their contents or validity; the range lies inside the
            // allocation just reserved (rounded inwards to page boundaries),
            // which this function's caller owns, and a refusal is harmless.
            unsafe { madvise(first as *mut std::ffi::c_void, end - first, MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64"),
        not(loom)
    )))]
    let _ = (start, bytes);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_size_past_the_address_space_is_an_error_not_an_abort() {
        let len = usize::MAX / 8;
        assert_eq!(
            filled(len, || 0u64).err(),
            Some(Error::AllocationFailed { bytes: len * 8 })
        );
        assert_eq!(&*filled(3, || 7u64).unwrap(), &[7, 7, 7]);
    }
}
