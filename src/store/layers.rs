//! Several buckets checked for one request: the request's key, its
//! workspace, its IP... all admit and are charged, or none is. One script
//! decides the keys of one cluster slot (all of them, on a standalone
//! server); keys in several slots are decided by one script per slot at
//! once, and the slots that admitted are refunded when another refused.

use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::keyed::check_key_len;
use crate::policy::stack::wait_rank;
use crate::policy::{Verdict, MAX_LAYERS};
use crate::store::breaker::StoreCounters;
use crate::store::connection::RedisStore;
use crate::store::fleet::Fleet;
use crate::store::guard::{failure_setters, Failures, Guard};
use crate::store::script::{At, Op};
use crate::store::units::{ScriptQuota, NANOS_PER_MICRO};
use futures_util::future::join_all;

/// Layered checks in Redis: one script decides every layer of a request
/// at once, so no other host's check falls between them, and a denial
/// charges no layer (unlike checking the keys one by one and refunding).
/// The [`Verdict`] is a local [`Policy`](crate::Policy)'s: when admitted,
/// the layer with the least capacity left; when denied, the longest wait
/// among the refusing layers, with its scope.
///
/// On Redis Cluster that holds for keys that share a hash tag, as below.
/// Keys in several slots are decided by one script per slot, sent at once:
/// when one refuses, the slots that admitted are refunded, so the check
/// still charges all or none, but not at one instant. Between a charge and
/// its refund (a round trip) another host may be denied by a count that
/// is briefly high; nothing is ever admitted beyond the limits. A refund
/// that fails leaves its charge to drain. Layers with a lockout may be
/// charged it in each slot that refused, where a local policy charges the
/// first refusing layer's only. A slot whose master does not answer is
/// decided by the failure policy, in its first layer's name, unless
/// another slot refused. See the [module docs](crate::store).
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
    failures: Failures,
}

impl RedisLayers {
    /// Layers on `store`, added in the order requests list their keys;
    /// the same defaults as [`RedisLimiter::builder`](crate::store::RedisLimiter::builder).
    pub fn builder(store: &RedisStore) -> RedisLayersBuilder {
        RedisLayersBuilder {
            store: store.clone(),
            layers: Vec::new(),
            failures: Failures::default(),
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

    failure_setters!();

    /// The fleet whose size [`OnFailure::Local`](crate::store::OnFailure::Local) divides each layer's
    /// quota by (default: the store's fleet `"default"`).
    pub fn fleet(mut self, fleet: &Fleet) -> Self {
        self.failures.fleet = Some(fleet.clone());
        self
    }

    /// The layers; [`Error::NoLayers`], [`Error::TooManyLayers`] (more than
    /// [`MAX_LAYERS`]), or [`Error::BurstTooLarge`] for a quota the script
    /// cannot keep exactly, or with [`OnFailure::Local`](crate::store::OnFailure::Local)
    /// [`Error::AllocationFailed`] when an in-process table cannot be
    /// allocated.
    pub fn build(self) -> Result<RedisLayers> {
        if self.layers.is_empty() {
            return Err(Error::NoLayers);
        }
        if self.layers.len() > MAX_LAYERS {
            return Err(Error::TooManyLayers);
        }
        let limits: Vec<(Scope, Quota)> = self
            .layers
            .iter()
            .map(|(scope, _, quota)| (*scope, *quota))
            .collect();
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
            guard: self.failures.guard(self.store, &limits)?,
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
        // Layers whose keys one script call may decide together, in order.
        let mut groups: Vec<(u16, Vec<usize>)> = Vec::new();
        for (index, key) in redis_keys.iter().enumerate() {
            let group = self.guard.store.call_group(key);
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, layers)) => layers.push(index),
                None => groups.push((group, vec![index])),
            }
        }
        let calls = groups.iter().map(|(_, layers)| {
            let call: Vec<_> = layers
                .iter()
                .map(|&i| (redis_keys[i].as_slice(), &self.layers[i].quota))
                .collect();
            async move { self.guard.run(&call, Op::Check(cost), at).await }
        });
        let answers = join_all(calls).await;
        // Each layer's decision, where its group's call gave one.
        let mut decided = Vec::with_capacity(self.layers.len());
        let mut charged = Vec::new();
        let mut failed = None;
        for ((_, layers), answer) in groups.iter().zip(answers) {
            match answer {
                Some(decisions) => {
                    if decisions.iter().all(Decision::is_admitted) {
                        charged.extend(layers.iter().copied());
                    }
                    decided.extend(layers.iter().copied().zip(decisions));
                }
                None => failed = failed.or(layers.first().copied()),
            }
        }
        decided.sort_unstable_by_key(|(layer, _)| *layer);
        let verdict = if decided.iter().any(|(_, d)| !d.is_admitted()) {
            // Redis refused: that stands whatever another group's call did.
            self.verdict(&decided)
        } else if let Some(layer) = failed {
            // Degraded: the failure policy answers in the first unanswered layer's name.
            let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
            let now_ns = at.map(|micros| micros.saturating_mul(NANOS_PER_MICRO));
            let quota = &self.layers[layer].quota;
            let (decision, layer) =
                self.guard
                    .degraded(layer, quota, &keys, Op::Check(cost), now_ns)?;
            Verdict::new(decision, self.layers[layer].scope, layer)
        } else {
            return Ok(self.verdict(&decided));
        };
        if !verdict.is_admitted() && cost > 0 {
            self.refund(&redis_keys, &charged, cost, at).await;
        }
        Ok(verdict)
    }

    /// Gives `cost` back to each layer in `charged`: their groups admitted
    /// while another refused. A refund that fails leaves its charge to
    /// drain, which only ever denies more.
    async fn refund(&self, redis_keys: &[Vec<u8>], charged: &[usize], cost: u64, at: At) {
        // A refund is in one layer's units, so each layer has its own call.
        let refunds = charged.iter().map(|&layer| {
            let key = (redis_keys[layer].as_slice(), &self.layers[layer].quota);
            async move { self.guard.run(&[key], Op::Refund(cost), at).await }
        });
        join_all(refunds).await;
    }

    /// A local policy's verdict for the layers' decisions, each with its
    /// layer, in layer order.
    fn verdict(&self, decisions: &[(usize, Decision)]) -> Verdict {
        let (layer, decision) = deciding(decisions);
        Verdict::new(decision, self.layers[layer].scope, layer)
    }
}

/// The layer whose decision a local policy's verdict reports, with that
/// decision: when all admit, the one with the least capacity left; else the
/// longest wait among the refusing layers (on a tie, the first).
/// `decisions` (each with its layer, in layer order) is not empty.
pub(crate) fn deciding(decisions: &[(usize, Decision)]) -> (usize, Decision) {
    let refusals = decisions
        .iter()
        .map(|(index, decision)| (*index, decision))
        .filter(|(_, d)| !d.is_admitted());
    // The longest wait wins; on a tie, the first layer.
    let worst = refusals.fold(
        None,
        |worst: Option<(usize, &Decision)>, (index, decision)| match worst {
            Some((_, held)) if wait_rank(decision) <= wait_rank(held) => worst,
            _ => Some((index, decision)),
        },
    );
    let (layer, decision) = worst.unwrap_or_else(|| {
        // All admitted: the least capacity left; on a tie, the first layer.
        decisions
            .iter()
            .map(|(index, decision)| (*index, decision))
            .reduce(|tightest, next| {
                if next.1.leaves_less_than(tightest.1) {
                    next
                } else {
                    tightest
                }
            })
            .expect("a policy has at least one layer")
    });
    (layer, *decision)
}
