//! `fg_plans`: named tiers checked per API key and per workspace, with byte
//! keys and byte workspace ids (`Plans<[u8], [u8]>`).

use super::args::{self, Out, Versioned};
use super::decision::{scope_c_name, scope_code, FgDecision};
use super::handle;
use super::policy::{FgPolicyCounts, FgVerdict};
use super::quota::FgQuota;
use super::shared_memory::{self, FgSharedMemory};
use super::status::{guard, Failure, FgStatus};
use crate::core::clock::Clock;
use crate::policy::plans::{Plans, PlansBuilder, TierId, TierLimits};
use crate::policy::Verdict;
use std::time::Duration;

/// One tier of `fg_plans_new`, or a tier's new limits for
/// `fg_plans_reconfigure_tier`.
///
/// ```c
/// fg_quota hobby_key = { .struct_size = sizeof(fg_quota), .count = 30,
///                        .period_ns = 1000000000, .burst = 60 };
/// fg_tier tiers[2] = {
///     { .struct_size = sizeof(fg_tier), .name = "sandbox", .name_len = 7 },
///     { .struct_size = sizeof(fg_tier), .name = "hobby", .name_len = 5,
///       .key_quota = &hobby_key, .workspace_limit = 600 },
/// };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgTier {
    /// `sizeof(fg_tier)` as the caller compiled it, the same in every element.
    pub struct_size: usize,
    /// The tier's name (UTF-8), looked up by `fg_plans_tier`; ignored by
    /// `fg_plans_reconfigure_tier`.
    pub name: *const u8,
    /// The length of `name` in bytes.
    pub name_len: usize,
    /// Each key's bucket, or NULL: keys of this tier are not limited.
    pub key_quota: *const FgQuota,
    /// Each workspace's requests per window, or 0: not limited.
    pub workspace_limit: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, integers and raw pointers only.
unsafe impl Versioned for FgTier {
    const MIN_SIZE: usize = std::mem::size_of::<FgTier>();
}

/// Sizes for `fg_plans_new` and `fg_plans_new_genieos`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgPlansConfig {
    /// `sizeof(fg_plans_config)` as the caller compiled it.
    pub struct_size: usize,
    /// The workspace window in nanoseconds (`fg_plans_new` only; GenieOS
    /// counts per minute).
    pub window_ns: u64,
    /// How many API keys each tier holds at once; 0 picks 100,000.
    pub key_capacity: u64,
    /// How many workspaces are counted at once; 0 picks 10,000.
    pub workspace_capacity: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, plain integers only.
unsafe impl Versioned for FgPlansConfig {
    const MIN_SIZE: usize = std::mem::size_of::<FgPlansConfig>();
}

/// An opaque handle to a plan table. Create with `fg_plans_new` or
/// `fg_plans_new_genieos`, release with `fg_plans_free`.
pub struct FgPlans {
    plans: Plans<[u8], [u8]>,
}

type Builder = PlansBuilder<[u8], [u8], crate::core::clock::MonotonicClock>;

/// The limits a tier struct names.
///
/// # Safety
/// `tier.key_quota` NULL or readable for its `struct_size`.
unsafe fn limits(tier: &FgTier) -> Result<TierLimits, Failure> {
    let per_key = if tier.key_quota.is_null() {
        None
    } else {
        // SAFETY: readable for its struct_size, by the contract.
        Some(unsafe { args::read_config(tier.key_quota, "key_quota") }?.to_quota()?)
    };
    Ok(TierLimits {
        per_key,
        per_workspace: (tier.workspace_limit != 0).then_some(tier.workspace_limit),
    })
}

