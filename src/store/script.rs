//! The GCRA script and its calling convention, and how any of the
//! store's scripts is sent ([`Lua`], [`Call`]).
//!
//! `KEYS` are the buckets' Redis keys (one, or a layered check's several).
//! `ARGV` is: the caller's time in microseconds, or empty for the server's
//! `TIME`; `c` to check, `l` to lease or `r` to refund; the cost in
//! requests (a check), the most requests wanted (a lease) or the refund in
//! units; then per key its quota in units: cost of one request, burst
//! capacity, lockout ceiling, drain per microsecond. The reply is
//! `[outcome, debt, wait]` per key, in units, outcome 0 admitted, 1 denied,
//! 2 can never fit. A lease is decided as a check of the most requests that
//! fit every key now (at least one), and its reply ends with the count
//! charged; its optional last two arguments ask for at least a number of
//! requests, reserved ahead when they fit within a number of microseconds
//! (see `gcra.lua` and `store/lease`).
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
use redis::{
    Cmd, ErrorKind, FromRedisValue, RedisError, RedisResult, Script, ServerErrorKind, ToRedisArgs,
};

/// The GCRA script's source, compiled into the library.
pub(crate) const SOURCE: &str = include_str!("gcra.lua");

/// One of the store's server-side scripts: its source and its hash.
pub(crate) struct Lua {
    source: &'static str,
    hash: Script,
}

/// One call of a script: its keys (all in one cluster slot) and arguments.
#[derive(Default)]
pub(crate) struct Call {
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl Call {
    pub(crate) fn key(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.keys.push(key.as_ref().to_vec());
        self
    }

    /// An argument as Redis encodes it (a number in decimal, `""` empty).
    pub(crate) fn arg(&mut self, value: impl ToRedisArgs) -> &mut Self {
        self.args.extend(value.to_redis_args());
        self
    }

    /// Its keys, counted, and arguments, after a script's name or hash.
    fn append_to(&self, command: &mut Cmd) {
        command.arg(self.keys.len()).arg(&self.keys).arg(&self.args);
    }

    /// The first key: the one a cluster routes the call by.
    pub(crate) fn first_key(&self) -> Option<&[u8]> {
        self.keys.first().map(Vec::as_slice)
    }
}

impl Lua {
    pub(crate) fn new(source: &'static str) -> Self {
        Self {
            source,
            hash: Script::new(source),
        }
    }

    /// `EVALSHA` of the script with `call`; `EVAL` of its source when the
    /// node answers `NOSCRIPT`, routed by the same first key to the same
    /// node, which caches it.
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        connection: &mut impl ConnectionLike,
        call: &Call,
    ) -> RedisResult<T> {
        match self.by_hash(call).query_async(connection).await {
            Err(error) if is_missing_script(&error) => {
                self.by_source(call).query_async(connection).await
            }
            reply => reply,
        }
    }

    /// [`invoke`](Self::invoke) on a synchronous connection, waiting on
    /// its socket (see `solo.rs`).
    pub(crate) fn invoke_blocking<T: FromRedisValue>(
        &self,
        connection: &mut redis::Connection,
        call: &Call,
    ) -> RedisResult<T> {
        match self.by_hash(call).query(connection) {
            Err(error) if is_missing_script(&error) => self.by_source(call).query(connection),
            reply => reply,
        }
    }

    /// `EVALSHA` of the script with `call`.
    pub(crate) fn by_hash(&self, call: &Call) -> Cmd {
        let mut command = redis::cmd("EVALSHA");
        command.arg(self.hash.get_hash());
        call.append_to(&mut command);
        command
    }

    /// `EVAL` of the script's source with `call`.
    pub(crate) fn by_source(&self, call: &Call) -> Cmd {
        let mut command = redis::cmd("EVAL");
        command.arg(self.source);
        call.append_to(&mut command);
        command
    }
}

fn is_missing_script(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
}

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

/// The GCRA script's call for `keys`, each under its quota.
pub(crate) fn call(keys: &[(&[u8], &ScriptQuota)], op: Op, at: At) -> Call {
    let mut call = Call::default();
    for (key, _) in keys {
        call.key(key);
    }
    match at {
        Some(micros) => call.arg(micros),
        None => call.arg(""),
    };
    call.arg(match op {
        Op::Check(_) => "c",
        Op::Refund(_) => "r",
        Op::Lease(_) => "l",
    });
    // Every layer is charged the same cost; a refund is in each layer's units.
    call.arg(match op {
        Op::Check(cost) | Op::Lease(cost) => keys
            .iter()
            .map(|(_, q)| q.cost_arg(cost))
            .max()
            .unwrap_or(0),
        // One refund, one layer: `RedisLimiter::refund` is the only caller.
        Op::Refund(amount) => keys.first().map_or(0, |(_, q)| q.refund_arg(amount)),
    });
    for (_, quota) in keys {
        call.arg(&[quota.token, quota.capacity, quota.lockout, quota.drain][..]);
    }
    call
}

/// The engine's decisions for the script's reply; a lease's ends with its
/// grant (see [`Op::Lease`]).
pub(crate) fn decisions(reply: &[u64], keys: &[(&[u8], &ScriptQuota)]) -> Vec<Decision> {
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
