//! A capacity that passes validation but cannot be allocated is refused with
//! `Error::AllocationFailed`, never by aborting the process.
//!
//! Linux overcommits: a huge allocation may succeed lazily, or (on a machine
//! with that much memory) really succeed. So this binary first caps its own
//! address space with `RLIMIT_AS`, which makes every allocation past the cap
//! fail on any machine. It holds this one test so the cap touches nothing else.
#![cfg(target_os = "linux")]

use floodgate::{
    Error, KeyedInFlight, KeyedLimiter, KeyedWindows, Quota, Suspensions, MAX_KEYED_CAPACITY,
    MAX_KEYED_CELLS,
};
use std::time::Duration;

/// `struct rlimit` on Linux: `rlim_t` is an unsigned long.
#[repr(C)]
struct Rlimit {
    current: u64,
    max: u64,
}

/// `RLIMIT_AS` on every Linux architecture Rust supports.
const RLIMIT_AS: i32 = 9;

extern "C" {
    fn setrlimit(resource: i32, limit: *const Rlimit) -> i32;
}

/// The address space this process has mapped now, in bytes.
fn mapped_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmSize:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in /proc/self/status");
    kib * 1024
}

#[test]
fn capacities_the_allocator_refuses_are_errors() {
    // Room for the harness and this test, not for any table below (the
    // smallest asks for 2 GiB).
    let cap = Rlimit {
        current: mapped_bytes() + (1 << 30),
        max: u64::MAX, // RLIM_INFINITY: only the soft limit moves
    };
    // SAFETY: `setrlimit` reads one valid `struct rlimit` and changes only
    // this process's limit.
    assert_eq!(unsafe { setrlimit(RLIMIT_AS, &cap) }, 0, "setrlimit failed");

    let quota = Quota::per_second(10).unwrap();
    let huge = KeyedLimiter::<str>::builder(quota)
        .capacity(MAX_KEYED_CAPACITY)
        .build();
    let slots = MAX_KEYED_CAPACITY * 16; // the first table: one pair per slot
    assert_eq!(huge.err(), Some(Error::AllocationFailed { bytes: slots }));
    assert_eq!(
        Error::AllocationFailed { bytes: slots }.to_string(),
        "could not allocate 68719476736 bytes for a table of the requested capacity"
    );
    // Slots hold their values inline: a 16-byte key identity and the
    // value, 16-byte aligned.
    let refused = |slot_bytes: usize| {
        Some(Error::AllocationFailed {
            bytes: MAX_KEYED_CELLS * slot_bytes,
        })
    };
    let minute = Duration::from_secs(60);
    assert_eq!(
        KeyedWindows::<u64>::builder(600, minute)
            .capacity(MAX_KEYED_CELLS)
            .build()
            .err(),
        refused(48) // three counter words
    );
    assert_eq!(
        Suspensions::<str>::builder()
            .capacity(MAX_KEYED_CELLS)
            .build()
            .err(),
        refused(32) // one word
    );
    assert_eq!(
        KeyedInFlight::<u64>::builder(4)
            .capacity(MAX_KEYED_CELLS)
            .build()
            .err(),
        refused(8) // one pointer per slot
    );
}
