//! The keyed limiter's memory is fixed at build time: a stream of new keys
//! many times its capacity reuses refilled slots instead of growing. Alone
//! in its own test binary, so no other test's allocations enter the count.
#![cfg(target_os = "linux")]

use floodgate::{KeyedLimiter, ManualClock, Quota};
use std::time::Duration;

/// Resident memory from /proc/self/status, whose `VmRSS` is in kB whatever
/// the page size.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

#[test]
fn memory_is_fixed_at_build_time() {
    let ids: KeyedLimiter<u64, ManualClock> =
        KeyedLimiter::<u64>::builder(Quota::per_second(1).unwrap())
            .capacity(1 << 16)
            .clock(ManualClock::new())
            .build()
            .unwrap();
    for key in 0..(1 << 15) {
        ids.check(&key, 1);
    }
    let before = resident_bytes();
    // Ten times the capacity in distinct keys, as buckets refill: no growth.
    for round in 0..20u64 {
        ids.clock().advance(Duration::from_secs(2));
        for key in 0..(1u64 << 15) {
            ids.check(&((round + 1) << 32 | key), 1);
        }
    }
    let grown = resident_bytes().saturating_sub(before);
    assert!(grown < 4 << 20, "resident memory grew by {grown} bytes");
    assert!(ids.len() <= ids.capacity());
}
