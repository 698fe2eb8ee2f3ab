//! The few facts about processes shared mode needs: who we are, whether
//! another process still runs, and which boot of the machine this is.

/// This process's id (never 0).
pub(crate) fn id() -> u32 {
    std::process::id()
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
    fn this_process_lives_and_an_unused_pid_does_not() {
        assert!(is_alive(u64::from(id())));
        assert!(!is_alive(1 << 30));
        assert!(!is_alive(u64::MAX));
    }
}
