//! The C ABI of the Redis store, called as C calls it.

use super::*;
use std::ptr;

/// `fg_redis_store_open` on `url`: its status and handle.
pub(in crate::ffi) fn open(url: &str) -> (FgStatus, *mut FgRedisStore) {
    let mut store = ptr::null_mut();
    // SAFETY: `url` is readable for its length, `store` writable.
    let status = unsafe { fg_redis_store_open(url.as_ptr().cast(), url.len(), &mut store) };
    (status, store)
}

#[cfg(not(feature = "redis"))]
#[test]
fn a_library_without_redis_says_so() {
    let (status, store) = open("redis://127.0.0.1:6379/");
    assert_eq!(status, FgStatus::StoreUnavailable);
    assert!(store.is_null());
}

#[cfg(feature = "redis")]
#[test]
fn bad_arguments_are_statuses_and_build_nothing() {
    assert_eq!(open("http://x").0, FgStatus::InvalidStoreUrl);
    let mut store = ptr::null_mut();
    // SAFETY: a NULL url with a length is what is tested; `store` is writable.
    let status = unsafe { fg_redis_store_open(ptr::null(), 3, &mut store) };
    assert_eq!(status, FgStatus::NullPointer);
    // SAFETY: as above, with a URL that is not UTF-8.
    let status = unsafe { fg_redis_store_open(b"\xff".as_ptr().cast(), 1, &mut store) };
    assert_eq!(status, FgStatus::InvalidUtf8);

    // Nothing listens on port 1, and nothing connects before a check.
    let (status, store) = open("redis://127.0.0.1:1/");
    assert_eq!(status, FgStatus::Ok);
    let quota = FgQuota::from_quota(&crate::Quota::per_second(30).unwrap());
    let config = |on_failure, breaker_failures| FgRedisConfig {
        struct_size: std::mem::size_of::<FgRedisConfig>(),
        prefix: ptr::null(),
        prefix_len: 0,
        deadline_ns: 0,
        on_failure,
        breaker_failures,
        breaker_cool_down_ns: 0,
    };
    let mut limiter = ptr::null_mut();
    for (config, expected) in [
        (config(3, 0), FgStatus::InvalidArgument),
        (config(FG_ON_FAILURE_OPEN, 3), FgStatus::InvalidArgument),
    ] {
        // SAFETY: live store, readable structs, writable out.
        let status = unsafe { fg_redis_limiter_new(store, &quota, &config, &mut limiter) };
        assert_eq!(status, expected);
        assert!(limiter.is_null());
    }
    let closed = config(FG_ON_FAILURE_CLOSED, 0);
    // SAFETY: as above.
    let status = unsafe { fg_redis_limiter_new(store, &quota, &closed, &mut limiter) };
    assert_eq!(status, FgStatus::Ok);
    // Layers: every refusal before anything is built.
    let prefix = b"k:";
    let layer = |scope| FgRedisLayer {
        struct_size: std::mem::size_of::<FgRedisLayer>(),
        scope,
        prefix: prefix.as_ptr().cast(),
        prefix_len: prefix.len(),
        quota: &quota,
    };
    let with_prefix = FgRedisConfig {
        prefix: prefix.as_ptr().cast(),
        prefix_len: prefix.len(),
        ..config(FG_ON_FAILURE_OPEN, 0)
    };
    let given = [layer(super::super::decision::FG_SCOPE_KEY); MAX_LAYERS + 1];
    let named = [layer(super::super::decision::FG_SCOPE_NAMED)];
    let open_config = config(FG_ON_FAILURE_OPEN, 0);
    for (layers, count, config, expected) in [
        (given.as_ptr(), 0, &open_config, FgStatus::NoLayers),
        (
            given.as_ptr(),
            MAX_LAYERS + 1,
            &open_config,
            FgStatus::TooManyLayers,
        ),
        (given.as_ptr(), 1, &with_prefix, FgStatus::InvalidArgument),
        (named.as_ptr(), 1, &open_config, FgStatus::InvalidArgument),
    ] {
        let mut built = ptr::null_mut();
        // SAFETY: live store, readable arrays and config, writable out.
        let status = unsafe { fg_redis_layers_new(store, layers, count, config, &mut built) };
        assert_eq!(status, expected);
        assert!(built.is_null());
    }
    // SAFETY: live handle from fg_redis_store_open, not used again.
    unsafe { fg_redis_store_free(store) };

    let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
    for (key, key_len, expected) in [
        (ptr::null(), 1, FgStatus::NullPointer),
        (b"k".as_ptr(), 0, FgStatus::EmptyKey),
    ] {
        let out = decision.as_mut_ptr();
        // SAFETY: the limiter outlives its store's handle; `key` is
        // NULL or readable, `out` writable.
        let status = unsafe { fg_redis_limiter_check(limiter, key, key_len, 1, out) };
        assert_eq!(status, expected);
    }
    let mut counters = FgStoreCounters {
        struct_size: std::mem::size_of::<FgStoreCounters>(),
        ..FgStoreCounters::default()
    };
    // SAFETY: live handle, writable struct.
    let status = unsafe { fg_redis_limiter_counters(limiter, &mut counters) };
    assert_eq!(status, FgStatus::Ok);
    // Refused calls sent nothing, so nothing failed either.
    assert_eq!(
        (counters.exact, counters.errors, counters.timeouts),
        (0, 0, 0)
    );

    // A server that is away: the failure policy answers, within the deadline.
    let key = b"k";
    // SAFETY: as above.
    let status =
        unsafe { fg_redis_limiter_check(limiter, key.as_ptr(), 1, 1, decision.as_mut_ptr()) };
    assert_eq!(status, FgStatus::Ok);
    // SAFETY: written by the successful call.
    assert!(!unsafe { decision.assume_init() }.admitted);
    // SAFETY: as above.
    unsafe { fg_redis_limiter_counters(limiter, &mut counters) };
    assert_eq!(counters.failed_closed, 1);
    // SAFETY: live handle, not used again.
    unsafe { fg_redis_limiter_free(limiter) };
}

