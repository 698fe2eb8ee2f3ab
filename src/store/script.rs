//! The one server-side script and its calling convention.
//!
//! `KEYS` are the buckets' Redis keys (one, or a layered check's several).
//! `ARGV` is: the caller's time in microseconds, or empty for the server's
//! `TIME`; `c` to check, `l` to lease or `r` to refund; the cost in
//! requests (a check), the most requests wanted (a lease) or the refund in
//! units; then per key its quota in units: cost of one request, burst
//! capacity, lockout ceiling, drain per microsecond. The reply is
//! `[outcome, debt, wait]` per key, in units, outcome 0 admitted, 1 denied,
//! 2 can never fit. A lease is decided as a check of the most requests that
//! fit every key now (at least one), and its reply ends with that count.
//!
//! A bucket is a string `"<debt units>:<microsecond of the write>"` with a
//! time to live that ends when the debt has drained (written at the
//! server's time; a caller's time sets none); a missing key is a full
//! bucket. Sent as `EVALSHA`; the `redis` crate sends `SCRIPT LOAD`
//! and retries once when the server answers `NOSCRIPT` (after a restart,
//! a failover or `SCRIPT FLUSH`).

use crate::core::decision::{Decision, Outcome};
use crate::store::units::ScriptQuota;
use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Script};

/// The script's source, compiled into the library.
pub(crate) const SOURCE: &str = include_str!("gcra.lua");

/// What a call asks of its buckets.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    /// Charge this many requests (0 peeks).
    Check(u64),
    /// Give back this many requests.
    Refund(u64),
    /// Charge as many requests as fit now, at most this many, at least one
    /// (`store/lease`). The decisions end with one more, the grant: its
    /// [`remaining`](Decision::remaining) is the count charged.
    Lease(u64),
}

/// When the script decides: now on the server, or at a caller's microsecond.
pub(crate) type At = Option<u64>;

/// Runs the script on `connection` for `keys`, each under its quota.
pub(crate) async fn run(
    script: &Script,
    connection: &mut MultiplexedConnection,
    keys: &[(&[u8], &ScriptQuota)],
    op: Op,
    at: At,
) -> RedisResult<Vec<Decision>> {
    let mut call = script.prepare_invoke();
    match at {
        Some(micros) => call.arg(micros),
        None => call.arg(""),
    };
    match op {
        Op::Check(_) => call.arg("c"),
        Op::Refund(_) => call.arg("r"),
        Op::Lease(_) => call.arg("l"),
    };
    // Every layer is charged the same cost; a refund is in each layer's units.
    if let Op::Check(cost) | Op::Lease(cost) = op {
        let sent = keys
            .iter()
            .map(|(_, q)| q.cost_arg(cost))
            .max()
            .unwrap_or(0);
        call.arg(sent);
    }
    for (key, _) in keys {
        call.key(*key);
    }
    if let Op::Refund(amount) = op {
        // One refund, one layer: `RedisLimiter::refund` is the only caller.
        call.arg(keys.first().map_or(0, |(_, q)| q.refund_arg(amount)));
    }
    for (_, quota) in keys {
        call.arg(quota.token)
            .arg(quota.capacity)
            .arg(quota.lockout)
            .arg(quota.drain);
    }
    let reply: Vec<u64> = call.invoke_async(connection).await?;
    Ok(decisions(&reply, keys))
}

/// The engine's decisions for the script's reply; a lease's ends with its
/// grant (see [`Op::Lease`]).
fn decisions(reply: &[u64], keys: &[(&[u8], &ScriptQuota)]) -> Vec<Decision> {
    let mut decided: Vec<_> = reply
        .chunks_exact(3)
        .zip(keys)
        .map(|(figures, (_, quota))| {
            let outcome = match figures[0] {
                0 => Outcome::Admitted,
                1 => Outcome::Denied,
                _ => Outcome::CannotFit,
            };
            quota.decision(outcome, figures[1], figures[2])
        })
        .collect();
    if let Some(&granted) = reply.get(3 * keys.len()) {
        decided.push(Decision::new(Outcome::Admitted, granted, granted, 0, 0));
    }
    decided
}
