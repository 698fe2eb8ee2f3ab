//! The few facts about processes shared mode needs: who we are, whether
//! another process still runs, and which boot of the machine this is.

/// This process's id (never 0), without a system call once known: an
/// in-flight permit records it at every acquire. A forked child forgets
/// its parent's (the fork handler below), so it never claims in its
/// parent's name.
pub(crate) fn id() -> u32 {
    use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
    // Relaxed: the cache holds this process's own id or 0, nothing else
    // hangs on it.
    let cached = CACHED_ID.load(Relaxed);
    if cached != 0 {
        return cached;
    }
    let id = std::process::id();
    // Acquire: a registered handler is seen with its registration done.
    // Relaxed on failure: another thread registers (or did); never wait
    // for it (a child forked mid-registration would wait forever).
    if FORK_HANDLER
        .compare_exchange(UNREGISTERED, REGISTERING, Acquire, Relaxed)
        .is_ok()
    {
        // SAFETY: `forget_id` is an `extern "C" fn()` that only stores to
        // an atomic, which is async-signal-safe as a fork handler must be.
        let done = unsafe { libc::pthread_atfork(None, None, Some(forget_id)) } == 0;
        // Release: publishes the registration before any id is cached.
        FORK_HANDLER.store(if done { REGISTERED } else { REFUSED }, Release);
    }
    // Acquire: pairs with the Release above. Only with the handler in
    // place may a fork copy a cached id: the handler clears it in the child.
    if FORK_HANDLER.load(Acquire) == REGISTERED {
        CACHED_ID.store(id, Relaxed);
    }
    id
}

/// Plain std atomics: they cache a fact about the process and take part
/// in no protocol loom checks.
static CACHED_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static FORK_HANDLER: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(UNREGISTERED);
const UNREGISTERED: u8 = 0;
const REGISTERING: u8 = 1;
const REGISTERED: u8 = 2;
/// `pthread_atfork` failed: the id is read anew each time.
const REFUSED: u8 = 3;

extern "C" fn forget_id() {
    // Relaxed: the child's only thread reads it next.
    CACHED_ID.store(0, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the process `pid` still exists. A pid the kernel has since
/// given to a new process reads as alive: a claim or lock of the dead one
/// then waits for the new one to exit, which delays but never corrupts.
pub(crate) fn is_alive(pid: u64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only asks whether `pid` exists and may be signalled;
    // nothing is sent and no memory is passed.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    // EPERM: it exists, but belongs to another user.
    found || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Two words that differ between boots of this machine (Linux's boot id),
/// or zeros where the system has none. `CLOCK_MONOTONIC` restarts at each
/// boot, so a segment's timestamps mean nothing in a later one.
pub(crate) fn boot_id() -> [u64; 2] {
    let Ok(text) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id") else {
        return [0; 2];
    };
    let hex: String = text.chars().filter(char::is_ascii_hexdigit).collect();
    let half = |range: std::ops::Range<usize>| {
        hex.get(range)
            .and_then(|digits| u64::from_str_radix(digits, 16).ok())
            .unwrap_or(0)
    };
    [half(0..16), half(16..32)]
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_forked_child_has_its_own_id_not_the_cached_one() {
        let parent = id();
        assert_eq!(id(), parent);
        let mut pipe = [0; 2];
        // SAFETY: `pipe` is two writable ints for the call.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        // SAFETY: the child only calls `id` (an atomic load, getpid and an
        // atomic store), `write` and `kill`, all safe after fork in a
        // threaded process.
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            let own = [u8::from(id() != parent && id() == std::process::id())];
            // SAFETY: writes one byte from `own` to the pipe, then ends the
            // child by SIGKILL: at once, running no destructor and no exit
            // handler (under valgrind, no leak check of the memory the
            // parent's other threads held, which the child cannot free).
            unsafe {
                libc::write(pipe[1], own.as_ptr().cast(), 1);
                libc::kill(libc::getpid(), libc::SIGKILL);
                libc::_exit(1); // not reached: SIGKILL cannot be caught
            }
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked; `status` outlives the call.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        let mut own = [0u8];
        // SAFETY: reads at most one byte into `own`; the child wrote it
        // before it died.
        let read = unsafe { libc::read(pipe[0], own.as_mut_ptr().cast(), 1) };
        assert_eq!(read, 1);
        // SAFETY: closes the two ends this test opened.
        unsafe {
            libc::close(pipe[0]);
            libc::close(pipe[1]);
        }
        assert_eq!(own, [1], "the child read its parent's cached id");
    }

    #[test]
    fn this_process_lives_and_an_unused_pid_does_not() {
        assert!(is_alive(u64::from(id())));
        assert!(!is_alive(1 << 30));
        assert!(!is_alive(u64::MAX));
    }
}