/// A config of `prefix` (empty: the default) that fails closed, with a
/// deadline a loaded machine keeps.
#[cfg(feature = "redis")]
pub(in crate::ffi) fn config(prefix: &[u8]) -> FgRedisConfig {
    FgRedisConfig {
        struct_size: std::mem::size_of::<FgRedisConfig>(),
        prefix: if prefix.is_empty() {
            ptr::null()
        } else {
            prefix.as_ptr().cast()
        },
        prefix_len: prefix.len(),
        // Generous: a loaded machine must not turn a slow answer into a failure.
        deadline_ns: 2_000_000_000,
        on_failure: FG_ON_FAILURE_CLOSED,
        breaker_failures: 0,
        breaker_cool_down_ns: 0,
    }
}

/// A layer of `scope` whose keys start with `prefix`, reading both
/// `prefix` and `quota` where they are.
#[cfg(feature = "redis")]
pub(in crate::ffi) fn layer(scope: u32, prefix: &str, quota: &FgQuota) -> FgRedisLayer {
    FgRedisLayer {
        struct_size: std::mem::size_of::<FgRedisLayer>(),
        scope,
        prefix: prefix.as_ptr().cast(),
        prefix_len: prefix.len(),
        quota,
    }
}

/// An `FG_LAYER_KEY_BYTES` key of `bytes`.
#[cfg(feature = "redis")]
pub(in crate::ffi) fn bytes_key(bytes: &'static [u8]) -> FgLayerKey {
    FgLayerKey {
        kind: FG_LAYER_KEY_BYTES,
        id: 0,
        bytes: bytes.as_ptr(),
        len: bytes.len(),
    }
}

/// A verdict written by a layers check: admitted, the layer and its scope's name.
#[cfg(feature = "redis")]
pub(in crate::ffi) fn read_verdict(verdict: FgVerdict) -> (bool, u32, String) {
    // SAFETY: a static NUL-terminated scope name.
    let scope = unsafe { std::ffi::CStr::from_ptr(verdict.scope_name) };
    (
        verdict.decision.admitted,
        verdict.layer,
        scope.to_str().unwrap().to_string(),
    )
}

/// `count` per minute.
#[cfg(feature = "redis")]
pub(in crate::ffi) fn quota(count: u64) -> FgQuota {
    FgQuota::from_quota(&crate::Quota::per_minute(count).unwrap())
}

