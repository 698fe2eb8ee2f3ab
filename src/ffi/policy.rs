//! `fg_policy`: several limits checked together for one request (source IP,
//! token, workspace, endpoint...), admitting only if every enforcing layer
//! admits; a denial charges no layer.

use super::args::{self, Out, Versioned};
use super::decision::{builtin_scope, scope_code, FgDecision, FG_SCOPE_NAMED};
use super::handle;
use super::key_kind::ip_from_bytes;
use super::keyed::FgKeyedLimiter;
use super::keyed_window::FgKeyedWindow;
use super::limiter::FgLimiter;
use super::shared;
use super::status::{guard, Failure, FgStatus};
use super::suspensions::FgSuspensions;
use super::window::FgWindow;
use crate::http::Scope;
use crate::policy::{LayerKey, Policy, PolicyBuilder, PolicyCounters, Verdict, MAX_LAYERS};
use std::ffi::{c_char, CString};

/// `fg_layer.flags`: the layer is evaluated and counted but never denies
/// (shadow mode, to roll a new limit out safely).
pub const FG_LAYER_SHADOW: u32 = 1;

/// The most layers a policy has.
pub const FG_MAX_LAYERS: usize = 32;
const _: () = assert!(FG_MAX_LAYERS == MAX_LAYERS);

/// `fg_layer_key.kind`: no key, for a layer that limits everything together
/// (an `fg_limiter` or `fg_window`).
pub const FG_LAYER_KEY_NONE: u32 = 0;
/// `fg_layer_key.kind`: `id`, for a keyed limiter built with `FG_KEY_U64`.
pub const FG_LAYER_KEY_ID: u32 = 1;
/// `fg_layer_key.kind`: (`bytes`, `len`), for a keyed limiter built with
/// `FG_KEY_BYTES`.
pub const FG_LAYER_KEY_BYTES: u32 = 2;
/// `fg_layer_key.kind`: an IP address as 4 or 16 bytes in (`bytes`, `len`),
/// for a keyed limiter built with `FG_KEY_IP`.
pub const FG_LAYER_KEY_IP: u32 = 3;

/// One layer of a policy: exactly one of `limiter`, `keyed_limiter`,
/// `window`, `suspensions` and `keyed_window` is set. The policy takes its
/// own reference to that limit, so the caller may keep using (and
/// reconfiguring) the limit through its handle, and may free the handle
/// before or after the policy.
///
/// ```c
/// fg_layer layers[2] = {
///     { .struct_size = sizeof(fg_layer), .scope = FG_SCOPE_KEY, .keyed_limiter = per_key },
///     { .struct_size = sizeof(fg_layer), .scope = FG_SCOPE_NAMED, .name = "activation",
///       .name_len = 10, .limiter = activations },
/// };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgLayer {
    /// `sizeof(fg_layer)` as the caller compiled it, the same in every element.
    pub struct_size: usize,
    /// `FG_SCOPE_KEY` ... `FG_SCOPE_TOKEN`, or `FG_SCOPE_NAMED` with `name`.
    pub scope: u32,
    /// 0, or `FG_LAYER_SHADOW`.
    pub flags: u32,
    /// For `FG_SCOPE_NAMED`: the scope's name (UTF-8, no NUL), as headers
    /// will write it; ignored otherwise. The policy keeps a copy.
    pub name: *const c_char,
    /// The length of `name` in bytes.
    pub name_len: usize,
    /// A single bucket (keys: `FG_LAYER_KEY_NONE`).
    pub limiter: *const FgLimiter,
    /// Per-key buckets (keys: `FG_LAYER_KEY_ID`, `_BYTES` or `_IP`, by the
    /// limiter's key kind).
    pub keyed_limiter: *const FgKeyedLimiter,
    /// A sliding window (keys: `FG_LAYER_KEY_NONE`).
    pub window: *const FgWindow,
    /// Suspended keys (keys: `FG_LAYER_KEY_ID`, `_BYTES` or `_IP`, by the
    /// handle's key kind): a suspended key answers `FG_OUTCOME_SUSPENDED`,
    /// any other passes. Put it first so a suspended request charges no
    /// bucket. Added in ABI 1.2: a caller built against 1.1 declares the
    /// smaller `struct_size` and reads as "not set".
    pub suspensions: *const FgSuspensions,
    /// A sliding window per key (keys: `FG_LAYER_KEY_ID`, `_BYTES` or `_IP`,
    /// by the handle's key kind). Added in ABI 1.2.
    pub keyed_window: *const FgKeyedWindow,
}

