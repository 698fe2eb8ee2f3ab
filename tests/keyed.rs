//! The keyed limiter's public behaviour: key kinds, bad keys, full tables,
//! reclamation, per-key quotas, reconfiguration, and memory bounds.

use floodgate::{Error, FullTable, KeyedLimiter, ManualClock, Outcome, Quota, MAX_KEY_LEN};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

const SECOND: u64 = 1_000_000_000;

fn quota(per_second: u64, burst: u64) -> Quota {
    Quota::per_second(per_second)
        .unwrap()
        .with_burst(burst)
        .unwrap()
}

fn limiter<K: floodgate::Key + ?Sized>(
    quota: Quota,
    capacity: usize,
    on_full: FullTable,
) -> KeyedLimiter<K, ManualClock> {
    KeyedLimiter::<K>::builder(quota)
        .capacity(capacity)
        .on_full(on_full)
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

#[test]
fn every_key_kind_gets_its_own_bucket() {
    let ids = limiter::<u64>(quota(1, 2), 64, FullTable::Deny);
    for key in [0, 1, u64::MAX] {
        assert!(ids.check(&key, 2).is_admitted());
        assert_eq!(ids.check(&key, 1).outcome(), Outcome::Denied);
    }
    assert_eq!(ids.len(), 3);

    let tokens = limiter::<str>(quota(1, 2), 64, FullTable::Deny);
    let owned = String::from("tok_a");
    assert!(tokens.check(&owned, 2).unwrap().is_admitted());
    assert!(!tokens.check("tok_a", 1).unwrap().is_admitted());
    assert!(tokens.check("tok_b", 1).unwrap().is_admitted());

    let bytes = limiter::<[u8]>(quota(1, 1), 64, FullTable::Deny);
    assert!(bytes.check(b"\x00\xff", 1).unwrap().is_admitted());
    assert!(!bytes.check(&[0, 255], 1).unwrap().is_admitted());

    let ips = limiter::<IpAddr>(quota(1, 1), 64, FullTable::Deny);
    let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    assert!(ips.check(&v4, 1).is_admitted());
    assert!(ips.check(&v6, 1).is_admitted());
    assert!(!ips.check(&v4, 1).is_admitted());
    assert_eq!(ips.len(), 2);
}

#[test]
fn bad_keys_are_typed_errors_and_change_nothing() {
    let tokens = limiter::<str>(quota(1, 1), 8, FullTable::Deny);
    let long = "k".repeat(MAX_KEY_LEN + 1);
    assert_eq!(tokens.check("", 1), Err(Error::EmptyKey));
    assert_eq!(tokens.check(&long, 1), Err(Error::KeyTooLong));
    assert_eq!(tokens.peek(""), Err(Error::EmptyKey));
    assert_eq!(tokens.refund(&long, 1), Err(Error::KeyTooLong));
    assert_eq!(tokens.set_quota("", quota(5, 5)), Err(Error::EmptyKey));
    assert_eq!(tokens.clear_quota(&long), Err(Error::KeyTooLong));
    assert_eq!(tokens.quota_for(""), Err(Error::EmptyKey));
    assert!(tokens.is_empty());
    assert!(tokens.check(&long[..MAX_KEY_LEN], 1).unwrap().is_admitted());
}

#[test]
fn zero_and_oversized_capacity_are_refused() {
    let build = |capacity| {
        KeyedLimiter::<u64>::builder(quota(1, 1))
            .capacity(capacity)
            .build()
            .err()
    };
    assert_eq!(build(0), Some(Error::ZeroCapacity));
    assert_eq!(
        build(floodgate::MAX_KEYED_CAPACITY + 1),
        Some(Error::CapacityTooLarge)
    );
}

#[test]
fn peeks_refunds_and_unfit_costs_store_nothing() {
    let ids = limiter::<u64>(quota(1, 3), 8, FullTable::Deny);
    assert_eq!(ids.peek(&1).remaining(), 3);
    assert_eq!(ids.refund(&1, 2).remaining(), 3);
    assert_eq!(ids.check(&1, 4).outcome(), Outcome::CannotFit);
    assert_eq!(ids.check(&1, 0).remaining(), 3);
    assert!(ids.is_empty());
    assert_eq!(ids.full_table_events(), 0);
}

#[test]
fn decisions_carry_the_single_limiters_metadata() {
    let ids = limiter::<u64>(quota(30, 60), 8, FullTable::Deny);
    let single = floodgate::Limiter::builder(quota(30, 60))
        .clock(ManualClock::new())
        .build();
    for cost in [1, 20, 39, 1, 5] {
        assert_eq!(ids.check(&5, cost), single.check(cost));
    }
    ids.clock().advance(Duration::from_millis(250));
    single.clock().advance(Duration::from_millis(250));
    assert_eq!(ids.peek(&5), single.peek());
    assert_eq!(ids.refund(&5, 7), single.refund(7));
    assert_eq!(ids.check(&5, 3), single.check(3));
}

#[test]
fn full_table_deny_admit_overflow_and_count() {
    for on_full in [FullTable::Deny, FullTable::Admit, FullTable::Overflow] {
        let ids = limiter::<u64>(quota(1, 2), 2, on_full);
        assert!(ids.check(&1, 1).is_admitted());
        assert!(ids.check(&2, 1).is_admitted());
        let first = ids.check(&3, 2);
        let second = ids.check(&4, 1);
        match on_full {
            FullTable::Deny => {
                assert_eq!(first.outcome(), Outcome::Denied);
                assert_eq!(first.retry_after(), Some(Duration::from_secs(2)));
                assert_eq!(second.outcome(), Outcome::Denied);
            }
            FullTable::Admit => {
                assert!(first.is_admitted() && second.is_admitted());
                assert_eq!(second.remaining(), 1);
            }
            FullTable::Overflow => {
                // One shared bucket of burst 2: the second newcomer finds it empty.
                assert!(first.is_admitted());
                assert_eq!(second.outcome(), Outcome::Denied);
            }
        }
        assert_eq!(ids.full_table_events(), 2, "{on_full:?}");
        assert_eq!(ids.len(), 2);
        // A cost that can never fit is refused before any slot is needed.
        assert_eq!(ids.check(&5, 3).outcome(), Outcome::CannotFit);
        assert_eq!(ids.full_table_events(), 2);
    }
}

#[test]
fn refilled_buckets_give_their_slots_to_new_keys() {
    let ids = limiter::<u64>(quota(1, 1), 4, FullTable::Deny);
    for key in 0..4 {
        assert!(ids.check(&key, 1).is_admitted());
    }
    assert!(!ids.check(&100, 1).is_admitted());
    ids.clock().advance(Duration::from_secs(1));
    // Every old bucket is full again, so 1000 new keys cycle through 4 slots.
    for key in 100..1_100 {
        assert!(ids.check(&key, 1).is_admitted(), "key {key}");
        ids.clock().advance(Duration::from_millis(250));
    }
    assert_eq!(ids.len(), 4);
    assert_eq!(ids.full_table_events(), 1);
    // An evicted key comes back with a full bucket: nothing was lost, since
    // its bucket was full when evicted.
    assert_eq!(ids.peek(&0).remaining(), 1);
}

#[test]
fn per_key_quotas_are_pinned_kept_and_removable() {
    let ids = limiter::<u64>(quota(1, 2), 4, FullTable::Deny);
    ids.set_quota(&7, quota(10, 10)).unwrap();
    assert_eq!(ids.quota_for(&7), quota(10, 10));
    assert_eq!(ids.quota_for(&8), quota(1, 2));
    assert_eq!(ids.check(&7, 10).remaining(), 0);
    // The pinned key survives any number of other keys cycling through.
    ids.clock().advance(Duration::from_secs(5));
    for key in 100..200 {
        ids.check(&key, 1);
        ids.clock().advance(Duration::from_secs(5));
    }
    assert_eq!(ids.quota_for(&7), quota(10, 10));
    assert_eq!(ids.check(&7, 10).remaining(), 0);
    // Changing it keeps what was used: 10 of 10 used, capped at the new burst.
    ids.set_quota(&7, quota(4, 4)).unwrap();
    assert_eq!(ids.peek(&7).remaining(), 0);
    ids.clock().advance(Duration::from_millis(500));
    assert_eq!(ids.peek(&7).remaining(), 2);
    ids.clear_quota(&7);
    assert_eq!(ids.quota_for(&7), quota(1, 2));
    assert_eq!(ids.peek(&7).remaining(), 0);
    // Clearing a key without a quota is a no-op.
    ids.clear_quota(&9);
    assert_eq!(ids.quota_for(&9), quota(1, 2));
}

#[test]
fn override_limits_and_full_tables_are_typed_errors() {
    let ids: KeyedLimiter<u64, ManualClock> = KeyedLimiter::<u64>::builder(quota(1, 1))
        .capacity(2)
        .max_overrides(1)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    ids.set_quota(&1, quota(2, 2)).unwrap();
    ids.set_quota(&1, quota(3, 3)).unwrap();
    assert_eq!(ids.set_quota(&2, quota(2, 2)), Err(Error::TooManyOverrides));
    assert_eq!(ids.quota_for(&2), quota(1, 1));
    assert!(ids.check(&2, 1).is_admitted());
    ids.clear_quota(&1);
    // Key 1's bucket is full, so its slot is reclaimable; key 2 is active.
    assert!(ids.check(&3, 1).is_admitted());
    assert_eq!(ids.set_quota(&4, quota(2, 2)), Err(Error::TableFull));
    assert_eq!(ids.quota_for(&4), quota(1, 1));
}

#[test]
fn reconfiguration_keeps_usage_and_spares_overrides() {
    let ids = limiter::<str>(quota(30, 60), 64, FullTable::Deny);
    ids.check("a", 40).unwrap();
    ids.check("pinned", 5).unwrap();
    ids.set_quota("pinned", quota(10, 10)).unwrap();
    ids.reconfigure(quota(50, 100));
    assert_eq!(ids.default_quota(), quota(50, 100));
    assert_eq!(ids.peek("a").unwrap().remaining(), 60);
    assert_eq!(ids.peek("b").unwrap().remaining(), 100);
    assert_eq!(ids.quota_for("pinned").unwrap(), quota(10, 10));
    assert_eq!(ids.peek("pinned").unwrap().remaining(), 5);
    // 40 used, capped at each new burst: 20 of 20, then 20 of 30.
    ids.reconfigure(quota(10, 20));
    assert_eq!(ids.peek("a").unwrap().remaining(), 0);
    ids.reconfigure(quota(10, 30));
    assert_eq!(ids.peek("a").unwrap().remaining(), 10);
    ids.clock().advance(Duration::from_secs(1));
    assert_eq!(ids.peek("a").unwrap().remaining(), 20);
    ids.clear_quota("pinned").unwrap();
    assert_eq!(ids.quota_for("pinned").unwrap(), quota(10, 30));
}

#[test]
fn a_reconfiguration_timed_behind_the_last_check_hands_back_no_tokens() {
    // 10/s: one token per 100 ms. "hot" is emptied at t = 1 s; a
    // reconfiguration to the same quota that read its clock at 0.5 s (then
    // waited its turn) used to read 15 tokens of debt, cap them at the
    // burst of 10 and so hand 5 back.
    let ids = KeyedLimiter::<str>::builder(quota(10, 10)).build().unwrap();
    let second = 1_000_000_000;
    assert!(ids.check_at("hot", 10, second).unwrap().is_admitted());
    ids.reconfigure_at(quota(10, 10), second / 2);
    assert!(!ids.check_at("hot", 1, second).unwrap().is_admitted());
    // To a larger burst the same: the lag is time, the 10 used are kept.
    ids.reconfigure_at(quota(10, 20), second / 2);
    assert_eq!(ids.peek_at("hot", second).unwrap().remaining(), 10);
    let one = floodgate::Limiter::builder(quota(10, 10)).build();
    assert!(one.check_at(10, second).is_admitted());
    one.reconfigure_at(quota(10, 10), second / 2);
    assert!(!one.check_at(1, second).is_admitted());
}

#[test]
fn supplied_times_drive_the_at_variants() {
    let ids = KeyedLimiter::<u64>::builder(quota(1, 1)).build().unwrap();
    assert!(ids.check_at(&1, 1, 10 * SECOND).is_admitted());
    assert!(!ids.check_at(&1, 1, 10 * SECOND + 1).is_admitted());
    assert_eq!(ids.peek_at(&1, 11 * SECOND).remaining(), 1);
    assert_eq!(ids.refund_at(&1, 1, 10 * SECOND).remaining(), 1);
    ids.set_quota_at(&1, quota(2, 2), 10 * SECOND).unwrap();
    ids.clear_quota_at(&1, 10 * SECOND);
    ids.reconfigure_at(quota(3, 3), 10 * SECOND);
    assert_eq!(ids.peek_at(&1, 10 * SECOND).remaining(), 3);
}

#[test]
fn reset_fills_a_keys_bucket_and_frees_its_slot() {
    // Capacity rounds up to one bucket of 16 slots.
    let ids = limiter::<u64>(quota(1, 2), 16, FullTable::Deny);
    for key in 0..16 {
        assert!(ids.check(&key, 2).is_admitted());
    }
    assert!(!ids.check(&0, 1).is_admitted());
    assert!(!ids.check(&100, 1).is_admitted(), "the table is full");
    ids.reset(&0);
    assert_eq!(ids.peek(&0).remaining(), 2);
    // The reset key's slot goes to a new key at once.
    assert!(ids.check(&100, 1).is_admitted());
    assert_eq!(ids.len(), 16);
    // Resetting a key with no bucket inserts nothing.
    ids.reset(&200);
    assert_eq!(ids.len(), 16);
    // Other keys keep what they used.
    assert!(!ids.check(&1, 1).is_admitted());
}

#[test]
fn reset_keeps_a_keys_own_quota_and_refuses_bad_keys() {
    let tokens = limiter::<str>(quota(1, 2), 16, FullTable::Deny);
    tokens.set_quota("acme", quota(5, 5)).unwrap();
    tokens.check("acme", 5).unwrap();
    tokens.reset_at("acme", 0).unwrap();
    assert_eq!(tokens.peek("acme").unwrap().remaining(), 5);
    assert_eq!(tokens.quota_for("acme").unwrap(), quota(5, 5));
    assert_eq!(tokens.reset(""), Err(Error::EmptyKey));
    let long = "k".repeat(MAX_KEY_LEN + 1);
    assert_eq!(tokens.reset(&long), Err(Error::KeyTooLong));
    assert_eq!(tokens.len(), 1);
}

#[test]
fn keyed_windows_reset_zeroes_counts_and_inserts_nothing() {
    use floodgate::KeyedWindows;
    let windows: KeyedWindows<str, ManualClock> =
        KeyedWindows::<str>::builder(10, Duration::from_secs(60))
            .capacity(4)
            .clock(ManualClock::new())
            .build()
            .unwrap();
    windows.check("ws", 10).unwrap();
    windows.set_limit("ws", 20).unwrap();
    windows.reset("ws").unwrap();
    assert_eq!(windows.peek("ws").unwrap().remaining(), 20);
    windows.reset_at("other", 0).unwrap();
    assert_eq!(windows.len(), 1);
    assert_eq!(windows.reset(""), Err(Error::EmptyKey));
}