#[cfg(feature = "redis")]
#[test]
fn a_limiter_and_layers_decide_in_a_real_redis() {
    let server = super::redis_common::RedisServer::shared();
    let (status, store) = open(&server.url());
    assert_eq!(status, FgStatus::Ok);
    let prefix = format!("ffi:{}:", std::process::id());

    let mut limiter = ptr::null_mut();
    // SAFETY: live store, readable structs, writable out.
    let status =
        unsafe { fg_redis_limiter_new(store, &quota(3), &config(prefix.as_bytes()), &mut limiter) };
    assert_eq!(status, FgStatus::Ok);
    let check = |cost| limiter_check(limiter, b"k", cost);
    let admitted: Vec<_> = (0..4)
        .map(|_| check(1))
        .map(|d| (d.admitted, d.remaining))
        .collect();
    assert_eq!(admitted, [(true, 2), (true, 1), (true, 0), (false, 0)]);
    assert_eq!(
        check(4).outcome,
        super::super::decision::FgOutcome::CannotFit
    );
    let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
    let out = decision.as_mut_ptr();
    // SAFETY: as above.
    let status = unsafe { fg_redis_limiter_refund(limiter, b"k".as_ptr(), 1, 2, out) };
    assert_eq!(status, FgStatus::Ok);
    // SAFETY: written by the successful call.
    assert_eq!(unsafe { decision.assume_init() }.remaining, 2);

    // Two layers: a refusal by one charges neither.
    let (key_prefix, workspace_prefix) = (format!("{prefix}k:"), format!("{prefix}w:"));
    let (key_quota, workspace_quota) = (quota(3), quota(1));
    let layers_given = [
        layer(
            super::super::decision::FG_SCOPE_KEY,
            &key_prefix,
            &key_quota,
        ),
        layer(
            super::super::decision::FG_SCOPE_WORKSPACE,
            &workspace_prefix,
            &workspace_quota,
        ),
    ];
    let mut layers = ptr::null_mut();
    // SAFETY: live store, readable array and config, writable out.
    let status =
        unsafe { fg_redis_layers_new(store, layers_given.as_ptr(), 2, &config(b""), &mut layers) };
    assert_eq!(status, FgStatus::Ok);
    let key = bytes_key;
    let mut verdict = std::mem::MaybeUninit::<FgVerdict>::zeroed();
    let mut check_layers = |keys: [FgLayerKey; 2]| {
        let out = verdict.as_mut_ptr();
        // SAFETY: live handle, readable keys, writable out.
        let status = unsafe { fg_redis_layers_check(layers, keys.as_ptr(), 2, 1, out) };
        assert_eq!(status, FgStatus::Ok);
        // SAFETY: written by the successful call.
        read_verdict(unsafe { verdict.assume_init() })
    };
    assert_eq!(
        check_layers([key(b"a"), key(b"ws")]),
        (true, 1, "workspace".into())
    );
    assert_eq!(
        check_layers([key(b"b"), key(b"ws")]),
        (false, 1, "workspace".into())
    );
    // Key "b" was not charged by the refusal: its three are whole.
    assert!(check_layers([key(b"b"), key(b"ws2")]).0);
    let status = {
        let out = verdict.as_mut_ptr();
        let wrong = [
            FgLayerKey {
                kind: 1,
                id: 7,
                bytes: ptr::null(),
                len: 0,
            },
            key(b"ws"),
        ];
        // SAFETY: as above.
        unsafe { fg_redis_layers_check(layers, wrong.as_ptr(), 2, 1, out) }
    };
    assert_eq!(status, FgStatus::KeyKindMismatch);

    let mut counters = FgStoreCounters {
        struct_size: std::mem::size_of::<FgStoreCounters>(),
        ..FgStoreCounters::default()
    };
    // SAFETY: live handle, writable struct.
    let status = unsafe { fg_redis_layers_counters(layers, &mut counters) };
    assert_eq!(status, FgStatus::Ok);
    assert_eq!((counters.exact, counters.failed_closed), (3, 0));
    // SAFETY: live handles, not used again.
    unsafe {
        fg_redis_layers_free(layers);
        fg_redis_limiter_free(limiter);
        fg_redis_store_free(store);
    }
}

/// A limiter's counters, read into the whole struct.
#[cfg(feature = "redis")]
pub(in crate::ffi) fn whole_counters(limiter: *const FgRedisLimiter) -> FgStoreCounters {
    counters(limiter, std::mem::size_of::<FgStoreCounters>())
}

