//! Fallible allocation for every table whose size a caller chooses.
//!
//! A capacity the allocator refuses must come back as
//! [`Error::AllocationFailed`], never abort the process, so each such table
//! is reserved with `try_reserve_exact` (which asks for exactly its size)
//! before it is filled.

use crate::core::error::{Error, Result};

/// `len` values from `make`, in one allocation of exactly `len` of them.
pub(crate) fn filled<T>(len: usize, make: impl FnMut() -> T) -> Result<Box<[T]>> {
    let mut values = Vec::new();
    values
        .try_reserve_exact(len)
        .map_err(|_| Error::AllocationFailed {
            bytes: len.saturating_mul(std::mem::size_of::<T>()),
        })?;
    values.extend(std::iter::repeat_with(make).take(len));
    Ok(values.into_boxed_slice())
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
