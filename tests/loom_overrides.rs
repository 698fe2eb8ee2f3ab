//! Loom model checks of per-key quotas: an override entry reused by another
//! key while a check of the entry's old key is in flight.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test --release --test loom_overrides`
#![cfg(loom)]

use floodgate::{FullTable, KeyedLimiter, ManualClock, Quota};
use loom::sync::Arc;
use loom::thread;

const NOW: u64 = 100_000_000_000;

fn quota(count: u64, burst: u64) -> Quota {
    Quota::per_second(count).unwrap().with_burst(burst).unwrap()
}

/// Key 1 loses its override and key 2's override takes over its entry (a
/// tombstone reused) while key 1 is checked. The check is decided wholly
/// under key 1's own quota or the default, and key 2's bucket never takes
/// key 1's charge.
///
/// Layout: three slots in one bucket, filled in key order, so key 1 is in
/// slot 0 and key 2 in slot 2; the override table has two entries (one
/// allowed override), and slots 0 and 2 both hash to entry 0.
#[test]
fn a_reused_override_entry_racing_a_check_of_its_old_key() {
    let default = quota(1, 4);
    let own = quota(2, 8);
    let other = quota(4, 16);
    loom::model(move || {
        let limiter: Arc<KeyedLimiter<u64, ManualClock>> = Arc::new(
            KeyedLimiter::<u64>::builder(default)
                .capacity(3)
                .max_overrides(1)
                .on_full(FullTable::Deny)
                .clock(ManualClock::new())
                .build()
                .unwrap(),
        );
        // Keys 1 and 3 hold debt, so neither slot is reclaimed for key 2.
        assert!(limiter.check_at(&1, 1, NOW).is_admitted());
        assert!(limiter.check_at(&3, 1, NOW).is_admitted());
        limiter.set_quota_at(&1, own, NOW).unwrap();
        let writer = {
            let limiter = limiter.clone();
            thread::spawn(move || {
                limiter.clear_quota_at(&1, NOW);
                limiter.set_quota_at(&2, other, NOW).unwrap();
            })
        };
        let checked = limiter.check_at(&1, 2, NOW);
        writer.join().unwrap();
        assert!(checked.is_admitted());
        // 1 used, then 2 more: under its own quota (8) before the clear,
        // or the default (4) after it.
        assert!(
            (checked.limit(), checked.remaining()) == (8, 5)
                || (checked.limit(), checked.remaining()) == (4, 1),
            "decided under no single quota: {checked:?}"
        );
        assert_eq!(limiter.quota_for(&1), default);
        assert_eq!(limiter.peek_at(&1, NOW).remaining(), 1);
        assert_eq!(limiter.quota_for(&2), other);
        assert_eq!(limiter.peek_at(&2, NOW).remaining(), 16);
    });
}