/// A limiter's counters, read into a struct of `struct_size` bytes.
#[cfg(feature = "redis")]
pub(in crate::ffi) fn counters(
    limiter: *const FgRedisLimiter,
    struct_size: usize,
) -> FgStoreCounters {
    let mut counters = FgStoreCounters {
        struct_size,
        ..FgStoreCounters::default()
    };
    // SAFETY: live handle; writable for `struct_size` (at most the whole struct).
    let status = unsafe { fg_redis_limiter_counters(limiter, &mut counters) };
    assert_eq!(status, FgStatus::Ok);
    counters
}

#[cfg(feature = "redis")]
#[test]
fn failing_local_admits_this_process_share_and_counts_it() {
    // Nothing listens on port 1: every call fails, and the fleet, never
    // counted, is this process alone (N = 1): its share is the whole limit.
    let (status, store) = open("redis://127.0.0.1:1/");
    assert_eq!(status, FgStatus::Ok);
    let local = FgRedisConfig {
        on_failure: FG_ON_FAILURE_LOCAL,
        deadline_ns: 0,
        ..config(b"local:")
    };
    let mut limiter = ptr::null_mut();
    // SAFETY: live store, readable structs, writable out.
    let status = unsafe { fg_redis_limiter_new(store, &quota(3), &local, &mut limiter) };
    assert_eq!(status, FgStatus::Ok);
    let admitted: Vec<bool> = (0..4)
        .map(|_| limiter_check(limiter, b"k", 1).admitted)
        .collect();
    assert_eq!(admitted, [true, true, true, false]);
    let whole = whole_counters(limiter);
    assert_eq!((whole.local_admitted, whole.local_denied), (3, 1));
    assert_eq!(
        (whole.failed_open, whole.failed_closed, whole.exact),
        (0, 0, 0)
    );
    // A caller built against ABI 1.9 knows no `local_*` fields: it
    // still gets the others, and nothing past its struct is written.
    let old_size = std::mem::offset_of!(FgStoreCounters, local_admitted);
    let old = counters(limiter, old_size);
    assert_eq!(old.struct_size, old_size);
    assert_eq!((old.local_admitted, old.local_denied), (0, 0));
    assert_eq!(old.errors + old.timeouts + old.skipped, 4);
    let mut too_small = FgStoreCounters {
        struct_size: old_size - 8,
        ..FgStoreCounters::default()
    };
    // SAFETY: live handle, writable struct.
    let status = unsafe { fg_redis_limiter_counters(limiter, &mut too_small) };
    assert_eq!(status, FgStatus::StructSize);

    // Layers fail local alike.
    let prefix = b"local-layer:";
    let layer = FgRedisLayer {
        struct_size: std::mem::size_of::<FgRedisLayer>(),
        scope: super::super::decision::FG_SCOPE_KEY,
        prefix: prefix.as_ptr().cast(),
        prefix_len: prefix.len(),
        quota: &quota(1),
    };
    let local_layers = FgRedisConfig {
        prefix: ptr::null(),
        prefix_len: 0,
        ..local
    };
    let mut layers = ptr::null_mut();
    // SAFETY: live store, readable array and config, writable out.
    let status = unsafe { fg_redis_layers_new(store, &layer, 1, &local_layers, &mut layers) };
    assert_eq!(status, FgStatus::Ok);
    let key = FgLayerKey {
        kind: FG_LAYER_KEY_BYTES,
        id: 0,
        bytes: b"k".as_ptr(),
        len: 1,
    };
    let admitted: Vec<bool> = (0..2)
        .map(|_| {
            let mut verdict = std::mem::MaybeUninit::<FgVerdict>::zeroed();
            let out = verdict.as_mut_ptr();
            // SAFETY: live handle, readable key, writable out.
            let status = unsafe { fg_redis_layers_check(layers, &key, 1, 1, out) };
            assert_eq!(status, FgStatus::Ok);
            // SAFETY: written by the successful call.
            unsafe { verdict.assume_init() }.decision.admitted
        })
        .collect();
    assert_eq!(admitted, [true, false]);
    let mut counted = FgStoreCounters {
        struct_size: std::mem::size_of::<FgStoreCounters>(),
        ..FgStoreCounters::default()
    };
    // SAFETY: live handle, writable struct.
    let status = unsafe { fg_redis_layers_counters(layers, &mut counted) };
    assert_eq!(status, FgStatus::Ok);
    assert_eq!((counted.local_admitted, counted.local_denied), (1, 1));
    // SAFETY: live handles, not used again.
    unsafe {
        fg_redis_layers_free(layers);
        fg_redis_limiter_free(limiter);
        fg_redis_store_free(store);
    }
}