// SAFETY: repr(C), starts with `struct_size: usize`, integers and raw pointers only.
unsafe impl Versioned for FgLayer {
    /// ABI 1.1's layout ended with `window`.
    const MIN_SIZE: usize = std::mem::offset_of!(FgLayer, suspensions);
}

/// The key a request presents to one layer. Fixed layout for ABI major 1.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgLayerKey {
    /// `FG_LAYER_KEY_NONE`, `_ID`, `_BYTES` or `_IP`.
    pub kind: u32,
    /// The key for `FG_LAYER_KEY_ID`.
    pub id: u64,
    /// The key for `FG_LAYER_KEY_BYTES` and `FG_LAYER_KEY_IP`.
    pub bytes: *const u8,
    /// The length of `bytes`.
    pub len: usize,
}

/// The answer to a layered check. Output only; the layout is fixed for ABI
/// major version 1.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgVerdict {
    /// When admitted: the enforcing layer with the fewest remaining units
    /// (what `X-RateLimit-*` should show). When refused: the layer with the
    /// longest wait, so `Retry-After` is never too short. `decision.scope` is
    /// that layer's `FG_SCOPE_*` code.
    pub decision: FgDecision,
    /// The index of that layer in the array the policy was built from.
    pub layer: u32,
    /// That layer's scope name (`"key"`, `"ip"`, or its own name), NUL
    /// terminated, owned by the policy and valid until it is freed.
    pub scope_name: *const c_char,
}

/// A policy's counts so far, for monitoring. Fixed layout for ABI major 1.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgPolicyCounts {
    /// Requests every enforcing layer admitted.
    pub admitted: u64,
    /// Requests an enforcing layer refused on rate (denied or cannot fit).
    pub denied: u64,
    /// Requests refused because a layer's key is suspended.
    pub suspended: u64,
}

impl From<PolicyCounters> for FgPolicyCounts {
    fn from(counters: PolicyCounters) -> Self {
        FgPolicyCounts {
            admitted: counters.admitted,
            denied: counters.denied,
            suspended: counters.suspended,
        }
    }
}

/// One layer's counts so far. Fixed layout for ABI major 1.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgLayerCounts {
    /// Requests this layer refused (enforcing layers only).
    pub denied: u64,
    /// Requests this shadow layer would have refused.
    pub shadow_denied: u64,
    /// Requests this layer refused because the key is suspended.
    pub suspended: u64,
}

/// An opaque handle to a layered policy. Create with `fg_policy_new`,
/// release with `fg_policy_free`.
pub struct FgPolicy {
    // Declared before `names`, so it is dropped first: its named scopes
    // borrow from `names`.
    policy: Policy,
    /// Each layer's scope name, NUL terminated.
    names: Vec<CString>,
}

