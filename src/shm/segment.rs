//! Creating or opening a segment: one protocol for every process.
//!
//! Every process that builds a shared limiter does the same thing: open
//! (or create) the file, make it at least a header long, map the header,
//! and read its state.
//!
//! * **Unclaimed** (a new file): claim it with one CAS of the state word;
//!   the winner sizes the file, writes the header and the tables' first
//!   values, and publishes the state ready. Losers wait for ready.
//! * **Setting up** by a live process: wait for ready, at most
//!   [`SharedMemory::wait`](crate::SharedMemory::wait). By a process that
//!   has died: claim it from the dead one and set it up afresh (nothing in
//!   it was ever used).
//! * **Ready**: check every header field against this build's, map the
//!   tables, use them. Ready but from an earlier boot of the machine (a
//!   segment file kept on disk): its timestamps are on a clock that has
//!   restarted, so it is claimed and set up afresh like a new one.
//!
//! Files only ever grow (`posix_fallocate`), so no process can shrink a
//! segment another one has mapped; and allocating the pages up front means
//! a full /dev/shm fails the build with `ENOSPC`, not a later check with
//! `SIGBUS`.

use super::header::{Description, Header, Kind, State, HEADER_BYTES};
use super::{process, SharedMemory};
use crate::core::alloc::{Mapping, Place};
use crate::core::error::{Error, Result, SegmentMismatch, SegmentStep};
use std::fs::File;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a waiting opener looks at the state again.
const POLL: Duration = Duration::from_millis(1);

/// The tables `build` places, in the segment `shared` names: set up by
/// this process if it is the first, found in place otherwise. `build`
/// gets the place and the hash secret every process must key its hasher
/// with. `measure` places the same tables (the same kind built the same
/// way, any clock) on the heap, to learn their size: the layout is defined
/// only by the kind's one constructor both call.
pub(crate) fn open<T>(
    shared: &SharedMemory,
    description: &Description,
    measure: impl FnOnce(&mut Place) -> Result<()>,
    build: impl FnOnce(&mut Place, [u64; 4]) -> Result<T>,
) -> Result<T> {
    // Unkeyed kinds use 8-byte atomics only; keyed tables CAS 16-byte slots.
    let needs_pair_cas = ![Kind::Limiter, Kind::SlidingWindow, Kind::InFlight]
        .map(|kind| kind as u64)
        .contains(&description.kind);
    if !cfg!(unix) || (needs_pair_cas && !portable_atomic::AtomicU128::is_lock_free()) {
        return Err(Error::SharedUnsupported);
    }
    let size = {
        let mut place = Place::measure();
        measure(&mut place)?;
        place.used()
    };
    let total = HEADER_BYTES + size;
    let file = open_file(shared)?;
    grow(&file, HEADER_BYTES)?;
    let header_mapping = map(&file, HEADER_BYTES)?;
    // SAFETY: the mapping is at least `HEADER_BYTES` long and page
    // aligned, and `Header` is `HEADER_BYTES` of atomics (`Shareable`):
    // any bit pattern is a valid header, and other processes only touch
    // it atomically. The reference does not outlive `header_mapping`.
    let header = unsafe { &*header_mapping.as_ptr().cast::<Header>() };
    let boot = process::boot_id();
    let deadline = Instant::now() + shared.wait;
    loop {
        let state = header.state();
        let stale = match &state {
            State::Foreign => return Err(header.not_a_segment()),
            State::Unclaimed => true,
            State::SettingUp { pid } => !process::is_alive(*pid),
            State::Ready => header.boot() != boot,
        };
        if stale && header.claim(&state, process::id()) {
            return set_up(&file, header, description, total, boot, build);
        }
        if let (State::Ready, false) = (&state, stale) {
            header.check(description, size)?;
            let len = file
                .metadata()
                .map_err(|error| io_error(SegmentStep::Map, &error))?
                .len();
            if len < total as u64 {
                // Cut short by something other than floodgate.
                return Err(Error::SegmentMismatch(SegmentMismatch {
                    field: "size",
                    in_segment: len.saturating_sub(HEADER_BYTES as u64),
                    requested: size as u64,
                }));
            }
            let mapping = map(&file, total)?;
            return build(
                &mut Place::segment(mapping, HEADER_BYTES, false),
                header.secret(),
            );
        }
        if Instant::now() >= deadline {
            return Err(Error::SegmentNotReady);
        }
        std::thread::sleep(POLL);
    }
}

/// Writes a claimed segment's header and tables, then publishes it.
fn set_up<T>(
    file: &File,
    header: &Header,
    description: &Description,
    total: usize,
    boot: [u64; 2],
    build: impl FnOnce(&mut Place, [u64; 4]) -> Result<T>,
) -> Result<T> {
    grow(file, total)?;
    let mapping = map(file, total)?;
    let secret = crate::keyed::KeyHasher::random_secret();
    header.write(description, total - HEADER_BYTES, secret, boot);
    let built = build(&mut Place::segment(mapping, HEADER_BYTES, true), secret)?;
    header.publish();
    Ok(built)
}

fn open_file(shared: &SharedMemory) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        // Only the user who runs the service may read or change its limits.
        .mode(0o600)
        .open(&shared.path)
        .map_err(|error| io_error(SegmentStep::Open, &error))
}

/// Makes `file` at least `len` bytes, its pages allocated; never shrinks it.
fn grow(file: &File, len: usize) -> Result<()> {
    use std::os::fd::AsRawFd;
    let size_error = |errno| Error::SegmentIo {
        step: SegmentStep::Size,
        errno,
    };
    let len = libc::off_t::try_from(len).map_err(|_| size_error(libc::EFBIG))?;
    // SAFETY: `file` is an open descriptor for the call's duration;
    // posix_fallocate reads no memory of ours.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
        0 => Ok(()),
        // A file system that cannot allocate ahead: extend it the plain
        // way, only if it is shorter (never shrink a mapped segment).
        libc::EOPNOTSUPP | libc::EINVAL => {
            let current = file
                .metadata()
                .map_err(|error| io_error(SegmentStep::Size, &error))?
                .len();
            if current < len as u64 {
                file.set_len(len as u64)
                    .map_err(|error| io_error(SegmentStep::Size, &error))?;
            }
            Ok(())
        }
        errno => Err(size_error(errno)),
    }
}

fn map(file: &File, len: usize) -> Result<Mapping> {
    let mapping = memmap2::MmapOptions::new()
        .len(len)
        .map_raw(file)
        .map_err(|error| io_error(SegmentStep::Map, &error))?;
    crate::core::alloc::huge_pages(mapping.as_mut_ptr(), len);
    Ok(Arc::new(mapping))
}

fn io_error(step: SegmentStep, error: &std::io::Error) -> Error {
    Error::SegmentIo {
        step,
        errno: error.raw_os_error().unwrap_or(libc::EIO),
    }
}