#[cfg(feature = "redis")]
fn open_cluster(urls: &[*const c_char]) -> (FgStatus, *mut FgRedisStore) {
    let mut store = ptr::null_mut();
    // SAFETY: `urls` is readable for its length, `store` writable.
    let status = unsafe { fg_redis_store_open_cluster(urls.as_ptr(), urls.len(), &mut store) };
    (status, store)
}

#[cfg(feature = "redis")]
#[test]
fn a_cluster_store_refuses_bad_urls_and_builds_nothing() {
    let good = c"redis://127.0.0.1:1/";
    let not_utf8 = b"redis://\xff\0";
    for (urls, expected) in [
        (vec![], FgStatus::InvalidLength),
        (vec![ptr::null()], FgStatus::NullPointer),
        (
            vec![good.as_ptr(), not_utf8.as_ptr().cast()],
            FgStatus::InvalidUtf8,
        ),
        (
            vec![good.as_ptr(), c"http://x".as_ptr()],
            FgStatus::InvalidStoreUrl,
        ),
    ] {
        let (status, store) = open_cluster(&urls);
        assert_eq!(status, expected);
        assert!(store.is_null());
    }
    let mut store = ptr::null_mut();
    // SAFETY: a NULL array is what is tested; `store` is writable.
    let status = unsafe { fg_redis_store_open_cluster(ptr::null(), 1, &mut store) };
    assert_eq!(status, FgStatus::NullPointer);
    let (status, store) = open_cluster(&[good.as_ptr()]);
    assert_eq!(status, FgStatus::Ok);
    // SAFETY: live handle, not used again.
    unsafe { fg_redis_store_free(store) };
}

#[cfg(feature = "redis")]
#[test]
fn a_limiter_decides_on_a_real_cluster() {
    let cluster = super::redis_common::RedisCluster::shared();
    let urls: Vec<std::ffi::CString> = cluster
        .urls()
        .into_iter()
        .map(|url| std::ffi::CString::new(url).unwrap())
        .collect();
    let pointers: Vec<*const c_char> = urls.iter().map(|url| url.as_ptr()).collect();
    let (status, store) = open_cluster(&pointers);
    assert_eq!(status, FgStatus::Ok);
    let prefix = format!("ffi-cluster:{}:", std::process::id());
    let mut limiter = ptr::null_mut();
    // SAFETY: live store, readable structs, writable out.
    let status =
        unsafe { fg_redis_limiter_new(store, &quota(2), &config(prefix.as_bytes()), &mut limiter) };
    assert_eq!(status, FgStatus::Ok);
    // A master's first call opens its connection and loads the script:
    // under valgrind that may outlast the cluster client's 1 s wait on a
    // node and fail, so each master is called until it decides first.
    let size = std::mem::size_of::<FgStoreCounters>();
    for master in cluster.masters() {
        let key = format!("{}warm", cluster.tag_on(master));
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let exact = counters(limiter, size).exact;
        while counters(limiter, size).exact == exact {
            assert!(
                std::time::Instant::now() < give_up,
                "master {master} never decided"
            );
            limiter_check(limiter, key.as_bytes(), 1);
        }
    }
    // Keys spread over the masters, each decided by its slot's master: all
    // three checks by Redis (the deny cache keeps the third's denial for
    // later ones). A round that met a failure anyway (valgrind can still
    // outlast that 1 s wait) is run again on a fresh key; every round
    // counted had none.
    for key in ["a", "b", "c", "d", "e", "f"] {
        let clean = (0..5).find_map(|round| {
            let key = format!("{key}{round}");
            let before = counters(limiter, size);
            let admitted: Vec<bool> = (0..3)
                .map(|_| limiter_check(limiter, key.as_bytes(), 1).admitted)
                .collect();
            let after = counters(limiter, size);
            let failed = after.errors + after.timeouts > before.errors + before.timeouts;
            (!failed).then(|| (admitted, after.exact - before.exact))
        });
        assert_eq!(clean, Some((vec![true, true, false], 3)), "key {key}");
    }
    // SAFETY: live handles, not used again.
    unsafe {
        fg_redis_limiter_free(limiter);
        fg_redis_store_free(store);
    }
}

