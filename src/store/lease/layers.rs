//! Layered checks on leases: each layer (the request's key, its
//! workspace...) spends from a lease of its own, and a check that one layer
//! refuses spends from none.

use crate::core::clock::{Clock, MonotonicClock};
use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::policy::{Verdict, MAX_LAYERS};
use crate::store::breaker::StoreCounters;
use crate::store::connection::RedisStore;
use crate::store::guard::{failure_setters, Failures};
use crate::store::lease::counters::LeaseCounters;
use crate::store::lease::engine::{Answer, Leases};
use crate::store::lease::settings::{lease_setters, LeaseSettings};
use std::sync::Arc;

/// Layered checks, as [`RedisLayers`](crate::store::RedisLayers)', decided
/// locally from a lease per layer and key: a check takes a token from every
/// layer's lease, and when one layer has none left to give (its fleet
/// bucket denied it) the layers before it put theirs back, so a denied
/// request charges no layer. Each layer leases from its own Redis key with
/// its own call, so the layers' keys need no common hash tag.
///
/// The [`Verdict`] is a local [`Policy`](crate::Policy)'s: when admitted,
/// the layer with the least capacity left; when denied, the refusing layer.
///
/// ```no_run
/// use floodgate::store::{LeasedLayers, RedisStore};
/// use floodgate::{Quota, Scope};
///
/// let store = RedisStore::open("redis://127.0.0.1:6379/")?;
/// let layers = LeasedLayers::builder(&store)
///     .layer(Scope::Key, "key:", Quota::per_second(100)?)
///     .layer(Scope::Workspace, "ws:", Quota::per_second(1_000)?)
///     .build()?;
/// let verdict = layers.check(&["key7", "ws42"], 1)?;
/// if !verdict.is_admitted() {
///     println!("429 by the {} limit", verdict.scope());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LeasedLayers<C: Clock + 'static = MonotonicClock> {
    leases: Arc<Leases<C>>,
    scopes: Vec<Scope>,
}

/// Builds [`LeasedLayers`].
pub struct LeasedLayersBuilder<C: Clock + 'static = MonotonicClock> {
    store: RedisStore,
    layers: Vec<(Scope, Vec<u8>, Quota)>,
    lease: LeaseSettings,
    failures: Failures,
    clock: C,
}

impl LeasedLayers {
    /// Layers on `store`, added in the order requests list their keys; the
    /// same defaults as [`LeasedLimiter::builder`](crate::store::LeasedLimiter::builder).
    pub fn builder(store: &RedisStore) -> LeasedLayersBuilder {
        LeasedLayersBuilder {
            store: store.clone(),
            layers: Vec::new(),
            lease: LeaseSettings::default(),
            failures: Failures::default(),
            clock: MonotonicClock::new(),
        }
    }
}

impl<C: Clock + 'static> LeasedLayersBuilder<C> {
    /// A layer: its scope, the prefix of its buckets' Redis keys, its quota.
    pub fn layer(mut self, scope: Scope, prefix: impl AsRef<[u8]>, quota: Quota) -> Self {
        self.layers.push((scope, prefix.as_ref().to_vec(), quota));
        self
    }

    failure_setters!();

    lease_setters!();

    /// The clock leases and local decisions are timed by.
    pub fn clock<D: Clock + 'static>(self, clock: D) -> LeasedLayersBuilder<D> {
        LeasedLayersBuilder {
            store: self.store,
            layers: self.layers,
            lease: self.lease,
            failures: self.failures,
            clock,
        }
    }

    /// The layers; [`Error::NoLayers`], [`Error::TooManyLayers`], or a
    /// layer's error as [`LeasedLimiterBuilder::build`](crate::store::LeasedLimiterBuilder::build) gives it.
    pub fn build(self) -> Result<LeasedLayers<C>> {
        if self.layers.is_empty() {
            return Err(Error::NoLayers);
        }
        if self.layers.len() > MAX_LAYERS {
            return Err(Error::TooManyLayers);
        }
        let limits: Vec<_> = self.layers.iter().map(|(s, _, q)| (*s, *q)).collect();
        let mut scopes = Vec::with_capacity(self.layers.len());
        let mut tables = Vec::with_capacity(self.layers.len());
        for (scope, prefix, quota) in self.layers {
            scopes.push(scope);
            tables.push(
                self.lease
                    .table(&self.store, &self.failures, quota, prefix)?,
            );
        }
        let guard = self.failures.guard(self.store, &limits)?;
        Ok(LeasedLayers {
            leases: Leases::start(guard, tables, self.clock),
            scopes,
        })
    }
}

impl<C: Clock + 'static> LeasedLayers<C> {
    /// Checks `cost` against every layer, `keys[i]` being layer `i`'s key.
    /// Blocking (see [`LeasedLimiter`](crate::store::LeasedLimiter)): use
    /// [`check_async`](Self::check_async) inside an async runtime. `Err`
    /// for a wrong number of keys or a bad key, and then nothing was spent
    /// or sent.
    pub fn check<K: AsRef<[u8]>>(&self, keys: &[K], cost: u64) -> Result<Verdict> {
        let bytes = self.key_bytes(keys)?;
        let answer = self
            .leases
            .check::<MAX_LAYERS>(&bytes[..keys.len()], cost)?;
        Ok(self.verdict(answer))
    }

    /// [`check`](Self::check) for async callers, on a tokio runtime (see
    /// [`LeasedLimiter::check_async`](crate::store::LeasedLimiter::check_async)).
    pub async fn check_async<K: AsRef<[u8]>>(&self, keys: &[K], cost: u64) -> Result<Verdict> {
        let bytes = self.key_bytes(keys)?;
        let answer = self
            .leases
            .check_async::<MAX_LAYERS>(&bytes[..keys.len()], cost)
            .await?;
        Ok(self.verdict(answer))
    }

    /// `keys` as bytes, one per layer; [`Error::LayerKeyCount`] when their
    /// number is not the layers'.
    fn key_bytes<'k, K: AsRef<[u8]>>(&self, keys: &'k [K]) -> Result<[&'k [u8]; MAX_LAYERS]> {
        if keys.len() != self.scopes.len() {
            return Err(Error::LayerKeyCount);
        }
        let mut bytes: [&[u8]; MAX_LAYERS] = [&[]; MAX_LAYERS];
        for (slot, key) in bytes.iter_mut().zip(keys) {
            *slot = key.as_ref();
        }
        Ok(bytes)
    }

    fn verdict(&self, answer: Answer) -> Verdict {
        Verdict::new(answer.decision, self.scopes[answer.layer], answer.layer)
    }

    /// How often Redis answered, failed, or was skipped.
    pub fn counters(&self) -> StoreCounters {
        self.leases.guard.counters()
    }

    /// How checks were decided and what the leases took and gave back.
    pub fn lease_counters(&self) -> LeaseCounters {
        self.leases.counters.snapshot()
    }
}

impl<C: Clock + 'static> Drop for LeasedLayers<C> {
    fn drop(&mut self) {
        self.leases.close();
    }
}
