//! Loom model checks of the insert-only keyed map behind `KeyedWindows`
//! and `Suspensions`: racing first checks of one key share
//! one cell, two keys racing for the last slot never share one, a lookup
//! racing another key's claim never reads its cell, and a key's
//! stale check racing a later one of the same key sees its window.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test --release --test loom_keyed_cells`
#![cfg(loom)]

use floodgate::{KeyedWindows, ManualClock, Outcome};
use loom::sync::Arc;
use loom::thread;
use std::time::Duration;

fn windows(capacity: usize) -> Arc<KeyedWindows<u64, ManualClock>> {
    Arc::new(
        KeyedWindows::<u64>::builder(10, Duration::from_secs(1))
            .capacity(capacity)
            .clock(ManualClock::new())
            .build()
            .unwrap(),
    )
}

#[test]
fn racing_first_checks_of_one_key_share_one_window() {
    loom::model(|| {
        let table = windows(4);
        let other = {
            let table = table.clone();
            thread::spawn(move || table.check_at(&7, 3, 0).is_admitted())
        };
        assert!(table.check_at(&7, 2, 0).is_admitted());
        assert!(other.join().unwrap());
        assert_eq!(table.len(), 1);
        assert_eq!(table.peek_at(&7, 0).remaining(), 5);
    });
}

#[test]
fn two_keys_racing_for_the_last_slot_never_share_it() {
    loom::model(|| {
        let table = windows(1);
        let other = {
            let table = table.clone();
            thread::spawn(move || table.check_at(&1, 10, 0).outcome())
        };
        let mine = table.check_at(&2, 10, 0).outcome();
        let theirs = other.join().unwrap();
        // One key got the slot and its full window; the other was refused
        // by the full table and charged nothing anywhere.
        let mut outcomes = [mine, theirs];
        outcomes.sort_by_key(|outcome| *outcome == Outcome::Denied);
        assert_eq!(outcomes, [Outcome::Admitted, Outcome::Denied]);
        assert_eq!((table.len(), table.full_table_events()), (1, 1));
        let winner = if mine == Outcome::Admitted { 2 } else { 1 };
        assert_eq!(table.peek_at(&winner, 0).remaining(), 0);
    });
}

#[test]
fn a_keys_stale_check_racing_its_later_one_never_admits_both() {
    loom::model(|| {
        let table = windows(2);
        assert!(table.check_at(&7, 10, 0).is_admitted());
        let stale = {
            let table = table.clone();
            thread::spawn(move || table.check_at(&7, 1, 0).is_admitted())
        };
        // Five 1 s windows on: the 10 have expired.
        let later = table.check_at(&7, 10, 5_000_000_000).is_admitted();
        let stale = stale.join().unwrap();
        // The stale check finds window 0 full, or is decided in the key's
        // window 5, where the two do not both fit.
        assert_eq!(u8::from(stale) + u8::from(later), 1);
        let left = if stale { 9 } else { 0 };
        assert_eq!(table.peek_at(&7, 5_000_000_000).remaining(), left);
    });
}

#[test]
fn a_lookup_racing_another_keys_claim_never_reads_its_window() {
    loom::model(|| {
        // Two slots: both keys' probe runs cover both.
        let table = windows(2);
        let claimer = {
            let table = table.clone();
            thread::spawn(move || table.check_at(&1, 10, 0).is_admitted())
        };
        // Key 2's lookups (no insert, then an insert) meet key 1's slot
        // free or claimed, and never take it for their own.
        assert_eq!(table.peek_at(&2, 0).remaining(), 10);
        assert!(table.check_at(&2, 4, 0).is_admitted());
        assert!(claimer.join().unwrap());
        assert_eq!(table.peek_at(&1, 0).remaining(), 0);
        assert_eq!(table.peek_at(&2, 0).remaining(), 6);
        assert_eq!(table.len(), 2);
    });
}