/// Creates a policy of `count` layers (1 to `FG_MAX_LAYERS`), checked in
/// array order, and stores its handle in `*out` (NULL on failure).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_NO_LAYERS`, `FG_STATUS_TOO_MANY_LAYERS`,
/// `FG_STATUS_INVALID_ARGUMENT` (a layer with no limit or more than one, an
/// unknown scope or flag, a name with a NUL), `FG_STATUS_INVALID_UTF8`,
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `layers` must be NULL or readable for `count` elements of
/// `layers[0].struct_size` bytes, each naming live handles and a `name`
/// readable for `name_len` bytes; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_policy_new(
    layers: *const FgLayer,
    count: usize,
    out: *mut *mut FgPolicy,
) -> FgStatus {
    let make = || {
        if count > MAX_LAYERS {
            return Err(crate::core::error::Error::TooManyLayers.into());
        }
        // SAFETY: readable for `count` elements of its stride, by the contract.
        let layers = unsafe { args::read_config_array(layers, count, "layers") }?;
        let mut names = Vec::with_capacity(layers.len());
        let mut builder = Policy::builder();
        for (index, layer) in layers.iter().enumerate() {
            // SAFETY: the layer's name and handles are live, by the contract.
            let (scope, name) = unsafe { layer_scope(layer, index) }?;
            // SAFETY: as above.
            builder = unsafe { add_layer(builder, layer, scope, index) }?;
            names.push(name);
        }
        let policy = builder.build()?;
        Ok(handle::boxed(FgPolicy { policy, names }))
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_policy_new", out, make) }
}

/// The scope a layer reports and its NUL-terminated name.
///
/// # Safety
/// `layer.name` NULL or readable for `layer.name_len` bytes.
unsafe fn layer_scope(layer: &FgLayer, index: usize) -> Result<(Scope, CString), Failure> {
    if let Some(scope) = builtin_scope(layer.scope) {
        let name = CString::new(scope.as_str()).expect("built-in names have no NUL");
        return Ok((scope, name));
    }
    if layer.scope != FG_SCOPE_NAMED {
        return Err(Failure::new(
            FgStatus::InvalidArgument,
            format!(
                "`layers[{index}].scope` is {}, not an FG_SCOPE_* layer code",
                layer.scope
            ),
        ));
    }
    // SAFETY: readable for name_len bytes, by the contract.
    let text = unsafe { args::text(layer.name.cast::<u8>(), layer.name_len, "layers[].name") }?;
    let name = CString::new(text).map_err(|_| {
        Failure::new(
            FgStatus::InvalidArgument,
            format!("`layers[{index}].name` contains a NUL byte"),
        )
    })?;
    let borrowed = name.to_str().expect("made from a str");
    // SAFETY: the CString's heap bytes do not move when the CString does,
    // and FgPolicy drops its Policy (every copy of this Scope) before its
    // names, so the 'static borrow never outlives the bytes. Verdicts copied
    // out of the policy are turned into C values before the call returns.
    let named: &'static str = unsafe { &*(borrowed as *const str) };
    Ok((Scope::Named(named), name))
}

/// Adds the one limit `layer` names to `builder`.
///
/// # Safety
/// The handles in `layer` are NULL or live.
unsafe fn add_layer(
    builder: PolicyBuilder<crate::core::clock::MonotonicClock>,
    layer: &FgLayer,
    scope: Scope,
    index: usize,
) -> Result<PolicyBuilder<crate::core::clock::MonotonicClock>, Failure> {
    let shadow = match layer.flags {
        0 => false,
        FG_LAYER_SHADOW => true,
        other => {
            return Err(Failure::new(
                FgStatus::InvalidArgument,
                format!("`layers[{index}].flags` is {other}; only FG_LAYER_SHADOW is defined"),
            ))
        }
    };
    let set = [
        !layer.limiter.is_null(),
        !layer.keyed_limiter.is_null(),
        !layer.window.is_null(),
        !layer.suspensions.is_null(),
        !layer.keyed_window.is_null(),
    ];
    if set.iter().filter(|&&is_set| is_set).count() != 1 {
        return Err(Failure::new(
            FgStatus::InvalidArgument,
            format!("`layers[{index}]` must set exactly one of limiter, keyed_limiter, window, suspensions, keyed_window"),
        ));
    }
    macro_rules! push {
        ($limit:expr) => {
            if shadow {
                builder.shadow_layer(scope, $limit)
            } else {
                builder.layer(scope, $limit)
            }
        };
    }
    Ok(if !layer.limiter.is_null() {
        // SAFETY: a live handle, by the contract.
        push!(unsafe { shared::share(layer.limiter, "layers[].limiter") }?)
    } else if !layer.window.is_null() {
        // SAFETY: a live handle, by the contract.
        push!(unsafe { shared::share(layer.window, "layers[].window") }?)
    } else if !layer.suspensions.is_null() {
        // SAFETY: a live handle, by the contract.
        push!(unsafe { shared::share(layer.suspensions, "layers[].suspensions") }?)
    } else if !layer.keyed_window.is_null() {
        // SAFETY: a live handle, by the contract.
        push!(unsafe { shared::share(layer.keyed_window, "layers[].keyed_window") }?)
    } else {
        // SAFETY: a live handle, by the contract.
        push!(unsafe { shared::share(layer.keyed_limiter, "layers[].keyed_limiter") }?)
    })
}

/// Releases a policy (and its references to its layers' limits). NULL is a
/// no-op. The handle must not be in use by any other thread, and must not be
/// used again; `scope_name` pointers from its verdicts die with it.
///
/// # Safety
/// `policy` must be NULL or a live handle from `fg_policy_new`, with no call
/// on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_policy_free(policy: *mut FgPolicy) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_policy_free", policy, handle::unbox) }
}

