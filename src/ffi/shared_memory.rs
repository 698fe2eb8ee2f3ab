//! `fg_shared_memory`: where a shared limiter's state lives (a named segment
//! or a file), as the `*_new_shared` functions take it.

use super::args::{self, Out, Versioned};
use super::status::{guard, Failure, FgStatus};
use crate::core::clock::{Clock, MonotonicClock};
use crate::shm::SharedMemory;
use std::ffi::c_char;
use std::sync::OnceLock;
use std::time::Duration;

/// Now, in nanoseconds on the machine's timeline: the clock every shared
/// handle reads (the CPU's counter scaled by one calibration every process
/// on the machine shares, kept in `/dev/shm/floodgate.timeline`; within
/// some 10 ppm of `CLOCK_MONOTONIC`). The time to pass to the `_at`
/// functions of shared handles, in every process alike. The first call in
/// a process may calibrate the counter for the whole machine (50 ms, once
/// per boot).
///
/// ```c
/// uint64_t now = fg_machine_now_ns();
/// fg_keyed_limiter_check_at(limiter, key, key_len, 1, now, &decision);
/// ```
#[no_mangle]
pub extern "C" fn fg_machine_now_ns() -> u64 {
    static MACHINE: OnceLock<MonotonicClock> = OnceLock::new();
    // A panic cannot happen here: the clock's first read only reads files
    // and the counter, and falls back to CLOCK_MONOTONIC on any failure.
    MACHINE.get_or_init(MonotonicClock::system).now_ns()
}

/// The segment a shared limiter lives in: set exactly one of `name` (the
/// file `/dev/shm/floodgate.<name>`) and `path` (any file every worker
/// process can open; a RAM-backed file system keeps checks off disk).
///
/// Every worker process creates its limiter with the same `_new_shared`
/// call and the same settings: the first creates the segment, the others
/// find it and check it holds what they asked for (kind, quota, capacity,
/// options), else `FG_STATUS_SEGMENT_MISMATCH` and `fg_last_error_message`
/// names the field that differs. The segment outlives the processes;
/// `fg_shared_memory_remove` deletes it.
///
/// A shared handle's own clock is the machine's timeline
/// (`fg_machine_now_ns`), so that every process charges it on one
/// timeline; its `_at` callers must all pass times from
/// `fg_machine_now_ns` too.
///
/// ```c
/// fg_shared_memory shm = { .struct_size = sizeof(fg_shared_memory),
///                          .name = "api-keys", .name_len = 8 };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgSharedMemory {
    /// `sizeof(fg_shared_memory)` as the caller compiled it.
    pub struct_size: usize,
    /// The segment's name: 1 to 200 ASCII letters, digits, '.', '_' or '-'
    /// (no NUL needed); NULL when `path` is set.
    pub name: *const c_char,
    /// The length of `name` in bytes.
    pub name_len: usize,
    /// The segment's file (UTF-8, no NUL needed, none inside); NULL when
    /// `name` is set.
    pub path: *const c_char,
    /// The length of `path` in bytes.
    pub path_len: usize,
    /// How long to wait, in milliseconds, for another process that is still
    /// creating the segment before `FG_STATUS_SEGMENT_NOT_READY`; 0 picks
    /// the default, 5000.
    pub wait_ms: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, integers and raw pointers only.
unsafe impl Versioned for FgSharedMemory {
    const MIN_SIZE: usize = std::mem::size_of::<FgSharedMemory>();
}

/// Reads the caller's `fg_shared_memory` into the segment it names.
///
/// # Safety
/// `shared` NULL or readable for its `struct_size`, naming a `name` or
/// `path` readable for its length.
pub(crate) unsafe fn read(shared: *const FgSharedMemory) -> Result<SharedMemory, Failure> {
    // SAFETY: readable for its struct_size, by the contract.
    let config = unsafe { args::read_config(shared, "shared") }?;
    let segment = match (config.name.is_null(), config.path.is_null()) {
        (false, true) => {
            // SAFETY: readable for name_len bytes, by the contract.
            let name = unsafe { args::text(config.name.cast(), config.name_len, "shared->name") }?;
            SharedMemory::named(name)?
        }
        (true, false) => {
            // SAFETY: readable for path_len bytes, by the contract.
            let path = unsafe { args::text(config.path.cast(), config.path_len, "shared->path") }?;
            if path.is_empty() || path.contains('\0') {
                return Err(Failure::new(
                    FgStatus::InvalidArgument,
                    "`shared->path` is empty or contains a NUL byte".to_string(),
                ));
            }
            SharedMemory::at(path)
        }
        _ => {
            return Err(Failure::new(
                FgStatus::InvalidArgument,
                "`shared` must set exactly one of name and path".to_string(),
            ))
        }
    };
    Ok(match config.wait_ms {
        0 => segment,
        wait_ms => segment.wait(Duration::from_millis(wait_ms)),
    })
}

/// The segment of a constructor that takes one (`Some`: a `_new_shared`
/// function's argument), read; `None` for the heap.
///
/// # Safety
/// As [`read`] for a `Some`.
pub(crate) unsafe fn read_if(
    shared: Option<*const FgSharedMemory>,
) -> Result<Option<SharedMemory>, Failure> {
    // SAFETY: this function's contract is `read`'s.
    shared.map(|shared| unsafe { read(shared) }).transpose()
}

/// The body of every `fg_*_is_shared`: stores `is_shared(object)` for the
/// object behind `handle` in `*out_shared`.
///
/// # Safety
/// `handle` NULL or pointing to a live `T`; `out_shared` NULL or writable
/// for a `bool`.
pub(crate) unsafe fn answer_is_shared<T>(
    function: &'static str,
    handle: *const T,
    name: &'static str,
    out_shared: *mut bool,
    is_shared: impl FnOnce(&T) -> bool,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let object = unsafe { args::handle(handle, name) }?;
        let out_shared = Out::new(out_shared, "out_shared")?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_shared.write(is_shared(object)) };
        Ok(())
    })
}

/// Deletes the segment `shared` names. Processes that have it open keep
/// using it; the next `_new_shared` call creates a new one. A segment that
/// does not exist is not an error (`wait_ms` is ignored).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_ARGUMENT` (both or neither
/// of `name` and `path`, an empty path or one with a NUL),
/// `FG_STATUS_INVALID_UTF8`, `FG_STATUS_INVALID_SEGMENT_NAME`,
/// `FG_STATUS_SEGMENT_IO` (the message gives the system's reason),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `shared` must be NULL or readable for its `struct_size`, its `name` or
/// `path` readable for its length.
#[no_mangle]
pub unsafe extern "C" fn fg_shared_memory_remove(shared: *const FgSharedMemory) -> FgStatus {
    guard("fg_shared_memory_remove", || {
        // SAFETY: this function's contract is `read`'s.
        Ok(unsafe { read(shared) }?.remove()?)
    })
}
