//! `fg_redis_layers`: several limits kept in Redis, checked for one
//! request by one script.

use super::*;
use crate::core::quota::Quota;
use crate::http::Scope;

/// A layer as an `fg_redis_layer` gives it: its scope, prefix and quota.
pub(in crate::ffi) type Layer<'a> = (Scope, &'a [u8], Quota);

/// `layers` of `fg_redis_layers_new` and `fg_leased_layers_new` read: each
/// layer's scope, prefix and quota. `config_prefix` (the config's) must be
/// NULL, since each layer has its own.
///
/// # Safety
/// `layers` NULL or readable for `count` structs of its first element's
/// `struct_size`, each `prefix` and `quota` readable; the prefixes stay
/// readable for `'a`.
pub(in crate::ffi) unsafe fn read_layers<'a>(
    layers: *const FgRedisLayer,
    count: usize,
    config_prefix: *const c_char,
) -> Result<Vec<Layer<'a>>, Failure> {
    if !config_prefix.is_null() {
        return Err(Failure::new(
            FgStatus::InvalidArgument,
            "`config->prefix` must be NULL: each fg_redis_layer has its own".to_string(),
        ));
    }
    if count > MAX_LAYERS {
        return Err(Error::TooManyLayers.into());
    }
    // SAFETY: readable for `count` elements, by the contract.
    let layers = unsafe { args::read_config_array(layers, count, "layers") }?;
    layers
        .iter()
        .map(|layer| {
            let scope = builtin_scope(layer.scope)
                .ok_or_else(|| args::unknown_constant("layers[].scope", layer.scope))?;
            if layer.prefix.is_null() {
                return Err(Failure::new(
                    FgStatus::NullPointer,
                    "`layers[].prefix` is NULL".to_string(),
                ));
            }
            // SAFETY: readable for prefix_len bytes for 'a, by the contract.
            let prefix =
                unsafe { args::bytes(layer.prefix.cast(), layer.prefix_len, "layers[].prefix") }?;
            // SAFETY: readable for its struct_size, by the contract.
            let quota = unsafe { args::read_config(layer.quota, "layers[].quota") }?;
            Ok((scope, prefix, quota.to_quota()?))
        })
        .collect()
}

/// Reads `config` and `layers` into layers on `store`.
///
/// # Safety
/// `layers` NULL or readable for `count` structs of its first element's
/// `struct_size`, each `prefix` and `quota` readable.
unsafe fn build_layers(
    store: &RedisStore,
    layers: *const FgRedisLayer,
    count: usize,
    config: &FgRedisConfig,
) -> Result<RedisLayers, Failure> {
    // SAFETY: this function's contract is `read_layers`'.
    let layers = unsafe { read_layers(layers, count, config.prefix) }?;
    let settings = Settings::read(config)?;
    let mut builder = settings.apply(RedisLayers::builder(store));
    for (scope, prefix, quota) in layers {
        builder = builder.layer(scope, prefix, quota);
    }
    Ok(builder.build()?)
}

/// Creates layers on `store`, `layers[i]` being layer `i` (at most
/// `FG_MAX_LAYERS`), and stores the handle in `*out` (NULL on failure).
/// `config->prefix` must be NULL (each layer has its own); its other
/// fields apply to every call. On Redis Cluster one call's keys must share
/// a hash tag (`{ws42}:key7`, `{ws42}`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_NO_LAYERS`,
/// `FG_STATUS_TOO_MANY_LAYERS`, the quota errors, `FG_STATUS_INVALID_ARGUMENT`
/// (a scope other than `FG_SCOPE_KEY` ... `FG_SCOPE_TOKEN`, a config prefix,
/// an unknown `on_failure`, one breaker field alone), `FG_STATUS_PANIC`.
///
/// # Safety
/// `store` must be NULL or a live handle; `layers` NULL or readable for
/// `count` structs of `layers[0].struct_size` bytes, each `prefix` readable
/// for its length and `quota` for its `struct_size`; `config` NULL or
/// readable for its `struct_size`; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_layers_new(
    store: *const FgRedisStore,
    layers: *const FgRedisLayer,
    count: usize,
    config: *const FgRedisConfig,
    out: *mut *mut FgRedisLayers,
) -> FgStatus {
    let make = |store: &RedisStore, config: &FgRedisConfig| {
        // SAFETY: this function's contract is `build_layers`'.
        unsafe { build_layers(store, layers, count, config) }
    };
    // SAFETY: this function's contract is `build_on_store`'s.
    unsafe { build_on_store("fg_redis_layers_new", store, config, out, make) }
}

/// Releases layers. NULL is a no-op.
///
/// # Safety
/// `layers` must be NULL or a handle from `fg_redis_layers_new` not yet
/// freed, with no call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_layers_free(layers: *mut FgRedisLayers) {
    // SAFETY: a live handle is a boxed RedisLayers (fg_redis_layers_new);
    // the rest is this function's contract.
    unsafe {
        handle::free(
            "fg_redis_layers_free",
            layers.cast::<RedisLayers>(),
            handle::unbox,
        )
    }
}

