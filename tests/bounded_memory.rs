//! Reconfiguring never grows memory: a limiter's quota ring and a keyed
//! limiter's per-key quota table rewrite their quotas in place, however
//! many distinct quotas are installed. Allocations are counted by a global
//! allocator, per thread, so other tests' threads do not enter the count.

use floodgate::{KeyedLimiter, Limiter, ManualClock, Quota};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Bytes this thread allocated minus bytes it freed.
    static NET_BYTES: Cell<i64> = const { Cell::new(0) };
}

fn count(bytes: i64) {
    // A thread tearing down its locals is not one we measure.
    let _ = NET_BYTES.try_with(|net| net.set(net.get() + bytes));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter beside it allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64);
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64));
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn net_bytes() -> i64 {
    NET_BYTES.with(Cell::get)
}

/// A distinct, valid quota for every `i` below 10^9.
fn distinct(i: u64) -> Quota {
    Quota::per_second(1 + i % 1_000_000)
        .unwrap()
        .with_burst(1 + i / 1_000_000 + i % 7)
        .unwrap()
}

#[test]
fn a_million_reconfigurations_keep_memory_flat() {
    let limiter = Limiter::builder(distinct(0))
        .clock(ManualClock::new())
        .build();
    let start = net_bytes();
    for i in 1..=1_000_000 {
        // A second apart, so the bucket refills between checks.
        let now = i * 1_000_000_000;
        limiter.reconfigure_at(distinct(i), now);
        if i % 1_000 == 0 {
            assert!(limiter.check_at(1, now).is_admitted());
            let grown = net_bytes() - start;
            assert_eq!(grown, 0, "{grown} bytes more after {i} reconfigurations");
        }
    }
    assert_eq!(limiter.quota(), distinct(1_000_000));
}

#[test]
fn a_hundred_thousand_per_key_quotas_keep_memory_flat() {
    let keyed: KeyedLimiter<u64, ManualClock> = KeyedLimiter::<u64>::builder(distinct(0))
        .capacity(1 << 10)
        .max_overrides(64)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    keyed.set_quota(&0, distinct(1)).unwrap();
    let start = net_bytes();
    // Segments of the override table are allocated as keys first land in
    // them (where depends on the random key hash); all of them together,
    // 2 entries of 128 bytes per allowed override, are the most it may take.
    let table = 2 * 64 * 128;
    for i in 2..=100_000u64 {
        let key = i % 16;
        keyed.set_quota_at(&key, distinct(i), i).unwrap();
        let mut expected = distinct(i);
        if i % 97 == 0 {
            // Removal leaves a tombstone that the next new key reuses.
            keyed.clear_quota_at(&key, i);
            expected = distinct(0);
        }
        if i % 1_000 == 0 {
            assert_eq!(keyed.quota_for(&key), expected);
            let grown = net_bytes() - start;
            assert!(
                grown <= table,
                "{grown} bytes more after {i} per-key quotas"
            );
        }
    }
}
