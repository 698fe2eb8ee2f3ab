//! GenieOS (../shared/seeds/001): per-key token buckets and per-workspace
//! sliding windows by plan tier, an unlimited Sandbox, a batch endpoint that
//! counts as one hit with 4 in flight per workspace, lockout for hammering,
//! the warning zone, and the 429 a client reads.
//!
//! `cargo run --example genieos`

use floodgate::presets::genieos;
use floodgate::{KeyedInFlight, KeyedLimiter, ManualClock, Plans, Quota};
use std::time::Duration;

fn main() -> Result<(), floodgate::Error> {
    let clock = ManualClock::new();
    let plans: Plans<str, u64, ManualClock> = genieos::plans()?.clock(clock.clone()).build()?;
    let hobby = plans.tier("hobby").expect("GenieOS has a Hobby tier");

    println!("Hobby key gos_live_a in workspace 1: a burst of 61 requests at once");
    let mut last = None;
    for request in 1..=61 {
        let verdict = plans.check(hobby, "gos_live_a", &1, 1)?;
        if request == 48 || request >= 60 {
            let decision = verdict.decision();
            println!(
                "  request {request}: {:?}, remaining {}{}",
                decision.outcome(),
                decision.remaining(),
                if decision.in_warning_zone(genieos::WARNING_ZONE_PERCENT) {
                    " (warning zone)"
                } else {
                    ""
                }
            );
        }
        last = Some(verdict);
    }
    let denied = last.expect("61 checks ran");
    println!("\nHTTP/1.1 429 Too Many Requests");
    for (name, value) in genieos::headers()
        .render_at(
            &denied.decision(),
            denied.scope(),
            1_776_688_440_000_000_000,
        )
        .iter()
    {
        println!("{name}: {value}");
    }
    println!(
        "{}",
        genieos::key_body().render(&denied.decision(), denied.scope(), "req_01JABC")
    );

    println!("\n25 Hobby keys share workspace 2 (600 requests per minute):");
    let keys: Vec<String> = (0..25).map(|i| format!("gos_live_w2_{i}")).collect();
    let mut admitted = 0;
    for key in &keys {
        for _ in 0..24 {
            admitted += u32::from(plans.check(hobby, key, &2, 1)?.is_admitted());
        }
    }
    let refused = plans.check(hobby, &keys[0], &2, 1)?;
    println!(
        "  {admitted} admitted, then {:?} with scope {} and Retry-After {:?}",
        refused.decision().outcome(),
        refused.scope(),
        refused.decision().retry_after().unwrap_or_default()
    );

    let sandbox = plans.tier("sandbox").expect("GenieOS has a Sandbox tier");
    let all = (0..5_000).all(|_| {
        plans
            .check(sandbox, "gos_test_ci", &3, 1)
            .map(|v| v.is_admitted())
            .unwrap_or(false)
    });
    println!("\nSandbox key: 5,000 requests at once all admitted: {all}");

    println!("\nBatch endpoint: 1,000 recipients count as one hit; 4 in flight per workspace");
    let batches: KeyedInFlight<u64> = KeyedInFlight::builder(4).capacity(10_000).build()?;
    let held: Vec<_> = (0..4)
        .filter_map(|_| batches.try_acquire(&4).ok()?.permit())
        .collect();
    plans.check(hobby, "gos_live_batch", &4, 1)?;
    println!(
        "  {} batches in flight; a fifth waits: {}",
        held.len(),
        !batches.try_acquire(&4)?.is_granted()
    );
    drop(held);

    println!("\nHammering during the cooldown extends the lockout (capped at 10 s):");
    let hammered: KeyedLimiter<str, ManualClock> = KeyedLimiter::<str>::builder(
        Quota::per_second(30)?
            .with_burst(60)?
            .with_lockout(Duration::from_secs(10))?,
    )
    .clock(clock.clone())
    .build()?;
    hammered.check("gos_live_h", 60)?;
    for attempt in [1, 10, 100, 1_000] {
        let mut decision = hammered.check("gos_live_h", 1)?;
        for _ in 1..attempt {
            decision = hammered.check("gos_live_h", 1)?;
        }
        println!(
            "  after {attempt:>5} more retries: Retry-After {:?}",
            decision.retry_after().unwrap_or_default()
        );
    }

    let sdk = genieos::retry_policy().with_seed(7);
    let waits: Vec<_> = (0..5)
        .filter_map(|attempt| sdk.delay(attempt, None))
        .collect();
    println!("\nSDK backoff for 5xx (jittered, seed 7): {waits:?}; a 429's Retry-After is honoured exactly");
    Ok(())
}
