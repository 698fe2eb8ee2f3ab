//! Genera (../shared/seeds/000): each customer sets its own requests per
//! second through the API and may change it at any time; excess is
//! throttled or delayed; non-compliance can suspend access.
//!
//! `cargo run --example genera`

use floodgate::{KeyedLimiter, LayerKey, ManualClock, Policy, Quota, Scope, Suspensions};
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<(), floodgate::Error> {
    let clock = ManualClock::new();
    let customers = Arc::new(
        KeyedLimiter::<str>::builder(Quota::per_second(10)?)
            .capacity(100_000)
            .max_overrides(100_000)
            .clock(clock.clone())
            .build()?,
    );
    let suspensions = Arc::new(
        Suspensions::<str>::builder()
            .capacity(10_000)
            .clock(clock.clone())
            .build()?,
    );
    let policy = Policy::builder()
        .layer(Scope::Named("suspension"), suspensions.clone())
        .layer(Scope::Key, customers.clone())
        .clock(clock.clone())
        .build()?;
    let acme = [LayerKey::from("acme"), LayerKey::from("acme")];

    customers.set_quota("acme", Quota::per_second(20)?)?;
    println!(
        "acme configures 20 req/s and sends 15: remaining {}",
        policy.check(&acme, 15)?.decision().remaining()
    );
    customers.set_quota("acme", Quota::per_second(50)?)?;
    println!(
        "acme raises its limit to 50 req/s: remaining {} (the 15 used carry over)",
        customers.peek("acme")?.remaining()
    );
    customers.set_quota("acme", Quota::per_second(10)?)?;
    println!(
        "acme lowers it to 10 req/s: remaining {}",
        customers.peek("acme")?.remaining()
    );

    println!("\nthrottled or delayed: instead of a 429, wait up to 500 ms");
    for request in 1..=7 {
        let decision = customers.reserve("acme", 1, Duration::from_millis(500))?;
        match decision.is_admitted() {
            true => println!("  request {request}: go after {:?}", decision.delay()),
            false => println!(
                "  request {request}: rejected, retry after {:?}",
                decision.retry_after().unwrap_or_default()
            ),
        }
    }

    println!("\nnon-compliance: acme is suspended");
    suspensions.suspend_for("acme", Duration::from_secs(3_600))?;
    let refused = policy.check(&acme, 1)?;
    println!(
        "  {:?} by {}, for {:?}; counted as suspended: {}",
        refused.decision().outcome(),
        refused.scope(),
        refused.decision().retry_after().unwrap_or_default(),
        policy.counters().suspended
    );
    suspensions.lift("acme")?;
    clock.advance(Duration::from_secs(1));
    println!(
        "  lifted, a second later: admitted {}",
        policy.check(&acme, 1)?.is_admitted()
    );
    Ok(())
}