/// One check of `cost` for `key`, which must answer `FG_STATUS_OK`.
#[cfg(feature = "redis")]
fn limiter_check(limiter: *const FgRedisLimiter, key: &[u8], cost: u64) -> FgDecision {
    let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
    // SAFETY: live handle, readable key, writable out.
    let status = unsafe {
        fg_redis_limiter_check(
            limiter,
            key.as_ptr(),
            key.len(),
            cost,
            decision.as_mut_ptr(),
        )
    };
    assert_eq!(status, FgStatus::Ok);
    // SAFETY: written by the successful call.
    unsafe { decision.assume_init() }
}

#[cfg(feature = "redis")]
fn window_check(windows: *const FgRedisWindow, key: &[u8], cost: u64) -> FgDecision {
    let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
    let out = decision.as_mut_ptr();
    // SAFETY: live handle, readable key, writable out.
    let status = unsafe { fg_redis_window_check(windows, key.as_ptr(), key.len(), cost, out) };
    assert_eq!(status, FgStatus::Ok);
    // SAFETY: written by the successful call.
    unsafe { decision.assume_init() }
}

#[cfg(feature = "redis")]
fn window_counters(windows: *const FgRedisWindow) -> FgStoreCounters {
    let mut counters = FgStoreCounters {
        struct_size: std::mem::size_of::<FgStoreCounters>(),
        ..FgStoreCounters::default()
    };
    // SAFETY: live handle, writable struct.
    let status = unsafe { fg_redis_window_counters(windows, &mut counters) };
    assert_eq!(status, FgStatus::Ok);
    counters
}

#[cfg(feature = "redis")]
#[test]
fn windows_decide_in_a_real_redis_as_local_windows_do() {
    let server = super::redis_common::RedisServer::shared();
    let (status, store) = open(&server.url());
    assert_eq!(status, FgStatus::Ok);
    let prefix = format!("ffi-window:{}:", std::process::id());
    // A day's window: a test run never straddles two windows, whose
    // weighted counts would make the decisions depend on the hour.
    let day = 86_400_000_000_000;
    let mut windows = ptr::null_mut();
    // SAFETY: live store, readable config, writable out.
    let status =
        unsafe { fg_redis_window_new(store, 3, day, &config(prefix.as_bytes()), &mut windows) };
    assert_eq!(status, FgStatus::Ok);
    // A fresh key: nothing of a previous window weighs, so the local
    // windows decide alike whenever they run.
    let local = crate::KeyedWindows::<[u8]>::builder(3, Duration::from_nanos(day))
        .build()
        .unwrap();
    let fields = |d: &FgDecision| (d.admitted, d.outcome, d.limit, d.remaining);
    for cost in [1, 1, 1, 1, 4] {
        let expected = FgDecision::new(&local.check(b"k", cost).unwrap(), 0);
        assert_eq!(
            fields(&window_check(windows, b"k", cost)),
            fields(&expected)
        );
    }
    let mut decision = std::mem::MaybeUninit::<FgDecision>::zeroed();
    // SAFETY: live handle, readable key, writable out.
    let status =
        unsafe { fg_redis_window_refund(windows, b"k".as_ptr(), 1, 2, decision.as_mut_ptr()) };
    assert_eq!(status, FgStatus::Ok);
    // SAFETY: written by the successful call.
    assert_eq!(unsafe { decision.assume_init() }.remaining, 2);
    // SAFETY: as above.
    let status = unsafe { fg_redis_window_peek(windows, b"k".as_ptr(), 1, decision.as_mut_ptr()) };
    assert_eq!(status, FgStatus::Ok);
    // SAFETY: written by the successful call.
    assert_eq!(unsafe { decision.assume_init() }.remaining, 2);
    // SAFETY: as above, with an empty key: refused before anything is sent.
    let status =
        unsafe { fg_redis_window_check(windows, b"k".as_ptr(), 0, 1, decision.as_mut_ptr()) };
    assert_eq!(status, FgStatus::EmptyKey);
    let counters = window_counters(windows);
    assert_eq!(
        (counters.exact, counters.errors, counters.timeouts),
        (7, 0, 0)
    );
    // SAFETY: live handles, not used again.
    unsafe {
        fg_redis_window_free(windows);
        fg_redis_store_free(store);
    }
}