/// Applies `config`'s capacities and the segment (`None`: the heap),
/// builds, and returns the handle.
///
/// # Safety
/// `config` and a `Some(shared)` readable for their `struct_size` (the
/// segment's name or path for its length).
unsafe fn build(
    builder: impl FnOnce(&FgPlansConfig) -> Result<Builder, Failure>,
    config: *const FgPlansConfig,
    shared: Option<*const FgSharedMemory>,
) -> Result<*mut FgPlans, Failure> {
    // SAFETY: readable for its struct_size, by the contract.
    let config = unsafe { args::read_config(config, "config") }?;
    // SAFETY: as above, for `shared`.
    let shared = unsafe { shared_memory::read_if(shared) }?;
    let mut builder = builder(&config)?;
    if let Some(shared) = shared {
        builder = builder.shared(shared);
    }
    if config.key_capacity != 0 {
        builder = builder.key_capacity(args::saturating_usize(config.key_capacity));
    }
    if config.workspace_capacity != 0 {
        builder = builder.workspace_capacity(args::saturating_usize(config.workspace_capacity));
    }
    let plans = builder.build()?;
    Ok(handle::boxed(FgPlans { plans }))
}

/// Creates plans of `count` tiers (at least one) whose workspace limits
/// count requests per `config->window_ns`, and stores the handle in `*out`
/// (NULL on failure). A tier named twice keeps the last limits.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_NO_LAYERS` (no tiers),
/// `FG_STATUS_INVALID_UTF8`, the quota and window errors,
/// `FG_STATUS_ZERO_CAPACITY`, `FG_STATUS_CAPACITY_TOO_LARGE`,
/// `FG_STATUS_ALLOCATION_FAILED`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `tiers` NULL or readable for `count` elements of `tiers[0].struct_size`
/// bytes, their names and quotas readable; `config` NULL or readable for its
/// `struct_size`; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_new(
    tiers: *const FgTier,
    count: usize,
    config: *const FgPlansConfig,
    out: *mut *mut FgPlans,
) -> FgStatus {
    // SAFETY: this function's contract is `new_plans`'.
    unsafe { new_plans("fg_plans_new", tiers, count, config, None, out) }
}

/// `fg_plans_new` in shared mode: every tier's tables live in the segment
/// `shared` names (one file for all tiers), so every process that creates
/// these plans with the same segment and settings shares each key's bucket,
/// each workspace's window and every `fg_plans_reconfigure_tier` (see
/// `fg_shared_memory`). The handle's clock is `CLOCK_MONOTONIC`.
///
/// Errors: those of `fg_plans_new`; for `shared`, those of
/// `fg_shared_memory_remove`; `FG_STATUS_SEGMENT_MISMATCH` (the message
/// names "window (ns)", "window limit" (the largest tier's), "capacity"
/// (workspaces) or "options" (any other difference in the tiers or the key
/// capacity)), `FG_STATUS_SEGMENT_NOT_READY`, `FG_STATUS_SHARED_UNSUPPORTED`.
///
/// # Safety
/// As `fg_plans_new`; `shared` NULL or readable for its `struct_size`, its
/// `name` or `path` readable for its length.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_new_shared(
    tiers: *const FgTier,
    count: usize,
    config: *const FgPlansConfig,
    shared: *const FgSharedMemory,
    out: *mut *mut FgPlans,
) -> FgStatus {
    let function = "fg_plans_new_shared";
    // SAFETY: this function's contract is `new_plans`'.
    unsafe { new_plans(function, tiers, count, config, Some(shared), out) }
}

