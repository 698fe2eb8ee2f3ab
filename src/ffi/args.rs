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

    /// The `index`th element of an output array starting here.
    ///
    /// # Safety
    /// The array must hold more than `index` elements (the export's contract).
    #[inline(always)]
    pub(crate) unsafe fn at(&self, index: usize) -> Self {
        // SAFETY: within the caller's array, by the contract.
        Self(unsafe { self.0.add(index) })
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
/// bit pattern of their bytes, all zeros included, is a valid value (plain
/// integers and raw pointers only).
pub(crate) unsafe trait Versioned: Copy {
    /// The struct's size in the first ABI version that had it: callers built
    /// against that header declare this much, and the fields added since
    /// read as zero ("not set") for them.
    const MIN_SIZE: usize;
}

/// Reads a versioned config struct. A caller built against an older header
/// (smaller `struct_size`, at least the struct's first size) gets zeros for
/// the fields added since; a newer one (larger) is accepted when the bytes
/// past the fields known here are zero, i.e. it did not ask for anything this
/// library cannot do.
///
/// # Safety
/// A non-NULL, aligned `config` must be readable for `struct_size` bytes.
pub(crate) unsafe fn read_config<T: Versioned>(
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
    let mut value = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: the caller vouches for `declared` readable bytes, of which the
    // first min(declared, known) fit in `value`; all zeros, and any bytes over
    // them, make a valid T (trait contract).
    unsafe {
        std::ptr::copy_nonoverlapping(
            config.cast::<u8>(),
            value.as_mut_ptr().cast::<u8>(),
            declared.min(known),
        );
        Ok(value.assume_init())
    }
}

/// Reads `count` versioned structs laid out as a C array: every element
/// declares the same `struct_size`, which is the array's stride, so a caller
/// built against an older or newer header steps through its own array.
///
/// # Safety
/// A non-NULL, aligned `array` must be readable for `count` elements of the
/// first element's `struct_size` bytes each.
pub(crate) unsafe fn read_config_array<T: Versioned>(
    array: *const T,
    count: usize,
    name: &'static str,
) -> Result<Vec<T>, Failure> {
    check_pointer(array, name)?;
    if count == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: T starts with a usize (trait contract); checked non-NULL and aligned.
    let stride = unsafe { array.cast::<usize>().read() };
    check_size::<T>(stride, name)?;
    (0..count)
        .map(|index| {
            // SAFETY: within the caller's array of `count` elements of `stride` bytes.
            let element = unsafe { array.cast::<u8>().add(index * stride) }.cast::<T>();
            // SAFETY: aligned (check_size: stride is a multiple of T's alignment),
            // readable by the contract.
            let declared = unsafe { element.cast::<usize>().read() };
            if declared != stride {
                return Err(Failure::new(
                    FgStatus::StructSize,
                    format!(
                        "`{name}[{index}].struct_size` is {declared}, `{name}[0]`'s is {stride}"
                    ),
                ));
            }
            // SAFETY: as above.
            unsafe { read_config(element, name) }
        })
        .collect()
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

    /// Stores as much of `value` as the caller's `struct_size` holds, keeps
    /// that `struct_size`, and zeroes any bytes past the fields this library
    /// knows: to a newer caller, they read as "not set".
    ///
    /// # Safety
    /// The pointer must be writable for `struct_size` bytes (the export's contract).
    pub(crate) unsafe fn write(self, value: T) {
        let known = size_of::<T>();
        let written = self.declared.min(known);
        // SAFETY: checked non-NULL and aligned in `new`; the caller vouches for
        // `declared` (>= T::MIN_SIZE, <= MAX_STRUCT_SIZE) writable bytes, of
        // which this writes the first `declared`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&value as *const T).cast::<u8>(),
                self.pointer.cast::<u8>(),
                written,
            );
            self.pointer.cast::<usize>().write(self.declared);
            self.pointer
                .cast::<u8>()
                .add(written)
                .write_bytes(0, self.declared - written);
        }
    }
}

/// Borrows a (pointer, length) byte string. NULL is accepted only with
/// length 0 (as the empty string); more than `PTRDIFF_MAX` bytes is refused.
///
/// # Safety
/// A non-NULL `bytes` must be readable for `len` bytes for as long as the
/// borrow is used.
#[inline(always)]
pub(crate) unsafe fn bytes<'a>(
    bytes: *const u8,
    len: usize,
    name: &'static str,
) -> Result<&'a [u8], Failure> {
    if bytes.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(null(name)) };
    }
    if len > isize::MAX as usize {
        return Err(too_long(name, len));
    }
    // SAFETY: non-NULL, at most isize::MAX bytes, readable by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(bytes, len) })
}

