//! Clarifai (../shared/seeds/002): 15 requests per second for every user,
//! custom limits per customer, and the CONN_THROTTLED (11005) error.
//!
//! `cargo run --example clarifai`

use floodgate::presets::clarifai;
use floodgate::{KeyedLimiter, ManualClock, Quota, Scope};

fn main() -> Result<(), floodgate::Error> {
    let clock = ManualClock::new();
    let users: KeyedLimiter<str, ManualClock> =
        KeyedLimiter::<str>::builder(Quota::per_second(15)?)
            .capacity(100_000)
            .clock(clock.clone())
            .build()?;
    // A customer who contacted support for a custom limit.
    users.set_quota("user_enterprise", Quota::per_second(200)?)?;

    for user in ["user_free", "user_enterprise"] {
        let admitted = (0..250)
            .filter(|_| {
                users
                    .check(user, 1)
                    .map(|d| d.is_admitted())
                    .unwrap_or(false)
            })
            .count();
        println!(
            "{user}: {admitted} of 250 requests in the same instant admitted (limit {})",
            users.quota_for(user)?.count()
        );
    }
    let throttled = users.check("user_free", 1)?;
    let body = clarifai::error_body("exceeded limit of {limit} requests per second")?
        .field_number("code", 11005);
    println!(
        "\nthrottled response body:\n{}",
        body.render(&throttled, Scope::Key, "req_7f3a")
    );
    println!(
        "the same with the symbolic code:\n{}",
        clarifai::error_body("exceeded limit of {limit} requests per second")?.render(
            &throttled,
            Scope::Key,
            "req_7f3a"
        )
    );
    clock.advance(std::time::Duration::from_millis(67));
    println!(
        "\n67 ms later user_free may send again: {}",
        users.check("user_free", 1)?.is_admitted()
    );
    Ok(())
}
