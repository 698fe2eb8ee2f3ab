//! floodgate behind napi-rs, for measurement only: the calls the Node package
//! makes through koffi (bindings/node/lib), written the napi-rs way, so
//! ../napi-vs-koffi.js can time both bindings in one process. Each export does
//! the Rust work its C ABI twin does (validate, check, hand back the figures)
//! and nothing more.

use floodgate::{Decision as Checked, KeyedLimiter as Keyed, Limiter as Single, Outcome, Quota};
use napi::bindgen_prelude::{Error, Float64Array, Result, Status};
use napi_derive::napi;

/// As bindings/node/bench/bench.js: a quota so large every check is admitted.
const PER_SECOND: u64 = 1_000_000_000;
/// As bench.js's keyed limiter: room for 4x its 10k keys.
const KEYED_CAPACITY: usize = 40_000;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// The call floor: the twin of `fg_abi_version`, which koffi calls with no arguments.
#[napi]
pub fn abi_version() -> u32 {
    floodgate::ffi::fg_abi_version()
}

/// The fields of the koffi package's `Decision` (lib/decision.js), as a plain
/// object; scope and layer are null for a single limit there too.
#[napi(object, use_nullable = true)]
pub struct Decision {
    pub admitted: bool,
    pub outcome: String,
    pub limit: f64,
    pub remaining: f64,
    pub reset_after_ns: f64,
    pub reset_after_ms: f64,
    pub retry_after_ns: f64,
    pub retry_after_ms: f64,
    pub delay_ns: f64,
    pub delay_ms: f64,
    pub scope: Option<String>,
    pub layer: Option<u32>,
}

impl From<Checked> for Decision {
    fn from(decision: Checked) -> Self {
        // Numbers as lib/decision.js reads them: exact up to 2^53.
        let reset_after_ns = decision.reset_after_ns() as f64;
        let retry_after_ns = decision.retry_after_ns() as f64;
        Self {
            admitted: decision.is_admitted(),
            outcome: outcome_name(decision.outcome()).to_owned(),
            limit: decision.limit() as f64,
            remaining: decision.remaining() as f64,
            reset_after_ns,
            reset_after_ms: reset_after_ns / 1e6,
            retry_after_ns,
            retry_after_ms: retry_after_ns / 1e6,
            delay_ns: 0.0,
            delay_ms: 0.0,
            scope: None,
            layer: None,
        }
    }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Admitted => "admitted",
        Outcome::Denied => "denied",
        Outcome::CannotFit => "cannot_fit",
        Outcome::Suspended => "suspended",
        // Outcome is non_exhaustive; lib/decision.js names unknown codes the same way.
        _ => "unknown",
    }
}

/// A uint64_t argument given as a JS number, refused unless it is an integer
/// in [0, 2^64) (lib/args.js `u64` checks the same before every koffi call).
fn u64_arg(value: f64, name: &str) -> Result<u64> {
    if value.fract() != 0.0 || !(0.0..TWO_POW_64).contains(&value) {
        return Err(Error::new(
            Status::InvalidArg,
            format!("{name} must be an integer between 0 and 2^64 - 1, got {value}"),
        ));
    }
    Ok(value as u64)
}

fn huge_quota() -> Result<Quota> {
    Quota::per_second(PER_SECOND).map_err(|error| Error::from_reason(error.to_string()))
}

/// One bucket, the twin of the koffi package's `Limiter`.
#[napi]
pub struct Limiter {
    inner: Single,
}

#[napi]
impl Limiter {
    #[napi(constructor)]
    pub fn new() -> Result<Self> {
        Ok(Self {
            inner: Single::new(huge_quota()?),
        })
    }

    /// `Limiter.check(cost)`: the library's clock, a plain object back.
    #[napi]
    pub fn check(&self, cost: f64) -> Result<Decision> {
        Ok(self.inner.check(u64_arg(cost, "cost")?).into())
    }

    /// `Limiter.check(cost, nowNs)`: the caller's timeline, a plain object back.
    #[napi]
    pub fn check_at(&self, cost: f64, now_ns: f64) -> Result<Decision> {
        Ok(self
            .inner
            .check_at(u64_arg(cost, "cost")?, u64_arg(now_ns, "nowNs")?)
            .into())
    }

    /// The reused-buffer path (koffi's `fg_limiter_check_at` into one typed
    /// array): admitted, outcome code, limit, remaining, reset and retry-after
    /// nanoseconds, written into the caller's Float64Array of at least 6.
    /// napi-rs 2 lends a writable typed array only as `Float64Array` (it holds
    /// a reference to the array for the call; `&[f64]` args are read-only).
    #[napi]
    pub fn check_at_into(&self, cost: f64, now_ns: f64, mut out: Float64Array) -> Result<()> {
        let Some(out) = out.get_mut(..6) else {
            return Err(Error::new(
                Status::InvalidArg,
                "out must hold at least 6 numbers".to_owned(),
            ));
        };
        let decision = self
            .inner
            .check_at(u64_arg(cost, "cost")?, u64_arg(now_ns, "nowNs")?);
        out.copy_from_slice(&[
            f64::from(u8::from(decision.is_admitted())),
            f64::from(decision.outcome() as u8),
            decision.limit() as f64,
            decision.remaining() as f64,
            decision.reset_after_ns() as f64,
            decision.retry_after_ns() as f64,
        ]);
        Ok(())
    }
}

/// A table of buckets keyed by integers, the twin of the koffi package's
/// `KeyedLimiter` checked with a number key (`fg_keyed_limiter_check_u64`).
#[napi]
pub struct KeyedLimiter {
    inner: Keyed<u64>,
}

#[napi]
impl KeyedLimiter {
    #[napi(constructor)]
    pub fn new() -> Result<Self> {
        let inner = Keyed::builder(huge_quota()?)
            .capacity(KEYED_CAPACITY)
            .build()
            .map_err(|error| Error::from_reason(error.to_string()))?;
        Ok(Self { inner })
    }

    /// `KeyedLimiter.check(key, cost)` for a number key, by the library's clock.
    #[napi]
    pub fn check(&self, key: f64, cost: f64) -> Result<Decision> {
        let key = u64_arg(key, "key")?;
        Ok(self.inner.check(&key, u64_arg(cost, "cost")?).into())
    }
}
