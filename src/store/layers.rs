//! Several buckets checked for one request in one script: the request's
//! key, its workspace, its IP... all admit and are charged, or none is.

use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::keyed::check_key_len;
use crate::policy::stack::wait_rank;
use crate::policy::{Verdict, MAX_LAYERS};
use crate::store::breaker::{OnFailure, StoreCounters};
use crate::store::connection::RedisStore;
use crate::store::guard::{Guard, DEFAULT_COOL_DOWN, DEFAULT_DEADLINE, DEFAULT_THRESHOLD};
use crate::store::script::{At, Op};
use crate::store::units::ScriptQuota;
use std::time::Duration;

/// Layered checks in Redis: one script decides every layer of a request
/// at once, so no other host's check falls between them, and a denial
/// charges no layer (unlike checking the keys one by one and refunding).
/// The [`Verdict`] is a local [`Policy`](crate::Policy)'s: when admitted,
/// the layer with the least capacity left; when denied, the longest wait
/// among the refusing layers, with its scope.
///
/// On Redis Cluster one call's keys must share a hash tag (see the
/// [module docs](crate::store)).
///
/// ```no_run
/// use floodgate::store::{RedisLayers, RedisStore};
/// use floodgate::{Quota, Scope};
///
/// let store = RedisStore::open("redis://127.0.0.1:6379/")?;
/// let layers = RedisLayers::builder(&store)
///     .layer(Scope::Key, "key:", Quota::per_second(30)?.with_burst(60)?)
///     .layer(Scope::Workspace, "ws:", Quota::per_minute(1_000)?)
///     .build()?;
/// let verdict = layers.check(&["{ws42}:key7", "{ws42}"], 1)?;
/// if !verdict.is_admitted() {
///     println!("429 by the {} limit", verdict.scope());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisLayers {
    guard: Guard,
    layers: Vec<Layer>,
}

struct Layer {
    scope: Scope,
    prefix: Vec<u8>,
    quota: ScriptQuota,
}

/// Builds [`RedisLayers`].
pub struct RedisLayersBuilder {
    store: RedisStore,
    layers: Vec<(Scope, Vec<u8>, Quota)>,
    deadline: Duration,
    on_failure: OnFailure,
    threshold: u32,
    cool_down: Duration,
}

impl RedisLayers {
    /// Layers on `store`, added in the order requests list their keys;
    /// the same defaults as [`RedisLimiter::builder`](crate::store::RedisLimiter::builder).
    pub fn builder(store: &RedisStore) -> RedisLayersBuilder {
        RedisLayersBuilder {
            store: store.clone(),
            layers: Vec::new(),
            deadline: DEFAULT_DEADLINE,
            on_failure: OnFailure::Open,
            threshold: DEFAULT_THRESHOLD,
            cool_down: DEFAULT_COOL_DOWN,
        }
    }
}

impl RedisLayersBuilder {
    /// A layer: its scope (named in the verdict), the prefix of its
    /// buckets' Redis keys, and its quota.
    pub fn layer(mut self, scope: Scope, prefix: impl AsRef<[u8]>, quota: Quota) -> Self {
        self.layers.push((scope, prefix.as_ref().to_vec(), quota));
        self
    }

    /// How long a call may wait for Redis, connecting included.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The decision when Redis gives none.
    pub fn on_failure(mut self, on_failure: OnFailure) -> Self {
        self.on_failure = on_failure;
        self
    }

    /// The breaker: open after `failures` in a row, probe after `cool_down`.
    pub fn breaker(mut self, failures: u32, cool_down: Duration) -> Self {
        self.threshold = failures;
        self.cool_down = cool_down;
        self
    }

