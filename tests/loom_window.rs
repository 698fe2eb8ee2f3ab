//! Loom model checks of the sliding-window counter: checks and refunds
//! racing on its word, within a window, across a window boundary, and with
//! timestamps behind the counter's latest window while that window moves.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test --release --test loom_window`
#![cfg(loom)]

use floodgate::{Layer, LayerKey, ManualClock, SlidingWindow};
use loom::sync::Arc;
use loom::thread;
use std::time::Duration;

const WINDOW_NS: u64 = 1_000;

fn window(limit: u64) -> Arc<SlidingWindow<ManualClock>> {
    let window = SlidingWindow::builder(limit, Duration::from_nanos(WINDOW_NS))
        .clock(ManualClock::new())
        .build();
    Arc::new(window.unwrap())
}

#[test]
fn racing_checks_admit_exactly_the_limit_and_lose_no_count() {
    loom::model(|| {
        let counter = window(2);
        let others: Vec<_> = (0..2)
            .map(|_| {
                let counter = counter.clone();
                thread::spawn(move || counter.check_at(1, 10).is_admitted())
            })
            .collect();
        let mine = counter.check_at(1, 10).is_admitted();
        let admitted = others
            .into_iter()
            .map(|t| t.join().unwrap())
            .chain([mine])
            .filter(|&admitted| admitted)
            .count();
        assert_eq!(admitted, 2);
        assert_eq!(counter.peek_at(10).remaining(), 0);
    });
}

#[test]
fn checks_racing_across_a_window_boundary_keep_every_count() {
    loom::model(|| {
        let counter = window(4);
        assert!(counter.check_at(2, 900).is_admitted());
        let late = {
            let counter = counter.clone();
            // Half way into the next window: the 2 weigh 1.
            thread::spawn(move || counter.check_at(1, WINDOW_NS + 500).is_admitted())
        };
        let early = counter.check_at(1, 950).is_admitted();
        let late = late.join().unwrap();
        assert!(early && late);
        // Early first: window 0 holds 3 (weighing 1.5 at 500 in), window 1
        // holds 1. Late first: the early check, one window behind, counts in
        // window 1 from its start, so window 0 holds 2 (weighing 1) and
        // window 1 holds 2. Either way one whole request is left.
        assert_eq!(counter.peek_at(WINDOW_NS + 500).remaining(), 1);
    });
}

#[test]
fn a_refund_racing_a_check_loses_neither() {
    loom::model(|| {
        let counter = window(3);
        assert!(counter.check_at(3, 10).is_admitted());
        let refunder = {
            let counter = counter.clone();
            thread::spawn(move || counter.refund_at(1, 10))
        };
        let checked = counter.check_at(1, 10);
        refunder.join().unwrap();
        // Checked before the refund it is denied, after it admitted.
        let expected = if checked.is_admitted() { 0 } else { 1 };
        assert_eq!(counter.peek_at(10).remaining(), expected);
    });
}

#[test]
fn a_stale_check_racing_a_current_one_charges_the_current_window() {
    loom::model(|| {
        let counter = window(2);
        assert!(counter.check_at(2, 10).is_admitted());
        let stale = {
            let counter = counter.clone();
            thread::spawn(move || counter.check_at(1, 10).is_admitted())
        };
        // Two windows on: the 2 have expired.
        assert!(counter.check_at(1, 2 * WINDOW_NS + 10).is_admitted());
        let stale = stale.join().unwrap();
        // First, the stale check finds window 0 full. After the current
        // one moved the counter to window 2, it is decided at window 2's
        // start and charges window 2, which then holds both.
        let expected = if stale { 0 } else { 1 };
        assert_eq!(counter.peek_at(2 * WINDOW_NS + 10).remaining(), expected);
    });
}

#[test]
fn a_denial_moving_the_counter_on_racing_a_stale_check_loses_neither() {
    loom::model(|| {
        let counter = window(2);
        assert!(counter.check_at(1, 900).is_admitted());
        let denied = {
            let counter = counter.clone();
            // 100 ns into window 1 the 1 weighs 0.9: 2 more do not fit, but
            // the denial moves the counter's latest window to 1.
            thread::spawn(move || counter.check_at(2, WINDOW_NS + 100).is_admitted())
        };
        // Before the move it is charged to window 0, after it to window 1.
        let stale = counter.check_at(1, 950).is_admitted();
        assert!(!denied.join().unwrap());
        assert!(stale);
        // Either way both requests still weigh: 1.8 or 0.9 + 1.
        assert_eq!(counter.peek_at(WINDOW_NS + 100).remaining(), 0);
    });
}

#[test]
fn a_stale_check_racing_a_check_far_ahead_never_reads_its_word_as_old() {
    loom::model(|| {
        let counter = window(1);
        assert!(counter.check_at(1, 10).is_admitted());
        let stale = {
            let counter = counter.clone();
            thread::spawn(move || counter.check_at(1, 10).is_admitted())
        };
        // Five windows on: the 1 has expired.
        let ahead = counter.check_at(1, 5 * WINDOW_NS + 10).is_admitted();
        let stale = stale.join().unwrap();
        // Before the counter moves to window 5 the stale check finds window
        // 0 full; after, it is decided in window 5 and one of the two gets
        // its one slot. A stale check that saw the word of window 5 but
        // decided in window 0 would read it as expired and admit both.
        assert_eq!(u8::from(stale) + u8::from(ahead), 1);
        assert_eq!(counter.peek_at(5 * WINDOW_NS + 10).remaining(), 0);
    });
}

#[test]
fn a_stale_probe_racing_a_check_far_ahead_never_reads_its_word_as_old() {
    loom::model(|| {
        let counter = window(1);
        assert!(counter.check_at(1, 10).is_admitted());
        let probe = {
            let counter = counter.clone();
            thread::spawn(move || Layer::probe_at(&*counter, LayerKey::Unkeyed, 1, 10).unwrap())
        };
        // Five windows on: the 1 has expired, and this takes the slot again.
        assert!(counter.check_at(1, 5 * WINDOW_NS + 10).is_admitted());
        // Window 0 is full. The probe admits only in window 5 before the
        // slot is taken, decided at that window's start: its 1 would then be
        // gone two windows on. A probe that saw the word of window 5 but
        // read it from window 0 would find it expired and admit there.
        let probed = probe.join().unwrap();
        if probed.is_admitted() {
            assert_eq!(probed.reset_after_ns(), 7 * WINDOW_NS - 10);
        }
    });
}
