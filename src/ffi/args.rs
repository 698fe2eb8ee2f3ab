//! Argument checks shared by every export: handles, out-pointers, config
//! structs with a `struct_size`, and (pointer, length) byte strings. Each
//! returns a [`Failure`] naming the argument instead of touching bad memory.

use super::status::{Failure, FgStatus};
use std::mem::size_of;

/// The largest `struct_size` accepted: a guard against an uninitialised field.
const MAX_STRUCT_SIZE: usize = 4096;

/// Refuses NULL and misaligned pointers; both mean "not an object of type T".
#[inline(always)]
fn check_pointer<T>(pointer: *const T, name: &'static str) -> Result<(), Failure> {
    if pointer.is_null() {
        return Err(null(name));
    }
    if !pointer.is_aligned() {
        return Err(misaligned(name));
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn null(name: &'static str) -> Failure {
    Failure::new(FgStatus::NullPointer, format!("`{name}` is NULL"))
}

#[cold]
#[inline(never)]
fn misaligned(name: &'static str) -> Failure {
    Failure::new(
        FgStatus::MisalignedPointer,
        format!("`{name}` is misaligned"),
    )
}

/// Borrows the object behind a handle the caller got from a `*_new` function.
///
/// # Safety
/// A non-NULL, aligned `handle` must point to a live `T` (created by this
/// library and not yet freed) for as long as the borrow is used.
#[inline(always)]
pub(crate) unsafe fn handle<'a, T>(handle: *const T, name: &'static str) -> Result<&'a T, Failure> {
    check_pointer(handle, name)?;
    // SAFETY: non-NULL and aligned (checked above); live by the caller's contract.
    Ok(unsafe { &*handle })
}

/// An out-pointer checked before any work, written after it.
#[derive(Clone, Copy)]
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks `pointer` for NULL and alignment.
    #[inline(always)]
    pub(crate) fn new(pointer: *mut T, name: &'static str) -> Result<Self, Failure> {
        check_pointer(pointer, name)?;
        Ok(Self(pointer))
    }

    /// Stores `value`, overwriting (not dropping) what was there.
    ///
    /// # Safety
    /// The pointer must be valid for writes of a `T` (the export's contract).
    #[inline(always)]
    pub(crate) unsafe fn write(&self, value: T) {
        // SAFETY: non-NULL and aligned (checked in `new`); writable by the
        // caller's contract; `write` never reads or drops the old contents.
        unsafe { self.0.write(value) }
    }
}

/// A struct the C side versions by its leading `size_t struct_size` field.
///
/// # Safety
/// Implementors are `#[repr(C)]`, start with `struct_size: usize`, and every
/// bit pattern of their bytes is a valid value (plain integers only).
pub(crate) unsafe trait Versioned {}

/// Reads a versioned config struct. A caller built against an older header
/// (smaller `struct_size`) is refused since every field is required; a newer
/// one (larger) is accepted when the bytes past the fields known here are zero,
/// i.e. it did not ask for anything this library cannot do.
///
/// # Safety
/// A non-NULL, aligned `config` must be readable for `struct_size` bytes.
pub(crate) unsafe fn read_config<T: Versioned + Copy>(
    config: *const T,
    name: &'static str,
) -> Result<T, Failure> {
    check_pointer(config, name)?;
    // SAFETY: T starts with a usize (trait contract) and config is aligned for T.
    let declared = unsafe { config.cast::<usize>().read() };
    check_size::<T>(declared, name)?;
    let known = size_of::<T>();
    if declared > known {
        // SAFETY: the caller vouches for `declared` readable bytes.
        let tail =
            unsafe { std::slice::from_raw_parts(config.cast::<u8>().add(known), declared - known) };
        if tail.iter().any(|&byte| byte != 0) {
            return Err(Failure::new(
                FgStatus::StructSize,
                format!("`{name}` sets fields past the {known} bytes this library knows"),
            ));
        }
    }
    // SAFETY: at least size_of::<T>() readable bytes (checked), aligned, and
    // any bit pattern is a valid T (trait contract).
    Ok(unsafe { config.read() })
}

/// A versioned struct the caller provides for the library to fill.
pub(crate) struct VersionedOut<T> {
    pointer: *mut T,
    declared: usize,
}

impl<T: Versioned> VersionedOut<T> {
    /// Checks the pointer and the `struct_size` the caller set in it.
    ///
    /// # Safety
    /// A non-NULL, aligned `config` must be readable for a `usize`.
    pub(crate) unsafe fn new(config: *mut T, name: &'static str) -> Result<Self, Failure> {
        check_pointer(config, name)?;
        // SAFETY: T starts with a usize (trait contract); checked non-NULL and aligned.
        let declared = unsafe { config.cast::<usize>().read() };
        check_size::<T>(declared, name)?;
        Ok(Self {
            pointer: config,
            declared,
        })
    }

    /// Stores `value` with the caller's own `struct_size`, and zeroes any bytes
    /// past it up to that size: to a newer caller, fields this library does
    /// not know read as "not set".
    ///
    /// # Safety
    /// The pointer must be writable for `struct_size` bytes (the export's contract).
    pub(crate) unsafe fn write(self, value: T) {
        let known = size_of::<T>();
        // SAFETY: checked non-NULL and aligned in `new`; the caller vouches for
        // `declared` (>= known, <= MAX_STRUCT_SIZE) writable bytes.
        unsafe {
            self.pointer.write(value);
            self.pointer.cast::<usize>().write(self.declared);
            self.pointer
                .cast::<u8>()
                .add(known)
                .write_bytes(0, self.declared - known);
        }
    }
}

fn check_size<T>(declared: usize, name: &'static str) -> Result<(), Failure> {
    let known = size_of::<T>();
    if declared < known || declared > MAX_STRUCT_SIZE {
        return Err(Failure::new(
            FgStatus::StructSize,
            format!("`{name}->struct_size` is {declared}; expected {known} (sizeof) up to {MAX_STRUCT_SIZE}"),
        ));
    }
    Ok(())
}