/// The body of `fg_plans_new` and `fg_plans_new_shared` (`shared` `None`:
/// the heap).
///
/// # Safety
/// As `fg_plans_new_shared`, with a `Some` for `shared`.
unsafe fn new_plans(
    function: &'static str,
    tiers: *const FgTier,
    count: usize,
    config: *const FgPlansConfig,
    shared: Option<*const FgSharedMemory>,
    out: *mut *mut FgPlans,
) -> FgStatus {
    let make = || {
        let tiers = || {
            // SAFETY: readable for `count` elements, by the contract.
            let tiers = unsafe { args::read_config_array(tiers, count, "tiers") }?;
            if tiers.is_empty() {
                return Err(Failure::new(
                    FgStatus::NoLayers,
                    "`count` is 0: no tiers".into(),
                ));
            }
            Ok(tiers)
        };
        let builder = |config: &FgPlansConfig| {
            let tiers = tiers()?;
            let mut builder = Plans::builder(Duration::from_nanos(config.window_ns));
            for tier in &tiers {
                // SAFETY: readable for name_len bytes, by the contract.
                let name = unsafe { args::text(tier.name, tier.name_len, "tiers[].name") }?;
                // SAFETY: the quota readable, by the contract.
                builder = builder.tier(name, unsafe { limits(tier) }?);
            }
            Ok(builder)
        };
        // SAFETY: the contract is `build`'s.
        unsafe { build(builder, config, shared) }
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create(function, out, make) }
}

/// Creates the GenieOS plan table: tiers "sandbox" (unlimited), "hobby" (30
/// per second, burst 60, per key; 600 per minute per workspace), "pro"
/// (60/s burst 120; 1,800/min) and "scale" (120/s burst 240; 6,000/min).
/// `config->window_ns` is ignored (GenieOS counts per minute).
///
/// Errors: as `fg_plans_new`.
///
/// # Safety
/// `config` NULL or readable for its `struct_size`; `out` NULL or writable
/// for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_new_genieos(
    config: *const FgPlansConfig,
    out: *mut *mut FgPlans,
) -> FgStatus {
    // SAFETY: this function's contract is `new_genieos`'.
    unsafe { new_genieos("fg_plans_new_genieos", config, None, out) }
}

/// `fg_plans_new_genieos` in shared mode (see `fg_plans_new_shared`).
///
/// Errors: as `fg_plans_new_shared`.
///
/// # Safety
/// As `fg_plans_new_genieos`; `shared` NULL or readable for its
/// `struct_size`, its `name` or `path` readable for its length.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_new_genieos_shared(
    config: *const FgPlansConfig,
    shared: *const FgSharedMemory,
    out: *mut *mut FgPlans,
) -> FgStatus {
    // SAFETY: this function's contract is `new_genieos`'.
    unsafe { new_genieos("fg_plans_new_genieos_shared", config, Some(shared), out) }
}

/// The body of both GenieOS constructors (`shared` `None`: the heap).
///
/// # Safety
/// As `fg_plans_new_genieos_shared`, with a `Some` for `shared`.
unsafe fn new_genieos(
    function: &'static str,
    config: *const FgPlansConfig,
    shared: Option<*const FgSharedMemory>,
    out: *mut *mut FgPlans,
) -> FgStatus {
    let genieos = |_: &FgPlansConfig| Ok(crate::presets::genieos::plans()?);
    // SAFETY: the contract is `build`'s.
    let make = || unsafe { build(genieos, config, shared) };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create(function, out, make) }
}

/// Stores in `*out_shared` whether the plans live in a shared segment (made
/// by `fg_plans_new_shared` or `fg_plans_new_genieos_shared`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `plans` must be NULL or a live handle; `out_shared` NULL or writable for
/// a `bool`.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_is_shared(
    plans: *const FgPlans,
    out_shared: *mut bool,
) -> FgStatus {
    // SAFETY: this function's contract is `answer_is_shared`'s.
    unsafe {
        shared_memory::answer_is_shared(
            "fg_plans_is_shared",
            plans,
            "plans",
            out_shared,
            |handle| handle.plans.is_shared(),
        )
    }
}

/// Releases plans. NULL is a no-op. The handle must not be in use by any
/// other thread, and must not be used again.
///
/// # Safety
/// `plans` must be NULL or a live handle, with no call on it running or
/// starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_free(plans: *mut FgPlans) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_plans_free", plans, handle::unbox) }
}

#[cold]
fn no_tier(tier: u32) -> Failure {
    Failure::new(FgStatus::NoSuchLayer, format!("no tier {tier}"))
}