/// Turns C layer keys into the policy's, with no allocation.
///
/// # Safety
/// `keys` NULL or readable for `count` keys whose `bytes` are readable for `len`.
unsafe fn layer_keys<'a>(
    keys: *const FgLayerKey,
    count: usize,
    into: &'a mut [LayerKey<'a>; MAX_LAYERS],
) -> Result<&'a [LayerKey<'a>], Failure> {
    // SAFETY: NULL or readable, by the contract; this checks NULL and alignment.
    let first = unsafe { args::handle(keys, "keys") }?;
    if count > MAX_LAYERS {
        return Err(crate::core::error::Error::LayerKeyCount.into());
    }
    // SAFETY: readable for `count` (<= MAX_LAYERS) keys, starting at `first`.
    let given = unsafe { std::slice::from_raw_parts(first as *const FgLayerKey, count) };
    for (slot, key) in into.iter_mut().zip(given) {
        *slot = match key.kind {
            FG_LAYER_KEY_NONE => LayerKey::Unkeyed,
            FG_LAYER_KEY_ID => LayerKey::Id(key.id),
            FG_LAYER_KEY_BYTES => {
                // SAFETY: readable for `len`, by the contract.
                LayerKey::Bytes(unsafe { args::bytes(key.bytes, key.len, "keys[].bytes") }?)
            }
            FG_LAYER_KEY_IP => {
                // SAFETY: readable for `len`, by the contract.
                let bytes = unsafe { args::bytes(key.bytes, key.len, "keys[].bytes") }?;
                LayerKey::Ip(ip_from_bytes(bytes, "keys[].bytes")?)
            }
            other => {
                return Err(Failure::new(
                    FgStatus::InvalidArgument,
                    format!("`keys[].kind` is {other}, not an FG_LAYER_KEY_* code"),
                ))
            }
        };
    }
    Ok(&into[..count])
}

/// # Safety
/// As `fg_policy_check_at`.
#[inline(always)]
unsafe fn check(
    function: &'static str,
    policy: *const FgPolicy,
    keys: *const FgLayerKey,
    count: usize,
    cost: u64,
    now_ns: Option<u64>,
    out: *mut FgVerdict,
) -> FgStatus {
    guard(function, || {
        // SAFETY: NULL or live, by the contract.
        let policy = unsafe { args::handle(policy, "policy") }?;
        let out = Out::new(out, "out")?;
        let mut storage = [LayerKey::Unkeyed; MAX_LAYERS];
        // SAFETY: readable for `count` keys, by the contract.
        let keys = unsafe { layer_keys(keys, count, &mut storage) }?;
        let verdict = match now_ns {
            Some(now_ns) => policy.policy.check_at(keys, cost, now_ns)?,
            None => policy.policy.check(keys, cost)?,
        };
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(policy.verdict(&verdict)) };
        Ok(())
    })
}

impl FgPolicy {
    fn verdict(&self, verdict: &Verdict) -> FgVerdict {
        FgVerdict {
            decision: FgDecision::new(&verdict.decision(), scope_code(verdict.scope())),
            // At most MAX_LAYERS (32).
            layer: verdict.layer() as u32,
            scope_name: self.names[verdict.layer()].as_ptr(),
        }
    }
}