#[cfg(feature = "redis")]
#[test]
fn windows_refuse_bad_input_and_fail_local() {
    let (status, store) = open("redis://127.0.0.1:1/");
    assert_eq!(status, FgStatus::Ok);
    let local = FgRedisConfig {
        on_failure: FG_ON_FAILURE_LOCAL,
        deadline_ns: 0,
        ..config(b"w:")
    };
    let unknown = FgRedisConfig {
        on_failure: 3,
        ..local
    };
    for (limit, window_ns, config, expected) in [
        (0, 1_000_000_000, &local, FgStatus::ZeroLimit),
        (3, 999, &local, FgStatus::ZeroWindow),
        (3, 1_000_000_000, &unknown, FgStatus::InvalidArgument),
    ] {
        let mut windows = ptr::null_mut();
        // SAFETY: live store, readable config, writable out.
        let status = unsafe { fg_redis_window_new(store, limit, window_ns, config, &mut windows) };
        assert_eq!(status, expected);
        assert!(windows.is_null());
    }
    let mut windows = ptr::null_mut();
    // SAFETY: as above.
    let status = unsafe { fg_redis_window_new(store, 2, 86_400_000_000_000, &local, &mut windows) };
    assert_eq!(status, FgStatus::Ok);
    // The fleet is this process alone (N = 1): its share is the whole limit.
    let admitted: Vec<bool> = (0..3)
        .map(|_| window_check(windows, b"k", 1).admitted)
        .collect();
    assert_eq!(admitted, [true, true, false]);
    let counters = window_counters(windows);
    assert_eq!((counters.local_admitted, counters.local_denied), (2, 1));
    // SAFETY: live handles, not used again.
    unsafe {
        fg_redis_window_free(windows);
        fg_redis_store_free(store);
    }
}

#[cfg(feature = "redis")]
fn take(caps: *const FgRedisInFlight, key: &[u8]) -> (FgRedisAcquisition, *mut FgRedisPermit) {
    let mut answer = FgRedisAcquisition::default();
    let mut permit = ptr::null_mut();
    // SAFETY: live handle, readable key, writable outs.
    let status = unsafe {
        fg_redis_inflight_acquire(caps, key.as_ptr(), key.len(), &mut answer, &mut permit)
    };
    assert_eq!(status, FgStatus::Ok);
    assert_eq!(answer.acquired, !permit.is_null());
    (answer, permit)
}

#[cfg(feature = "redis")]
fn give_back(permit: *mut FgRedisPermit) -> (FgStatus, u64) {
    let mut left = 0;
    // SAFETY: a live permit, not used again.
    let status = unsafe { fg_redis_permit_release(permit, &mut left) };
    (status, left)
}

#[cfg(feature = "redis")]
fn caps_counters(caps: *const FgRedisInFlight) -> FgStoreCounters {
    let mut counters = FgStoreCounters {
        struct_size: std::mem::size_of::<FgStoreCounters>(),
        ..FgStoreCounters::default()
    };
    // SAFETY: live handle, writable struct.
    let status = unsafe { fg_redis_inflight_counters(caps, &mut counters) };
    assert_eq!(status, FgStatus::Ok);
    counters
}