/// The body of `fg_redis_layers_check` and `fg_leased_layers_check`:
/// checks the handle (`H`, the boxed `T` behind it), `out` and the keys
/// (at most `MAX_LAYERS`, each `FG_LAYER_KEY_BYTES`) before `check` sends
/// or spends anything, then writes its verdict.
///
/// # Safety
/// `handle` NULL or a live handle of a boxed `T`; `keys` NULL or readable
/// for `count` keys whose `bytes` are readable for `len`; `out` NULL or
/// writable for an `fg_verdict`.
pub(in crate::ffi) unsafe fn check_layers<H, T>(
    function: &'static str,
    handle: *const H,
    keys: *const FgLayerKey,
    count: usize,
    out: *mut FgVerdict,
    check: impl FnOnce(&T, &[&[u8]]) -> crate::Result<Verdict>,
) -> FgStatus {
    guard(function, || {
        // SAFETY: a live handle is a boxed T, by the contract.
        let layers = unsafe { args::handle(handle.cast::<T>(), "layers") }?;
        let out = Out::new(out, "out")?;
        // SAFETY: NULL or readable, by the contract; this checks NULL and alignment.
        let first = unsafe { args::handle(keys, "keys") }?;
        if count > MAX_LAYERS {
            return Err(Error::LayerKeyCount.into());
        }
        // SAFETY: readable for `count` (<= MAX_LAYERS) keys, starting at `first`.
        let given = unsafe { std::slice::from_raw_parts(first as *const FgLayerKey, count) };
        let mut bytes: [&[u8]; MAX_LAYERS] = [&[]; MAX_LAYERS];
        for (slot, key) in bytes.iter_mut().zip(given) {
            *slot = match key.kind {
                // SAFETY: readable for `len`, by the contract.
                FG_LAYER_KEY_BYTES => unsafe { args::bytes(key.bytes, key.len, "keys[].bytes") }?,
                other => {
                    return Err(Failure::new(
                        FgStatus::KeyKindMismatch,
                        format!(
                            "`keys[].kind` is {other}; layers kept in Redis take \
                             FG_LAYER_KEY_BYTES keys"
                        ),
                    ))
                }
            };
        }
        let verdict = check(layers, &bytes[..count])?;
        let name =
            scope_c_name(verdict.scope()).expect("layers kept in Redis have built-in scopes");
        let verdict = FgVerdict {
            decision: FgDecision::new(&verdict.decision(), scope_code(verdict.scope())),
            // At most MAX_LAYERS (32).
            layer: verdict.layer() as u32,
            scope_name: name.as_ptr(),
        };
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out.write(verdict) };
        Ok(())
    })
}

/// Checks `cost` against every layer in Redis, `keys[i]` (an
/// `FG_LAYER_KEY_BYTES` key) being layer `i`'s, and fills `*out`: when
/// admitted, the layer with the least left; when refused, the longest wait.
/// A refusal charges no layer (a layer with a lockout is charged its
/// lockout). Blocks until Redis answers or the deadline passes, then
/// `on_failure` answers in the first layer's name.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_LAYER_KEY_COUNT`,
/// `FG_STATUS_KEY_KIND_MISMATCH` (a key of another kind than bytes),
/// `FG_STATUS_EMPTY_KEY`, `FG_STATUS_KEY_TOO_LONG` (nothing is sent then),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `layers` must be NULL or a live handle; `keys` NULL or readable for
/// `count` keys whose `bytes` are readable for `len`; `out` NULL or
/// writable for an `fg_verdict`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_layers_check(
    layers: *const FgRedisLayers,
    keys: *const FgLayerKey,
    count: usize,
    cost: u64,
    out: *mut FgVerdict,
) -> FgStatus {
    // SAFETY: a live handle is a boxed RedisLayers (fg_redis_layers_new);
    // the rest is `check_layers`' contract.
    unsafe {
        check_layers(
            "fg_redis_layers_check",
            layers,
            keys,
            count,
            out,
            |layers: &RedisLayers, keys| layers.check(keys, cost),
        )
    }
}

/// Fills `*out` with the layers' counts so far (as `fg_redis_limiter_counters`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `layers` must be NULL or a live handle; `out` NULL or writable for its
/// `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_layers_counters(
    layers: *const FgRedisLayers,
    out: *mut FgStoreCounters,
) -> FgStatus {
    guard("fg_redis_layers_counters", || {
        // SAFETY: a live handle is a boxed RedisLayers (fg_redis_layers_new).
        let layers = unsafe { args::handle(layers.cast::<RedisLayers>(), "layers") }?;
        // SAFETY: NULL or readable for its struct_size, by the contract.
        let out = unsafe { VersionedOut::new(out, "out") }?;
        let counters = layers_counters_of(layers);
        // SAFETY: writable for its struct_size, by the contract.
        unsafe { out.write(counters) };
        Ok(())
    })
}
