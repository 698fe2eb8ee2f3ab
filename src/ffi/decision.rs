//! `fg_decision`: what a check answers, laid out for C.

use crate::decision::{Decision, Outcome};

/// The verdict of a check, `fg_decision.outcome`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FgOutcome {
    /// The request may go; its cost was charged.
    Admitted = 0,
    /// Not now: the same cost is admitted after `retry_after_ns`.
    Denied = 1,
    /// The cost exceeds the burst, so it can never be admitted (nothing was
    /// charged). Not an error: the call returns `FG_STATUS_OK`.
    CannotFit = 2,
    /// The key is suspended, not rate limited (nothing was charged);
    /// `retry_after_ns` is the end of the suspension, 0 when it has none.
    Suspended = 3,
}

/// `fg_decision.scope` for a check on one limit (an `fg_limiter`): the
/// decision is that limit's own.
pub const FG_SCOPE_SINGLE: u32 = 0;

/// The answer to a check, peek or refund: the verdict and the numbers a
/// response's rate-limit headers carry. Output only; the layout is fixed for
/// ABI major version 1.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgDecision {
    /// Whether the request may go (`outcome == FG_OUTCOME_ADMITTED`).
    pub admitted: bool,
    /// The verdict.
    pub outcome: FgOutcome,
    /// The burst capacity: what `X-RateLimit-Limit` reports.
    pub limit: u64,
    /// Whole units of capacity left after this decision (`X-RateLimit-Remaining`).
    pub remaining: u64,
    /// Nanoseconds until the bucket is full again.
    pub reset_after_ns: u64,
    /// When denied, nanoseconds after which the same cost is admitted (never
    /// 0); 0 otherwise, including `FG_OUTCOME_CANNOT_FIT`.
    pub retry_after_ns: u64,
    /// Which limit decided: `FG_SCOPE_SINGLE` for an `fg_limiter`.
    pub scope: u32,
}

impl FgDecision {
    /// `decision` as C sees it, decided by the limit `scope` names.
    #[inline(always)]
    pub(crate) fn new(decision: &Decision, scope: u32) -> Self {
        let outcome = match decision.outcome() {
            Outcome::Admitted => FgOutcome::Admitted,
            Outcome::Denied => FgOutcome::Denied,
            Outcome::CannotFit => FgOutcome::CannotFit,
            Outcome::Suspended => FgOutcome::Suspended,
        };
        Self {
            admitted: outcome == FgOutcome::Admitted,
            outcome,
            limit: decision.limit(),
            remaining: decision.remaining(),
            reset_after_ns: decision.reset_after_ns(),
            retry_after_ns: decision.retry_after_ns(),
            scope,
        }
    }
}
