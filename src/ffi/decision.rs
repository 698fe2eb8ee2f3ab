//! `fg_decision`: what a check answers, laid out for C, and the scope codes
//! that say which limit decided.

use super::args::{self, Out};
use super::status::{guard, Failure, FgStatus};
use crate::core::clock::saturating_nanos;
use crate::core::decision::{Decision, Outcome};
use crate::http::Scope;
use std::ffi::c_char;

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

/// `fg_decision.scope` for a check on one limit (an `fg_limiter`,
/// `fg_keyed_limiter` or `fg_window`): the decision is that limit's own.
pub const FG_SCOPE_SINGLE: u32 = 0;
/// `fg_decision.scope` of a policy layer limiting per API key.
pub const FG_SCOPE_KEY: u32 = 1;
/// `fg_decision.scope` of a policy layer limiting per workspace.
pub const FG_SCOPE_WORKSPACE: u32 = 2;
/// `fg_decision.scope` of a policy layer limiting per source IP address.
pub const FG_SCOPE_IP: u32 = 3;
/// `fg_decision.scope` of a policy layer limiting per endpoint or resource.
pub const FG_SCOPE_ENDPOINT: u32 = 4;
/// `fg_decision.scope` of a policy layer limiting per access token.
pub const FG_SCOPE_TOKEN: u32 = 5;
/// `fg_decision.scope` of a policy layer with a name of its own: read it
/// from `fg_verdict.scope_name` or `fg_policy_layer_scope`.
pub const FG_SCOPE_NAMED: u32 = 6;

/// GenieOS's warning zone: remaining at or below 20 percent of the limit.
pub const FG_WARNING_ZONE_PERCENT: u64 = 20;
const _: () = assert!(FG_WARNING_ZONE_PERCENT == crate::presets::genieos::WARNING_ZONE_PERCENT);

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
    /// Which limit decided: `FG_SCOPE_SINGLE` for a single limit, an
    /// `FG_SCOPE_*` code for a policy layer.
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

/// `fg_decision` as raw integers: C may hand back any bytes, and a Rust
/// `bool` or enum with an invalid value would be undefined behaviour.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawDecision {
    admitted: u8,
    outcome: i32,
    limit: u64,
    remaining: u64,
    reset_after_ns: u64,
    retry_after_ns: u64,
    scope: u32,
}

const _: () = assert!(
    std::mem::size_of::<RawDecision>() == std::mem::size_of::<FgDecision>()
        && std::mem::align_of::<RawDecision>() == std::mem::align_of::<FgDecision>()
        && std::mem::offset_of!(RawDecision, outcome) == std::mem::offset_of!(FgDecision, outcome)
        && std::mem::offset_of!(RawDecision, scope) == std::mem::offset_of!(FgDecision, scope)
);

/// Reads a caller's `fg_decision` back into a [`Decision`] (to render headers
/// from it, say), refusing an outcome this library never writes.
///
/// # Safety
/// `decision` must be NULL or readable for an `fg_decision`.
pub(crate) unsafe fn read_decision(
    decision: *const FgDecision,
    name: &'static str,
) -> Result<Decision, Failure> {
    // SAFETY: readable for an fg_decision, whose layout RawDecision shares.
    let raw = unsafe { args::handle(decision.cast::<RawDecision>(), name) }?;
    let outcome = match raw.outcome {
        0 => Outcome::Admitted,
        1 => Outcome::Denied,
        2 => Outcome::CannotFit,
        3 => Outcome::Suspended,
        other => {
            return Err(Failure::new(
                FgStatus::InvalidArgument,
                format!("`{name}->outcome` is {other}, not an fg_outcome"),
            ))
        }
    };
    Ok(Decision::new(
        outcome,
        raw.limit,
        raw.remaining,
        raw.reset_after_ns,
        raw.retry_after_ns,
    ))
}

/// The `FG_SCOPE_*` code of a policy layer's scope.
pub(crate) fn scope_code(scope: Scope) -> u32 {
    match scope {
        Scope::Key => FG_SCOPE_KEY,
        Scope::Workspace => FG_SCOPE_WORKSPACE,
        Scope::Ip => FG_SCOPE_IP,
        Scope::Endpoint => FG_SCOPE_ENDPOINT,
        Scope::Token => FG_SCOPE_TOKEN,
        _ => FG_SCOPE_NAMED,
    }
}