impl FgPlans {
    /// The tier with index `tier`, as `fg_plans_tier` answers it.
    fn tier_id(&self, tier: u32) -> Result<TierId, Failure> {
        let name = self
            .plans
            .tier_names()
            .nth(tier as usize)
            .ok_or_else(|| no_tier(tier))?;
        self.plans.tier(name).ok_or_else(|| no_tier(tier))
    }
}

/// Stores the index of the tier called `name` in `*out_tier`.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_UTF8`, `FG_STATUS_NO_SUCH_LAYER` (no such tier),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `plans` NULL or live; `name` NULL or readable for `len` bytes;
/// `out_tier` NULL or writable for a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_tier(
    plans: *const FgPlans,
    name: *const u8,
    len: usize,
    out_tier: *mut u32,
) -> FgStatus {
    guard("fg_plans_tier", || {
        // SAFETY: NULL or live, by the contract.
        let plans = &unsafe { args::handle(plans, "plans") }?.plans;
        let out_tier = Out::new(out_tier, "out_tier")?;
        // SAFETY: readable for `len` bytes, by the contract.
        let name = unsafe { args::text(name, len, "name") }?;
        let index = plans
            .tier_names()
            .position(|tier| tier == name)
            .ok_or_else(|| {
                Failure::new(FgStatus::NoSuchLayer, format!("no tier named {name:?}"))
            })?;
        // A tier past u32::MAX could not be named by the other calls.
        let index = u32::try_from(index).map_err(|_| no_tier(u32::MAX))?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_tier.write(index) };
        Ok(())
    })
}

fn verdict(verdict: &Verdict) -> FgVerdict {
    let name = scope_c_name(verdict.scope()).expect("plans report key or workspace");
    FgVerdict {
        decision: FgDecision::new(&verdict.decision(), scope_code(verdict.scope())),
        // A tier has at most two layers.
        layer: verdict.layer() as u32,
        scope_name: name.as_ptr(),
    }
}

/// # Safety
/// As `fg_plans_check_at`.
#[allow(clippy::too_many_arguments)]
unsafe fn check(
    function: &'static str,
    plans: *const FgPlans,
    tier: u32,
    key: *const u8,
    key_len: usize,
    workspace: *const u8,
    workspace_len: usize,
    cost: u64,
    now_ns: Option<u64>,
    out: *mut FgVerdict,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let handle = unsafe { args::handle(plans, "plans") }?;
        let out = Out::new(out, "out")?;
        // SAFETY: readable for their lengths, by the contract.
        let key = unsafe { args::bytes(key, key_len, "key") }?;
        // SAFETY: as above.
        let workspace = unsafe { args::bytes(workspace, workspace_len, "workspace") }?;
        let tier = handle.tier_id(tier)?;
        let answer = match now_ns {
            Some(now_ns) => handle.plans.check_at(tier, key, workspace, cost, now_ns)?,
            None => handle.plans.check(tier, key, workspace, cost)?,
        };
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(verdict(&answer)) };
        Ok(())
    })
}

/// Checks `cost` for the API key (`key`, `key_len`) of the workspace
/// (`workspace`, `workspace_len`) on tier `tier` now, and fills `*out`:
/// `scope_name` "key" or "workspace" names the limit that decided (a static
/// string). An unlimited tier admits with limit and remaining `UINT64_MAX`.
/// A refusal is not an error, and charges nothing.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_NO_SUCH_LAYER` (no such tier), `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_PANIC`. A new key or workspace that
/// finds its table full is refused (not an error), scope "key" or "workspace".
///
/// # Safety
/// `plans` NULL or live; `key` and `workspace` NULL or readable for their
/// lengths; `out` NULL or writable for an `fg_verdict`.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_check(
    plans: *const FgPlans,
    tier: u32,
    key: *const u8,
    key_len: usize,
    workspace: *const u8,
    workspace_len: usize,
    cost: u64,
    out: *mut FgVerdict,
) -> FgStatus {
    // SAFETY: the contract is `check`'s.
    unsafe {
        check(
            "fg_plans_check",
            plans,
            tier,
            key,
            key_len,
            workspace,
            workspace_len,
            cost,
            None,
            out,
        )
    }
}

