//! The one server-side script and its calling convention.
//!
//! `KEYS` are the buckets' Redis keys (one, or a layered check's several).
//! `ARGV` is: the caller's time in microseconds, or empty for the server's
//! `TIME`; `c` to check or `r` to refund; the cost in requests (a check) or
//! the refund in units; then per key its quota in units: cost of one
//! request, burst capacity, lockout ceiling, drain per microsecond. The
//! reply is `[outcome, debt, wait]` per key, in units, outcome 0 admitted,
//! 1 denied, 2 can never fit.
//!
//! A bucket is a string `"<debt units>:<microsecond of the write>"` with a
//! time to live that ends when the debt has drained (written at the
//! server's time; a caller's time sets none); a missing key is a full
//! bucket. Sent as `EVALSHA`; a server that answers `NOSCRIPT` (after a
//! restart, a failover or `SCRIPT FLUSH`) is sent the same call as `EVAL`
//! with the source, which caches it there. Not `SCRIPT LOAD` and a retry:
//! on Redis Cluster that goes to every node, and fails while one is down.

use crate::core::decision::{Decision, Outcome};
use crate::store::units::ScriptQuota;
use redis::aio::ConnectionLike;
use redis::{ErrorKind, RedisResult, Script, ServerErrorKind};

/// The script's source, compiled into the library.
pub(crate) const SOURCE: &str = include_str!("gcra.lua");

/// What a call asks of its buckets.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    /// Charge this many requests (0 peeks).
    Check(u64),
    /// Give back this many requests.
    Refund(u64),
}

/// When the script decides: now on the server, or at a caller's microsecond.
pub(crate) type At = Option<u64>;

/// Runs the script on `connection` for `keys`, each under its quota.
pub(crate) async fn run(
    script: &Script,
    connection: &mut impl ConnectionLike,
    keys: &[(&[u8], &ScriptQuota)],
    op: Op,
    at: At,
) -> RedisResult<Vec<Decision>> {
    let number = |n: u64| n.to_string().into_bytes();
    let mut call = vec![number(keys.len() as u64)];
    call.extend(keys.iter().map(|(key, _)| key.to_vec()));
    call.push(at.map_or_else(Vec::new, number));
    call.push(match op {
        Op::Check(_) => b"c".to_vec(),
        Op::Refund(_) => b"r".to_vec(),
    });
    // Every layer is charged the same cost; a refund is in each layer's units.
    call.push(number(match op {
        Op::Check(cost) => keys
            .iter()
            .map(|(_, q)| q.cost_arg(cost))
            .max()
            .unwrap_or(0),
        // One refund, one layer: `RedisLimiter::refund` is the only caller.
        Op::Refund(amount) => keys.first().map_or(0, |(_, q)| q.refund_arg(amount)),
    }));
    for (_, quota) in keys {
        for figure in [quota.token, quota.capacity, quota.lockout, quota.drain] {
            call.push(number(figure));
        }
    }
    let reply: Vec<u64> = invoke(script, connection, &call).await?;
    Ok(decisions(&reply, keys))
}

/// `EVALSHA` of `script` with `call` (numkeys, keys, arguments); `EVAL` of
/// its source when the node answers `NOSCRIPT`, routed by the same first
/// key to the same node, which caches it.
async fn invoke(
    script: &Script,
    connection: &mut impl ConnectionLike,
    call: &[Vec<u8>],
) -> RedisResult<Vec<u64>> {
    let by_hash = redis::cmd("EVALSHA")
        .arg(script.get_hash())
        .arg(call)
        .query_async(connection)
        .await;
    match by_hash {
        Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            redis::cmd("EVAL")
                .arg(SOURCE)
                .arg(call)
                .query_async(connection)
                .await
        }
        reply => reply,
    }
}

/// The engine's decisions for the script's reply.
fn decisions(reply: &[u64], keys: &[(&[u8], &ScriptQuota)]) -> Vec<Decision> {
    reply
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
        .collect()
}