/// The built-in scope an `FG_SCOPE_*` code names (not SINGLE or NAMED).
pub(crate) fn builtin_scope(code: u32) -> Option<Scope> {
    match code {
        FG_SCOPE_KEY => Some(Scope::Key),
        FG_SCOPE_WORKSPACE => Some(Scope::Workspace),
        FG_SCOPE_IP => Some(Scope::Ip),
        FG_SCOPE_ENDPOINT => Some(Scope::Endpoint),
        FG_SCOPE_TOKEN => Some(Scope::Token),
        _ => None,
    }
}

/// The NUL-terminated name of a built-in scope, as headers write it.
pub(crate) fn scope_c_name(scope: Scope) -> Option<&'static std::ffi::CStr> {
    match scope {
        Scope::Key => Some(c"key"),
        Scope::Workspace => Some(c"workspace"),
        Scope::Ip => Some(c"ip"),
        Scope::Endpoint => Some(c"endpoint"),
        Scope::Token => Some(c"token"),
        _ => None,
    }
}

/// Stores in `*out` the name headers use for a built-in scope code
/// (`FG_SCOPE_KEY` gives `"key"`, ... `FG_SCOPE_TOKEN` gives `"token"`): a
/// static NUL-terminated string. A layer's own name (`FG_SCOPE_NAMED`) comes
/// from `fg_verdict.scope_name` or `fg_policy_layer_scope` instead.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_ARGUMENT` (`FG_SCOPE_SINGLE`, `FG_SCOPE_NAMED` or an
/// unknown code), `FG_STATUS_PANIC`.
///
/// # Safety
/// `out` must be NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_scope_name(scope: u32, out: *mut *const c_char) -> FgStatus {
    guard("fg_scope_name", || {
        let out = Out::new(out, "out")?;
        let name = builtin_scope(scope).and_then(scope_c_name).ok_or_else(|| {
            Failure::new(
                FgStatus::InvalidArgument,
                format!(
                    "scope {scope} is not a built-in scope code (FG_SCOPE_KEY..FG_SCOPE_TOKEN)"
                ),
            )
        })?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(name.as_ptr()) };
        Ok(())
    })
}

/// Stores in `*out` whether `decision` is in the warning zone: at most
/// `threshold_percent` of its limit remains (GenieOS: 20 percent,
/// `FG_WARNING_ZONE_PERCENT`, "log it, slow down").
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_ARGUMENT` (an outcome this library never writes),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `decision` must be NULL or readable for an `fg_decision`; `out` NULL or
/// writable for a `bool`.
#[no_mangle]
pub unsafe extern "C" fn fg_decision_in_warning_zone(
    decision: *const FgDecision,
    threshold_percent: u64,
    out: *mut bool,
) -> FgStatus {
    guard("fg_decision_in_warning_zone", || {
        // SAFETY: readable for an fg_decision, by the contract.
        let decision = unsafe { read_decision(decision, "decision") }?;
        let out = Out::new(out, "out")?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(decision.in_warning_zone(threshold_percent)) };
        Ok(())
    })
}

/// The shared body of every call that answers with a decision: checks the
/// handle and `out` before `operation` runs, so a refused call charges nothing.
///
/// # Safety
/// `handle` must be NULL or live; `out` NULL or writable for an `fg_decision`.
#[inline(always)]
pub(crate) unsafe fn answer<H>(
    function: &'static str,
    handle: *const H,
    name: &'static str,
    out: *mut FgDecision,
    operation: impl FnOnce(&H) -> Result<Decision, Failure>,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let handle = unsafe { args::handle(handle, name) }?;
        let out = Out::new(out, "out")?;
        let decision = operation(handle)?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(FgDecision::new(&decision, FG_SCOPE_SINGLE)) };
        Ok(())
    })
}

/// [`answer`] for a reservation, which also stores its delay.
///
/// # Safety
/// As [`answer`]; `out_delay_ns` NULL or writable for a `uint64_t`.
pub(crate) unsafe fn reserve_into<H>(
    function: &'static str,
    handle: *const H,
    name: &'static str,
    out: *mut FgDecision,
    out_delay_ns: *mut u64,
    operation: impl FnOnce(&H) -> Result<Decision, Failure>,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let handle = unsafe { args::handle(handle, name) }?;
        let out = Out::new(out, "out")?;
        let out_delay_ns = Out::new(out_delay_ns, "out_delay_ns")?;
        let decision = operation(handle)?;
        let delay_ns = saturating_nanos(decision.delay());
        // SAFETY: both checked non-NULL and aligned; writable by the contract.
        unsafe {
            out.write(FgDecision::new(&decision, FG_SCOPE_SINGLE));
            out_delay_ns.write(delay_ns);
        }
        Ok(())
    })
}