/// `fg_plans_check` at a caller-supplied time.
///
/// # Safety
/// As `fg_plans_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_check_at(
    plans: *const FgPlans,
    tier: u32,
    key: *const u8,
    key_len: usize,
    workspace: *const u8,
    workspace_len: usize,
    cost: u64,
    now_ns: u64,
    out: *mut FgVerdict,
) -> FgStatus {
    // SAFETY: the contract is `check`'s.
    unsafe {
        check(
            "fg_plans_check_at",
            plans,
            tier,
            key,
            key_len,
            workspace,
            workspace_len,
            cost,
            Some(now_ns),
            out,
        )
    }
}

/// Replaces tier `tier`'s limits (`limits->name` is ignored). A limit can be
/// changed, not added or removed: keys keep their usage and workspaces their
/// counts, converted as of now on the library's clock.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_NO_SUCH_LAYER` (no such tier, or a
/// limit added or removed), the quota and window errors, `FG_STATUS_PANIC`.
///
/// # Safety
/// `plans` NULL or live; `limits` NULL or readable for its `struct_size`, its
/// `key_quota` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_reconfigure_tier(
    plans: *const FgPlans,
    tier: u32,
    limits: *const FgTier,
) -> FgStatus {
    // SAFETY: the contract is `reconfigure_tier`'s.
    unsafe { reconfigure_tier("fg_plans_reconfigure_tier", plans, tier, limits, None) }
}

/// `fg_plans_reconfigure_tier` with keys' usage converted as of `now_ns` on
/// the caller's timeline (the one its `_at` checks use).
///
/// Errors: as `fg_plans_reconfigure_tier`.
///
/// # Safety
/// As `fg_plans_reconfigure_tier`.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_reconfigure_tier_at(
    plans: *const FgPlans,
    tier: u32,
    limits: *const FgTier,
    now_ns: u64,
) -> FgStatus {
    // SAFETY: the contract is `reconfigure_tier`'s.
    unsafe {
        reconfigure_tier(
            "fg_plans_reconfigure_tier_at",
            plans,
            tier,
            limits,
            Some(now_ns),
        )
    }
}

/// Both reconfigurations: at `now_ns`, or now on the plans' clock.
///
/// # Safety
/// As `fg_plans_reconfigure_tier`.
unsafe fn reconfigure_tier(
    function: &'static str,
    plans: *const FgPlans,
    tier: u32,
    limits: *const FgTier,
    now_ns: Option<u64>,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let handle = unsafe { args::handle(plans, "plans") }?;
        // SAFETY: readable for its struct_size, by the contract.
        let tier_limits = unsafe { args::read_config(limits, "limits") }?;
        // SAFETY: the quota readable, by the contract.
        let tier_limits = unsafe { self::limits(&tier_limits) }?;
        let tier = handle.tier_id(tier)?;
        let now_ns = now_ns.unwrap_or_else(|| handle.plans.clock().now_ns());
        Ok(handle
            .plans
            .reconfigure_tier_at(tier, tier_limits, now_ns)?)
    })
}

/// Fills `*out` with tier `tier`'s counts so far (zeros for an unlimited tier).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_NO_SUCH_LAYER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `plans` NULL or live; `out` NULL or writable for an `fg_policy_counts`.
#[no_mangle]
pub unsafe extern "C" fn fg_plans_counters(
    plans: *const FgPlans,
    tier: u32,
    out: *mut FgPolicyCounts,
) -> FgStatus {
    guard("fg_plans_counters", || {
        // SAFETY: NULL or live, by the contract.
        let handle = unsafe { args::handle(plans, "plans") }?;
        let out = Out::new(out, "out")?;
        let counters = handle.plans.counters(handle.tier_id(tier)?)?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(counters.into()) };
        Ok(())
    })
}
