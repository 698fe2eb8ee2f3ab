//! Loom model checks of the keyed table's protocols: every interleaving of
//! keys racing into one slot, a reclaim racing a check of the slot's old
//! key, insertions of one new key racing each other (one bucket only), a
//! check of a live key while a duplicate claim of it is stalled for good,
//! and quota changes (reconfiguration sweeps, per-key quotas set and
//! cleared) racing checks and insertions. `u64` keys and byte keys (whose
//! fingerprint's second half lives outside the slot's 16-byte pair).
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test --release --test loom_keyed`
#![cfg(loom)]

use floodgate::{Decision, FullTable, Key, KeyedLimiter, ManualClock, Outcome, Quota};
use loom::sync::Arc;
use loom::thread;
use std::time::Duration;

const SECOND: u64 = 1_000_000_000;
const T1: u64 = 100 * SECOND;

fn limiter<K: Key + ?Sized>(
    per: Duration,
    burst: u64,
    capacity: usize,
) -> Arc<KeyedLimiter<K, ManualClock>> {
    let quota = Quota::new(1, per).unwrap().with_burst(burst).unwrap();
    Arc::new(
        KeyedLimiter::<K>::builder(quota)
            .capacity(capacity)
            .on_full(FullTable::Deny)
            .clock(ManualClock::new())
            .build()
            .unwrap(),
    )
}

fn check_on_thread(
    limiter: &Arc<KeyedLimiter<u64, ManualClock>>,
    key: u64,
    cost: u64,
    now: u64,
) -> thread::JoinHandle<bool> {
    let limiter = limiter.clone();
    thread::spawn(move || limiter.check_at(&key, cost, now).is_admitted())
}

/// Two new keys, one slot: one gets it, the other is refused as a full
/// table, and neither bucket holds the other's charge.
#[test]
fn two_keys_racing_into_one_slot() {
    loom::model(|| {
        let limiter = limiter::<u64>(Duration::from_secs(1), 2, 1);
        let other = check_on_thread(&limiter, 2, 2, T1);
        let mine = limiter.check_at(&1, 1, T1).is_admitted();
        let other = other.join().unwrap();
        assert!(mine != other, "exactly one key gets the slot");
        assert_eq!(limiter.full_table_events(), 1);
        assert_eq!(limiter.len(), 1);
        // The winner carries exactly its own cost; the loser nothing.
        assert_eq!(
            limiter.peek_at(&1, T1).remaining(),
            if mine { 1 } else { 2 }
        );
        assert_eq!(
            limiter.peek_at(&2, T1).remaining(),
            if other { 0 } else { 2 }
        );
    });
}

/// Key 1's refilled bucket is reclaimed by key 2 while key 1 is checked
/// again: whichever wins, key 2 is never charged for key 1 or vice versa.
#[test]
fn reclaim_racing_a_check_of_the_old_key() {
    loom::model(|| {
        let limiter = limiter::<u64>(Duration::from_secs(1), 2, 1);
        assert!(limiter.check_at(&1, 1, T1 - SECOND).is_admitted());
        let newcomer = check_on_thread(&limiter, 2, 2, T1);
        let old = limiter.check_at(&1, 1, T1).is_admitted();
        let newcomer = newcomer.join().unwrap();
        assert!(old != newcomer, "one slot, one winner");
        assert_eq!(limiter.peek_at(&1, T1).remaining(), if old { 1 } else { 2 });
        assert_eq!(
            limiter.peek_at(&2, T1).remaining(),
            if newcomer { 0 } else { 2 }
        );
        assert_eq!(limiter.len(), 1);
    });
}

/// The ABA case: key 1's check read a full word; meanwhile key 2 reclaims
/// the slot, is charged and refunded back to the very same bits. Key 1's
/// CAS must still fail (the pair's tag differs): key 2 ends full, and key 1
/// is charged only in a bucket of its own.
#[test]
fn a_reused_slot_with_identical_bits_is_not_charged() {
    loom::model(|| {
        let limiter = limiter::<u64>(Duration::from_secs(1), 2, 1);
        // Key 1's word now has tat = T1: full at T1, bits that key 2's
        // bucket also has after a charge and refund at T1.
        assert!(limiter.check_at(&1, 1, T1 - SECOND).is_admitted());
        let newcomer = {
            let limiter = limiter.clone();
            thread::spawn(move || {
                limiter.check_at(&2, 1, T1);
                limiter.refund_at(&2, 1, T1);
            })
        };
        let old = limiter.check_at(&1, 1, T1).is_admitted();
        newcomer.join().unwrap();
        assert_eq!(limiter.peek_at(&2, T1).remaining(), 2);
        assert_eq!(limiter.peek_at(&1, T1).remaining(), if old { 1 } else { 2 });
        // One slot, held throughout: reclaims and publications cancel out.
        assert_eq!(limiter.len(), 1);
    });
}

/// Two threads insert one new key into a two-slot window at once: one
/// bucket takes both charges, so a burst of 1 admits exactly one.
#[test]
fn insert_racing_insert_of_the_same_key() {
    loom::model(|| {
        let limiter = limiter::<u64>(Duration::from_secs(1), 1, 2);
        let other = check_on_thread(&limiter, 7, 1, T1);
        let mine = limiter.check_at(&7, 1, T1).is_admitted();
        let other = other.join().unwrap();
        assert!(mine != other, "one bucket for one key");
        assert_eq!(limiter.len(), 1);
        assert_eq!(limiter.peek_at(&7, T1).remaining(), 0);
    });
}

/// Two insertions of one new key that see the table differently: at the
/// later time, an old key's bucket has refilled and its slot may be reused;
/// at the earlier time it is still in debt, so the insertion looks further.
/// The claim protocol must still leave one bucket, which admits one of the
/// two costs (the other does not fit). Several keys, so that for some the
/// reclaimable slot comes first in the window.
fn insertions_that_pick_different_vacancies_make_one_bucket<K: ModelKey + ?Sized>(
    old: &'static K,
    new_keys: &[&'static K],
) {
    for &key in new_keys {
        loom::model(move || {
            let limiter = limiter::<K>(Duration::from_secs(10), 2, 2);
            // The old key owes 10 s at T1 - 10 s: in debt at T1 - 5 s, full at T1.
            assert!(K::check(&limiter, old, 1, T1 - 10 * SECOND).is_admitted());
            let late = {
                let limiter = limiter.clone();
                thread::spawn(move || K::check(&limiter, key, 2, T1).is_admitted())
            };
            let early = K::check(&limiter, key, 2, T1 - 5 * SECOND).is_admitted();
            let late = late.join().unwrap();
            assert!(early != late, "one bucket admits one");
            let peeked = K::check(&limiter, key, 0, T1);
            assert_eq!(peeked.outcome(), Outcome::Admitted);
            assert_eq!(peeked.remaining(), 0);
            // The new key's bucket, and the old key's unless it was reclaimed.
            assert!((1..=2).contains(&limiter.len()), "{}", limiter.len());
        });
    }
}

#[test]
fn insertions_that_pick_different_vacancies_make_one_bucket_of_u64_keys() {
    insertions_that_pick_different_vacancies_make_one_bucket::<u64>(&1, &[&2, &3, &4, &5]);
}

/// For byte keys the winning claim also reuses the old key's extra half.
#[test]
fn insertions_that_pick_different_vacancies_make_one_bucket_of_byte_keys() {
    insertions_that_pick_different_vacancies_make_one_bucket::<str>("old", &["new"]);
}

/// A per-key quota set while the key is checked: the check is decided in
/// exactly one quota's units, and the override is never lost.
#[test]
fn override_racing_a_check() {
    loom::model(|| {
        let limiter = limiter::<u64>(Duration::from_secs(1), 2, 2);
        assert!(limiter.check_at(&1, 1, T1).is_admitted());
        let setter = {
            let limiter = limiter.clone();
            thread::spawn(move || {
                let own = Quota::per_second(10).unwrap().with_burst(10).unwrap();
                limiter.set_quota_at(&1, own, T1).unwrap();
            })
        };
        let checked = limiter.check_at(&1, 1, T1);
        setter.join().unwrap();
        assert!(checked.is_admitted());
        // Two requests used, whichever quota each was counted in.
        assert_eq!(limiter.peek_at(&1, T1).remaining(), 8);
        assert_eq!(limiter.quota_for(&1).burst(), 10);
    });
}

/// The calls these models make, for both kinds of key.
trait ModelKey: Key + Sync + 'static {
    fn check(
        limiter: &KeyedLimiter<Self, ManualClock>,
        key: &Self,
        cost: u64,
        now: u64,
    ) -> Decision;
    fn stall_an_insertion(limiter: &KeyedLimiter<Self, ManualClock>, key: &Self, now: u64);
}

impl ModelKey for u64 {
    fn check(limiter: &KeyedLimiter<u64, ManualClock>, key: &u64, cost: u64, now: u64) -> Decision {
        limiter.check_at(key, cost, now)
    }
    fn stall_an_insertion(limiter: &KeyedLimiter<u64, ManualClock>, key: &u64, now: u64) {
        limiter.stall_an_insertion_at(key, now)
    }
}

impl ModelKey for str {
    fn check(limiter: &KeyedLimiter<str, ManualClock>, key: &str, cost: u64, now: u64) -> Decision {
        limiter.check_at(key, cost, now).unwrap()
    }
    fn stall_an_insertion(limiter: &KeyedLimiter<str, ManualClock>, key: &str, now: u64) {
        limiter.stall_an_insertion_at(key, now).unwrap()
    }
}

/// Key `live` is in slot 1, behind key `old`'s bucket in slot 0, which has
/// refilled by T1. An inserter that looked before `live` was published
/// claims slot 0 for `live` and is never scheduled again. A check of
/// `live` must still complete, on its live bucket, whatever the order.
fn a_stalled_duplicate_claim_does_not_block_checks<K: ModelKey + ?Sized>(
    old: &'static K,
    live: &'static K,
) {
    loom::model(move || {
        let limiter = limiter::<K>(Duration::from_secs(1), 2, 2);
        assert!(K::check(&limiter, old, 1, T1 - SECOND).is_admitted());
        assert!(K::check(&limiter, live, 1, T1 - SECOND).is_admitted());
        let stalled = {
            let limiter = limiter.clone();
            thread::spawn(move || K::stall_an_insertion(&limiter, live, T1))
        };
        let checked = K::check(&limiter, live, 1, T1);
        stalled.join().unwrap();
        assert!(checked.is_admitted());
        assert_eq!(checked.remaining(), 1);
        assert_eq!(K::check(&limiter, live, 0, T1).remaining(), 1);
    });
}

#[test]
fn a_stalled_duplicate_claim_does_not_block_checks_of_u64_keys() {
    a_stalled_duplicate_claim_does_not_block_checks::<u64>(&1, &7);
}

#[test]
fn a_stalled_duplicate_claim_does_not_block_checks_of_byte_keys() {
    a_stalled_duplicate_claim_does_not_block_checks::<str>("old", "live");
}

/// As `insert_racing_insert_of_the_same_key`, for a byte key: the
/// fingerprint's second half is stored beside the pair and must be visible
/// to every thread that finds the published bucket.
#[test]
fn insert_racing_insert_of_the_same_byte_key() {
    loom::model(|| {
        let limiter = limiter::<str>(Duration::from_secs(1), 1, 2);
        let other = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.check_at("tenant", 1, T1).unwrap().is_admitted())
        };
        let mine = limiter.check_at("tenant", 1, T1).unwrap().is_admitted();
        let other = other.join().unwrap();
        assert!(mine != other, "one bucket for one key");
        assert_eq!(limiter.len(), 1);
        assert_eq!(limiter.peek_at("tenant", T1).unwrap().remaining(), 0);
    });
}

/// The default quota (1/s, burst 2) is replaced by 2/s, burst 4, while a
/// key that has used one request is charged another: whichever goes first,
/// two requests are used, in the new quota's units.
#[test]
fn reconfigure_racing_a_check() {
    loom::model(|| {
        let limiter = limiter::<u64>(Duration::from_secs(1), 2, 2);
        assert!(limiter.check_at(&1, 1, T1).is_admitted());
        let new = Quota::per_second(2).unwrap().with_burst(4).unwrap();
        let reconfigure = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.reconfigure_at(new, T1))
        };
        let checked = limiter.check_at(&1, 1, T1);
        reconfigure.join().unwrap();
        assert!(checked.is_admitted());
        assert_eq!(limiter.default_quota(), new);
        assert_eq!(limiter.peek_at(&1, T1).remaining(), 2);
    });
}

/// A new key is inserted while the default quota changes: the sweep moves
/// its vacancy, its pending claim or its bucket across, so it ends with one
/// request used in the new quota, in one bucket.
#[test]
fn reconfigure_racing_an_insert_of_a_new_key() {
    loom::model(|| {
        let limiter = limiter::<u64>(Duration::from_secs(1), 2, 2);
        let new = Quota::per_second(2).unwrap().with_burst(4).unwrap();
        let reconfigure = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.reconfigure_at(new, T1))
        };
        assert!(limiter.check_at(&5, 1, T1).is_admitted());
        reconfigure.join().unwrap();
        assert_eq!(limiter.len(), 1);
        assert_eq!(limiter.peek_at(&5, T1).remaining(), 3);
    });
}

/// A key's own quota (10/s, burst 10) is cleared while the key is checked:
/// the check is counted in exactly one quota, and the key ends with two
/// requests used of the default burst of 2.
#[test]
fn clear_quota_racing_a_check() {
    loom::model(|| {
        let limiter = limiter::<u64>(Duration::from_secs(1), 2, 2);
        let own = Quota::per_second(10).unwrap().with_burst(10).unwrap();
        limiter.set_quota_at(&1, own, T1).unwrap();
        assert!(limiter.check_at(&1, 1, T1).is_admitted());
        let clear = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.clear_quota_at(&1, T1))
        };
        let checked = limiter.check_at(&1, 1, T1);
        clear.join().unwrap();
        assert!(checked.is_admitted());
        assert_eq!(limiter.quota_for(&1), limiter.default_quota());
        assert_eq!(limiter.peek_at(&1, T1).remaining(), 0);
    });
}
