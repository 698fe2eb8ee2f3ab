//! The license-key API (../shared/seeds/003): limits per source IP and per
//! access token checked together, stricter limits on license validation and
//! activation, 429 with exponential backoff 1 s, 2 s, 4 s, 8 s. (The page
//! gives no numbers: 120/min per IP, 60/min per token and 6/min per token on
//! the critical endpoints are this example's.) The C version is
//! examples/c/license_api.c.
//!
//! `cargo run --example license_api`

use floodgate::presets::license_api;
use floodgate::{Headers, KeyedLimiter, LayerKey, ManualClock, Policy, Quota, Scope};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

fn main() -> Result<(), floodgate::Error> {
    let clock = ManualClock::new();
    let per_ip = Arc::new(
        KeyedLimiter::<IpAddr>::builder(Quota::per_minute(120)?.with_burst(20)?)
            .clock(clock.clone())
            .build()?,
    );
    let per_token = Arc::new(
        KeyedLimiter::<str>::builder(Quota::per_minute(60)?.with_burst(10)?)
            .clock(clock.clone())
            .build()?,
    );
    let critical = KeyedLimiter::<str>::builder(Quota::per_minute(6)?.with_burst(3)?)
        .clock(clock.clone())
        .build()?;
    let general = Policy::builder()
        .layer(Scope::Ip, per_ip.clone())
        .layer(Scope::Token, per_token.clone())
        .clock(clock.clone())
        .build()?;
    let validation = Policy::builder()
        .layer(Scope::Ip, per_ip)
        .layer(Scope::Token, per_token)
        .layer(Scope::Named("license-validation"), critical)
        .clock(clock.clone())
        .build()?;

    let ip = LayerKey::from(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
    let token = LayerKey::from("tok_live_1");
    println!("POST /licenses/validate from 203.0.113.7 with tok_live_1:");
    for request in 1..=4 {
        let verdict = validation.check(&[ip, token, token], 1)?;
        println!(
            "  request {request}: {:?} (scope {})",
            verdict.decision().outcome(),
            verdict.scope()
        );
        if !verdict.is_admitted() {
            let headers = Headers::new().render_at(&verdict.decision(), verdict.scope(), 0);
            println!(
                "  429, Retry-After: {}",
                headers.get("Retry-After").unwrap_or("?")
            );
        }
    }
    println!(
        "GET /licenses with the same token still works: {}",
        general.check(&[ip, token], 1)?.is_admitted()
    );

    let backoff = license_api::retry_policy().with_jitter(floodgate::Jitter::None);
    let waits: Vec<_> = (0..4)
        .filter_map(|attempt| backoff.delay(attempt, None))
        .collect();
    println!("client backoff without Retry-After: {waits:?}");
    println!(
        "counters: general {:?}, validation {:?}",
        general.counters(),
        validation.counters()
    );
    Ok(())
}
