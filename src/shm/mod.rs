//! Shared mode: a limiter whose state lives in a file every worker process
//! of one host maps, so a limit holds across all of them.
//!
//! * `segment.rs`: how the first process creates a segment and the others
//!   open it (claim, set up, publish ready; wait, check, map).
//! * `header.rs`: the words before the tables that say what they hold.
//! * `process.rs`: process ids, liveness, the machine's boot.
//! * `timeline.rs`: the clock calibration every process on the machine shares.
//!
//! The tables themselves are each kind's own, placed by
//! [`core::alloc::Place`](crate::core::alloc) at the same offsets in every
//! process; nothing in a segment is a pointer.

pub(crate) mod header;
pub(crate) mod process;
pub(crate) mod segment;
pub(crate) mod timeline;

use crate::core::error::{Error, Result, SegmentStep};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a shared limiter's state lives: a segment file that every process
/// building the limiter with the same `SharedMemory` maps. Give it to a
/// kind's builder as `.shared(..)`.
///
/// The first process to build creates the segment; the others wait for it
/// to be ready (at most [`wait`](Self::wait)), check that they asked for
/// the same kind, quota, capacity and options
/// ([`Error::SegmentMismatch`] says what differs), and use it. The segment
/// outlives the processes (it holds the limits' state, which a restart
/// should keep): [`remove`](Self::remove) deletes it.
///
/// ```
/// use floodgate::{Limiter, Quota, SharedMemory};
/// let shared = SharedMemory::named(&format!("doc-{}", std::process::id()))?;
/// // In each worker process: the same build, the same segment.
/// let limiter = Limiter::builder(Quota::per_second(30)?).shared(shared.clone()).build()?;
/// let again = Limiter::builder(Quota::per_second(30)?).shared(shared.clone()).build()?;
/// assert!(limiter.check(30).is_admitted());
/// assert!(!again.check(1).is_admitted()); // one bucket
/// shared.remove()?;
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedMemory {
    path: PathBuf,
    wait: Duration,
}

/// Where [`SharedMemory::named`] puts segments: memory, not disk, on Linux.
const NAMED_DIR: &str = "/dev/shm";
const MAX_NAME_LEN: usize = 200;

impl SharedMemory {
    /// The segment `/dev/shm/floodgate.<name>`, for a name of 1 to 200
    /// ASCII letters, digits, `.`, `_` or `-`; otherwise
    /// [`Error::InvalidSegmentName`].
    ///
    /// ```
    /// use floodgate::{Error, SharedMemory};
    /// let shared = SharedMemory::named("api-keys")?;
    /// assert_eq!(shared.path().to_str(), Some("/dev/shm/floodgate.api-keys"));
    /// assert_eq!(SharedMemory::named("../etc").err(), Some(Error::InvalidSegmentName));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn named(name: &str) -> Result<Self> {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(valid) || name == ".."
        {
            return Err(Error::InvalidSegmentName);
        }
        Ok(Self::at(
            Path::new(NAMED_DIR).join(format!("floodgate.{name}")),
        ))
    }

    /// The segment in the file `path` (on any file system every process
    /// can reach; a RAM-backed one such as /dev/shm keeps checks off disk).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            wait: Duration::from_secs(5),
        }
    }

    /// How long a process waits for another to finish creating the segment
    /// (default 5 s) before [`Error::SegmentNotReady`].
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The segment's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the segment's file: processes that have it mapped keep
    /// using it, the next build creates a new one. A segment that does not
    /// exist is not an error.
    pub fn remove(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Error::SegmentIo {
                step: SegmentStep::Remove,
                errno: error.raw_os_error().unwrap_or(libc::EIO),
            }),
            _ => Ok(()),
        }
    }
}
