//! Loom model checks of the insert-only keyed map behind `KeyedWindows`,
//! `KeyedInFlight` and `Suspensions`: racing first checks of one key share
//! one cell, and two keys racing for the last slot never share one.
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
        KeyedWindows::with_clock(10, Duration::from_secs(1), capacity, ManualClock::new()).unwrap(),
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
