//! A denial the deny cache answers allocates nothing and sends nothing.
//! Allocations are counted per thread by a global allocator, so the
//! store's runtime thread does not enter the count.

mod redis_common;

use floodgate::store::{OnFailure, RedisLimiter, RedisStore};
use floodgate::{Outcome, Quota};
use redis_common::RedisServer;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

struct Counting;

thread_local! {
    /// Allocations this thread made.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter beside it allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // A thread tearing down its locals is not one we measure.
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn a_cached_denial_allocates_nothing() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let limiter = RedisLimiter::builder(&store, Quota::per_hour(1).unwrap())
        .deadline(Duration::from_secs(10))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    assert!(limiter.check("cached", 1).unwrap().is_admitted());
    assert_eq!(
        limiter.check("cached", 1).unwrap().outcome(),
        Outcome::Denied
    );
    let before = allocations();
    for _ in 0..1_000 {
        assert_eq!(
            limiter.check("cached", 1).unwrap().outcome(),
            Outcome::Denied
        );
    }
    assert_eq!(allocations() - before, 0);
    let counters = limiter.counters();
    assert_eq!((counters.exact, counters.cached), (2, 1_000));
}