/// A caller's buffer of `capacity` bytes to write into, checked as
/// [`bytes`] checks what it reads: NULL only with a capacity of 0.
///
/// # Safety
/// A non-NULL `room` must be writable for `capacity` bytes, and no other
/// reference to them used, while the slice lives.
pub(crate) unsafe fn bytes_mut<'a>(
    room: *mut u8,
    capacity: usize,
    name: &'static str,
) -> Result<&'a mut [u8], Failure> {
    if room.is_null() {
        return if capacity == 0 {
            Ok(&mut [])
        } else {
            Err(null(name))
        };
    }
    if capacity > isize::MAX as usize {
        return Err(too_long(name, capacity));
    }
    // SAFETY: non-NULL, at most isize::MAX bytes, writable and not aliased
    // by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(room, capacity) })
}

#[cold]
#[inline(never)]
fn too_long(name: &'static str, len: usize) -> Failure {
    Failure::new(
        FgStatus::InvalidLength,
        format!("`{name}` length {len} exceeds PTRDIFF_MAX"),
    )
}

/// Borrows a (pointer, length) string that must be UTF-8 (names, templates).
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(
    pointer: *const u8,
    len: usize,
    name: &'static str,
) -> Result<&'a str, Failure> {
    // SAFETY: the caller's contract is `bytes`'.
    let raw = unsafe { bytes(pointer, len, name) }?;
    std::str::from_utf8(raw).map_err(|error| {
        Failure::new(
            FgStatus::InvalidUtf8,
            format!("`{name}` is not UTF-8 ({error})"),
        )
    })
}

/// Copies `text` and a terminating NUL into the caller's buffer of
/// `capacity` bytes and stores its length (without the NUL) in `*out_len`;
/// when it does not fit, stores the length needed and fails with
/// `FG_STATUS_BUFFER_TOO_SMALL`, writing nothing to the buffer.
///
/// # Safety
/// `buffer` must be NULL (then `capacity` must be 0) or writable for
/// `capacity` bytes; `out_len` NULL or writable for a `size_t`.
pub(crate) unsafe fn write_text(
    text: &str,
    buffer: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> Result<(), Failure> {
    let out_len = Out::new(out_len, "out_len")?;
    if buffer.is_null() && capacity != 0 {
        return Err(null("buffer"));
    }
    // SAFETY: checked non-NULL and aligned; writable by the contract.
    unsafe { out_len.write(text.len()) };
    if text.len() >= capacity {
        return Err(Failure::new(
            FgStatus::BufferTooSmall,
            format!(
                "the text is {} bytes; the buffer holds {capacity} (the text and a NUL need {})",
                text.len(),
                text.len() + 1
            ),
        ));
    }
    // SAFETY: non-NULL (capacity > text.len() >= 0) and writable for capacity
    // > text.len() bytes by the contract; a Rust string never overlaps it.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buffer, text.len());
        buffer.add(text.len()).write(0);
    }
    Ok(())
}

fn check_size<T: Versioned>(declared: usize, name: &'static str) -> Result<(), Failure> {
    // A size off the struct's alignment splits a field: no header declares it.
    let aligned = declared % std::mem::align_of::<T>() == 0;
    if declared < T::MIN_SIZE || declared > MAX_STRUCT_SIZE || !aligned {
        let (least, known) = (T::MIN_SIZE, size_of::<T>());
        return Err(Failure::new(
            FgStatus::StructSize,
            format!(
                "`{name}->struct_size` is {declared}; expected {known} (sizeof), \
                 or a multiple of {} from {least} to {MAX_STRUCT_SIZE}",
                std::mem::align_of::<T>()
            ),
        ));
    }
    Ok(())
}

/// A C `uint64_t` count as a `usize`, saturating: a capacity beyond `usize`
/// is beyond every table's maximum too, so it fails that check by name.
pub(crate) fn saturating_usize(count: u64) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}

/// An argument that holds none of its `FG_*` constants (or, for flags, bits
/// that none of them name).
#[cold]
pub(crate) fn unknown_constant(field: &'static str, value: u32) -> Failure {
    Failure::new(
        FgStatus::InvalidArgument,
        format!("`{field}` is {value}, not one of its FG_* constants"),
    )
}