#[cfg(feature = "redis")]
#[test]
fn an_inflight_cap_leases_permits_in_a_real_redis() {
    let server = super::redis_common::RedisServer::shared();
    let (status, store) = open(&server.url());
    assert_eq!(status, FgStatus::Ok);
    let prefix = format!("ffi-inflight:{}:", std::process::id());
    let mut caps = ptr::null_mut();
    // SAFETY: live store, readable config, writable out.
    let status =
        unsafe { fg_redis_inflight_new(store, 2, 0, &config(prefix.as_bytes()), &mut caps) };
    assert_eq!(status, FgStatus::Ok);
    let (first, first_permit) = take(caps, b"k");
    let (second, second_permit) = take(caps, b"k");
    let (third, third_permit) = take(caps, b"k");
    assert_eq!((first.acquired, first.in_flight, first.limit), (true, 1, 2));
    assert_eq!((second.acquired, second.in_flight), (true, 2));
    assert_eq!(
        (third.acquired, third.in_flight, third.lease_end_us),
        (false, 2, 0)
    );
    assert!(third_permit.is_null());
    assert!(first.lease_end_us > 0);
    let mut renewed = false;
    // SAFETY: a live permit, writable out.
    let status = unsafe { fg_redis_permit_renew(first_permit, &mut renewed) };
    assert_eq!((status, renewed), (FgStatus::Ok, true));
    assert_eq!(give_back(first_permit), (FgStatus::Ok, 1));
    // Freeing gives back too.
    // SAFETY: a live permit, not used again.
    unsafe { fg_redis_permit_free(second_permit) };
    let (again, again_permit) = take(caps, b"k");
    assert_eq!((again.acquired, again.in_flight), (true, 1));
    // Bad input: refused before anything is sent.
    let mut answer = FgRedisAcquisition::default();
    // SAFETY: live handle, readable key, NULL out_permit is what is tested.
    let status =
        unsafe { fg_redis_inflight_acquire(caps, b"k".as_ptr(), 1, &mut answer, ptr::null_mut()) };
    assert_eq!(status, FgStatus::NullPointer);
    let mut permit = ptr::null_mut();
    // SAFETY: as above, with an empty key.
    let status =
        unsafe { fg_redis_inflight_acquire(caps, b"k".as_ptr(), 0, &mut answer, &mut permit) };
    assert_eq!(status, FgStatus::EmptyKey);
    assert_eq!(
        (caps_counters(caps).exact, caps_counters(caps).errors),
        (7, 0),
        "4 acquires, a renew, 2 releases"
    );

    // A lease of a millisecond, slept past: the permit is no longer counted.
    let mut short = ptr::null_mut();
    let short_prefix = format!("{prefix}short:");
    // SAFETY: live store, readable config, writable out.
    let status = unsafe {
        fg_redis_inflight_new(
            store,
            1,
            1_000_000,
            &config(short_prefix.as_bytes()),
            &mut short,
        )
    };
    assert_eq!(status, FgStatus::Ok);
    let (_, lapsed) = take(short, b"k");
    std::thread::sleep(Duration::from_millis(50));
    // SAFETY: a live permit, writable out.
    let status = unsafe { fg_redis_permit_renew(lapsed, &mut renewed) };
    assert_eq!(status, FgStatus::PermitAlreadyReleased);
    // SAFETY: live handles, not used again.
    unsafe {
        fg_redis_permit_free(lapsed);
        fg_redis_permit_free(again_permit);
        fg_redis_inflight_free(short);
        fg_redis_inflight_free(caps);
        fg_redis_store_free(store);
    }
}

#[cfg(feature = "redis")]
#[test]
fn an_inflight_cap_refuses_bad_input_and_fails_local() {
    let (status, store) = open("redis://127.0.0.1:1/");
    assert_eq!(status, FgStatus::Ok);
    let local = FgRedisConfig {
        on_failure: FG_ON_FAILURE_LOCAL,
        deadline_ns: 0,
        ..config(b"c:")
    };
    for (limit, lease_ns, expected) in [
        (0, 0, FgStatus::ZeroLimit),
        (crate::MAX_IN_FLIGHT + 1, 0, FgStatus::LimitTooLarge),
        (1, 500, FgStatus::ZeroWindow),
    ] {
        let mut caps = ptr::null_mut();
        // SAFETY: live store, readable config, writable out.
        let status = unsafe { fg_redis_inflight_new(store, limit, lease_ns, &local, &mut caps) };
        assert_eq!(status, expected);
        assert!(caps.is_null());
    }
    let mut caps = ptr::null_mut();
    // SAFETY: as above.
    let status = unsafe { fg_redis_inflight_new(store, 1, 0, &local, &mut caps) };
    assert_eq!(status, FgStatus::Ok);
    // The fleet is this process alone (N = 1): its share is the whole cap.
    let (granted, permit) = take(caps, b"k");
    assert_eq!(
        (granted.acquired, granted.in_flight, granted.lease_end_us),
        (true, 1, 0)
    );
    let (refused, _) = take(caps, b"k");
    assert!(!refused.acquired);
    // Given back to this process's share: no fleet-wide count to report.
    assert_eq!(give_back(permit), (FgStatus::Ok, u64::MAX));
    let (again, permit) = take(caps, b"k");
    assert!(again.acquired);
    let counters = caps_counters(caps);
    assert_eq!((counters.local_admitted, counters.local_denied), (2, 1));
    // SAFETY: live handles, not used again.
    unsafe {
        fg_redis_permit_free(permit);
        fg_redis_inflight_free(caps);
        fg_redis_store_free(store);
    }
}
