//! One writer at a time, across threads and processes: a word holding the
//! id of the process whose writer holds it.
//!
//! Reconfigurations and per-key quota changes take turns under this lock;
//! checks never touch it. A `Mutex` would do in one process, but a table in
//! a shared segment needs its lock in the segment too, and a process killed
//! while holding one must not leave it held: a writer that finds the lock
//! held by a process that no longer exists takes it over, and learns that
//! it did ([`WriterGuard::recovered`]) so it can finish what the dead
//! writer left half done.

use crate::core::alloc::Shareable;
use crate::sync::{AtomicU64, Backoff, Ordering};

/// The lock word's value when no writer holds it.
const FREE: u64 = 0;

pub(crate) struct WriterLock {
    owner: AtomicU64,
}

// SAFETY: one atomic integer: no pointer, no Drop.
unsafe impl Shareable for WriterLock {}

/// The right to write, until dropped.
pub(crate) struct WriterGuard<'a> {
    lock: &'a WriterLock,
    recovered: bool,
}

impl WriterLock {
    pub(crate) fn new() -> Self {
        Self {
            owner: AtomicU64::new(FREE),
        }
    }

    /// Waits until no live writer holds the lock, then holds it.
    pub(crate) fn lock(&self) -> WriterGuard<'_> {
        let me = u64::from(crate::shm::process::id());
        let backoff = Backoff::new();
        loop {
            // Acquire: what the previous writer did under the lock is
            // visible to this one. Relaxed on failure: only the holder's id.
            match self
                .owner
                .compare_exchange(FREE, me, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => {
                    return WriterGuard {
                        lock: self,
                        recovered: false,
                    }
                }
                Err(holder) if holder != me && !crate::shm::process::is_alive(holder) => {
                    // Acquire: as above, for whatever the dead writer did.
                    if self
                        .owner
                        .compare_exchange(holder, me, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        return WriterGuard {
                            lock: self,
                            recovered: true,
                        };
                    }
                }
                Err(_) => backoff.snooze(),
            }
        }
    }
}

impl WriterGuard<'_> {
    /// Whether the previous holder died holding the lock: what it was
    /// writing may be half done.
    pub(crate) fn recovered(&self) -> bool {
        self.recovered
    }
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        // Release: the next writer sees everything written under the lock.
        self.lock.owner.store(FREE, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_lock_held_by_a_dead_process_is_taken_over_and_says_so() {
        let lock = WriterLock::new();
        assert!(!lock.lock().recovered());
        // A pid no process has: above the kernel's largest (2^22).
        lock.owner.store(1 << 30, Ordering::Relaxed);
        let guard = lock.lock();
        assert!(guard.recovered());
        drop(guard);
        assert!(!lock.lock().recovered());
    }
}