    /// The layers; [`Error::NoLayers`], [`Error::TooManyLayers`] (more than
    /// [`MAX_LAYERS`]), or [`Error::BurstTooLarge`] for a quota the script
    /// cannot keep exactly.
    pub fn build(self) -> Result<RedisLayers> {
        if self.layers.is_empty() {
            return Err(Error::NoLayers);
        }
        if self.layers.len() > MAX_LAYERS {
            return Err(Error::TooManyLayers);
        }
        let layers = self
            .layers
            .into_iter()
            .map(|(scope, prefix, quota)| {
                Ok(Layer {
                    scope,
                    prefix,
                    quota: ScriptQuota::new(quota)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RedisLayers {
            guard: Guard::new(
                self.store,
                self.deadline,
                self.on_failure,
                self.threshold,
                self.cool_down,
            ),
            layers,
        })
    }
}

impl RedisLayers {
    /// Checks `cost` against every layer, `keys[i]` being layer `i`'s key,
    /// waiting at most the deadline. Not for use inside an async runtime
    /// (use [`check_async`](Self::check_async)). `Err` for a wrong number of
    /// keys or a bad key, and then nothing was sent.
    pub fn check<K: AsRef<[u8]>>(&self, keys: &[K], cost: u64) -> Result<Verdict> {
        self.guard.store.block_on(self.decide(keys, cost, None))
    }

    /// [`check`](Self::check) at the caller's time in microseconds.
    pub fn check_at<K: AsRef<[u8]>>(&self, keys: &[K], cost: u64, now_us: u64) -> Result<Verdict> {
        self.guard
            .store
            .block_on(self.decide(keys, cost, Some(now_us)))
    }

    /// [`check`](Self::check) for async callers, on a tokio runtime.
    pub async fn check_async<K: AsRef<[u8]>>(&self, keys: &[K], cost: u64) -> Result<Verdict> {
        self.decide(keys, cost, None).await
    }

    /// Counts of exact and degraded decisions.
    pub fn counters(&self) -> StoreCounters {
        self.guard.counters()
    }

    async fn decide<K: AsRef<[u8]>>(&self, keys: &[K], cost: u64, at: At) -> Result<Verdict> {
        if keys.len() != self.layers.len() {
            return Err(Error::LayerKeyCount);
        }
        let redis_keys = keys
            .iter()
            .zip(&self.layers)
            .map(|(key, layer)| {
                let key = key.as_ref();
                check_key_len(key)?;
                Ok([layer.prefix.as_slice(), key].concat())
            })
            .collect::<Result<Vec<_>>>()?;
        let call: Vec<_> = redis_keys
            .iter()
            .zip(&self.layers)
            .map(|(key, layer)| (key.as_slice(), &layer.quota))
            .collect();
        match self.guard.run(&call, Op::Check(cost), at).await {
            Some(decisions) => Ok(self.verdict(&decisions)),
            None => {
                // Degraded: the failure policy answers in the first layer's name.
                let first = &self.layers[0];
                Ok(Verdict::new(
                    self.guard.degraded(&first.quota, cost),
                    first.scope,
                    0,
                ))
            }
        }
    }

    /// A local policy's verdict for the layers' decisions.
    fn verdict(&self, decisions: &[Decision]) -> Verdict {
        let layer = deciding(decisions);
        Verdict::new(decisions[layer], self.layers[layer].scope, layer)
    }
}

/// The layer whose decision a local policy's verdict reports: when all
/// admit, the one with the least capacity left; else the longest wait among
/// the refusing layers (on a tie, the first). `decisions` is not empty.
pub(crate) fn deciding(decisions: &[Decision]) -> usize {
    let refusals = decisions
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_admitted());
    // The longest wait wins; on a tie, the first layer.
    let worst = refusals.fold(
        None,
        |worst: Option<(usize, &Decision)>, (index, decision)| match worst {
            Some((_, held)) if wait_rank(decision) <= wait_rank(held) => worst,
            _ => Some((index, decision)),
        },
    );
    let (layer, _) = worst.unwrap_or_else(|| {
        // All admitted: the least capacity left; on a tie, the first layer.
        decisions
            .iter()
            .enumerate()
            .reduce(|tightest, next| {
                if next.1.leaves_less_than(tightest.1) {
                    next
                } else {
                    tightest
                }
            })
            .expect("a policy has at least one layer")
    });
    layer
}