/// Checks `cost` against every layer now (the library's clock); `keys[i]` is
/// layer `i`'s key and `count` must equal the number of layers. Layers are
/// charged in order; when one refuses, those already charged are refunded,
/// so a refused request leaves no trace. A refusal is not an error.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_LAYER_KEY_COUNT`, `FG_STATUS_KEY_KIND_MISMATCH`,
/// `FG_STATUS_EMPTY_KEY`, `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_INVALID_LENGTH`,
/// `FG_STATUS_INVALID_ARGUMENT` (an unknown key kind), `FG_STATUS_PANIC`; on
/// error no layer was charged.
///
/// # Safety
/// `policy` must be NULL or a live handle; `keys` NULL or readable for
/// `count` keys, each `bytes` readable for its `len`; `out` NULL or writable
/// for an `fg_verdict`.
#[no_mangle]
pub unsafe extern "C" fn fg_policy_check(
    policy: *const FgPolicy,
    keys: *const FgLayerKey,
    count: usize,
    cost: u64,
    out: *mut FgVerdict,
) -> FgStatus {
    // SAFETY: this function's contract is `check`'s.
    unsafe { check("fg_policy_check", policy, keys, count, cost, None, out) }
}

/// `fg_policy_check` at a caller-supplied `now_ns`, the time every layer is
/// asked at (see `fg_limiter_check_at`).
///
/// Errors: as `fg_policy_check`.
///
/// # Safety
/// As `fg_policy_check`.
#[no_mangle]
pub unsafe extern "C" fn fg_policy_check_at(
    policy: *const FgPolicy,
    keys: *const FgLayerKey,
    count: usize,
    cost: u64,
    now_ns: u64,
    out: *mut FgVerdict,
) -> FgStatus {
    // SAFETY: this function's contract is `check`'s.
    unsafe {
        check(
            "fg_policy_check_at",
            policy,
            keys,
            count,
            cost,
            Some(now_ns),
            out,
        )
    }
}

/// Fills `*out` with the policy's counts so far.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `policy` must be NULL or a live handle; `out` NULL or writable for an
/// `fg_policy_counters`.
#[no_mangle]
pub unsafe extern "C" fn fg_policy_counters(
    policy: *const FgPolicy,
    out: *mut FgPolicyCounts,
) -> FgStatus {
    guard("fg_policy_counters", || {
        // SAFETY: NULL or live, by the contract.
        let policy = &unsafe { args::handle(policy, "policy") }?.policy;
        let out = Out::new(out, "out")?;
        let counters = policy.counters();
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(counters.into()) };
        Ok(())
    })
}

/// Fills `*out` with layer `layer`'s counts so far.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_NO_SUCH_LAYER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `policy` must be NULL or a live handle; `out` NULL or writable for an
/// `fg_layer_counters`.
#[no_mangle]
pub unsafe extern "C" fn fg_policy_layer_counters(
    policy: *const FgPolicy,
    layer: usize,
    out: *mut FgLayerCounts,
) -> FgStatus {
    guard("fg_policy_layer_counters", || {
        // SAFETY: NULL or live, by the contract.
        let policy = &unsafe { args::handle(policy, "policy") }?.policy;
        let out = Out::new(out, "out")?;
        let counters = policy.layer_counters(layer)?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe {
            out.write(FgLayerCounts {
                denied: counters.denied,
                shadow_denied: counters.shadow_denied,
                suspended: counters.suspended,
            })
        };
        Ok(())
    })
}

/// Stores in `*out_count` how many layers the policy has.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `policy` must be NULL or a live handle; `out_count` NULL or writable for a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_policy_layer_count(
    policy: *const FgPolicy,
    out_count: *mut usize,
) -> FgStatus {
    guard("fg_policy_layer_count", || {
        // SAFETY: NULL or live, by the contract.
        let policy = &unsafe { args::handle(policy, "policy") }?.policy;
        let out_count = Out::new(out_count, "out_count")?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_count.write(policy.len()) };
        Ok(())
    })
}

/// Stores in `*out_name` layer `layer`'s scope name (NUL terminated, owned by
/// the policy, valid until it is freed).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_NO_SUCH_LAYER`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `policy` must be NULL or a live handle; `out_name` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_policy_layer_scope(
    policy: *const FgPolicy,
    layer: usize,
    out_name: *mut *const c_char,
) -> FgStatus {
    guard("fg_policy_layer_scope", || {
        // SAFETY: NULL or live, by the contract.
        let policy = unsafe { args::handle(policy, "policy") }?;
        let out_name = Out::new(out_name, "out_name")?;
        let name = policy
            .names
            .get(layer)
            .ok_or(crate::core::error::Error::NoSuchLayer)?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_name.write(name.as_ptr()) };
        Ok(())
    })
}
