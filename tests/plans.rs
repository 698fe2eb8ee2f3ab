//! A key that changes plan keeps what it has used (issue 12, item 6): the
//! usage moves to the new tier's bucket, counted in requests and capped at
//! the new burst, as `KeyedLimiter::reconfigure` converts it.

use floodgate::{ManualClock, Plans, TierId};

fn genieos() -> Plans<str, u64, ManualClock> {
    floodgate::presets::genieos::plans()
        .unwrap()
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

fn admitted(plans: &Plans<str, u64, ManualClock>, tier: TierId, key: &str, now_ns: u64) -> u64 {
    (0..1_000)
        .filter(|_| {
            plans
                .check_at(tier, key, &1, 1, now_ns)
                .unwrap()
                .is_admitted()
        })
        .count() as u64
}

#[test]
fn a_drained_key_moved_to_a_bigger_plan_keeps_its_usage() {
    let plans = genieos();
    let (hobby, pro) = (plans.tier("hobby").unwrap(), plans.tier("pro").unwrap());
    // Hobby: 30/s burst 60. Pro: 60/s burst 120.
    assert_eq!(admitted(&plans, hobby, "gos_live_k", 0), 60);
    // Within the same instant, Pro has 120 - 60 left, not a fresh 120.
    assert_eq!(admitted(&plans, pro, "gos_live_k", 0), 60);
    // Back on Hobby, the 120 used are capped at its burst: nothing left.
    assert_eq!(admitted(&plans, hobby, "gos_live_k", 0), 0);
    // A second later Hobby has refilled 30.
    assert_eq!(admitted(&plans, hobby, "gos_live_k", 1_000_000_000), 30);
    // Other keys are untouched by the moves.
    assert_eq!(admitted(&plans, pro, "gos_live_other", 1_000_000_000), 120);
}

#[test]
fn partial_usage_moves_in_requests_fractions_rounded_up() {
    let plans = genieos();
    let (hobby, scale) = (plans.tier("hobby").unwrap(), plans.tier("scale").unwrap());
    for _ in 0..10 {
        assert!(plans.check_at(hobby, "k", &1, 1, 0).unwrap().is_admitted());
    }
    // 10 used of Hobby's 60, 50 ms later: 1.5 requests refilled at 30/s,
    // 8.5 in use; on Scale (120/s burst 240) that is 8.5 requests too.
    let later = 50_000_000;
    let decision = plans.check_at(scale, "k", &1, 1, later).unwrap().decision();
    assert!(decision.is_admitted());
    // 240 - 8.5 - 1 = 230.5 left: 230 whole.
    assert_eq!(decision.remaining(), 230);
}

#[test]
fn the_sandbox_tier_neither_takes_nor_keeps_usage() {
    let plans = genieos();
    let (hobby, sandbox) = (plans.tier("hobby").unwrap(), plans.tier("sandbox").unwrap());
    assert_eq!(admitted(&plans, hobby, "k", 0), 60);
    // Unlimited: admits everything, touches no bucket.
    assert_eq!(admitted(&plans, sandbox, "k", 0), 1_000);
    assert_eq!(admitted(&plans, hobby, "k", 0), 0);
}
