//! What the exports act on in a library built without the `redis` feature:
//! types that have no values, since `fg_redis_store_open`, the only source
//! of a handle, refuses. The compiler then proves every other export can
//! only fail on its arguments.

use super::super::status::{Failure, FgStatus};
use crate::core::decision::Decision;
use crate::core::error::Result;
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::policy::Verdict;
use std::time::Duration;

pub(super) enum RedisStore {}

pub(super) enum RedisLimiter {}

pub(super) struct RedisLimiterBuilder<'a>(&'a RedisStore);

pub(in crate::ffi) enum OnFailure {
    Open,
    Closed,
    Local,
}

impl RedisStore {
    pub(super) fn open(_url: &str) -> std::result::Result<Self, Failure> {
        Err(Failure::new(
            FgStatus::StoreUnavailable,
            "this library was built without Redis support (cargo feature `redis`)".to_string(),
        ))
    }

    pub(super) fn cluster(_urls: &[&str]) -> std::result::Result<Self, Failure> {
        Self::open("")
    }
}

impl RedisLimiter {
    pub(super) fn builder(store: &RedisStore, _quota: Quota) -> RedisLimiterBuilder<'_> {
        RedisLimiterBuilder(store)
    }

    pub(super) fn check(&self, _key: &[u8], _cost: u64) -> Result<Decision> {
        match *self {}
    }

    pub(super) fn peek(&self, _key: &[u8]) -> Result<Decision> {
        match *self {}
    }

    pub(super) fn refund(&self, _key: &[u8], _amount: u64) -> Result<Decision> {
        match *self {}
    }
}

pub(super) fn counters_of(limiter: &RedisLimiter) -> super::FgStoreCounters {
    match *limiter {}
}

pub(super) enum RedisLayers {}

pub(super) struct RedisLayersBuilder<'a>(&'a RedisStore);

impl RedisLayers {
    pub(super) fn builder(store: &RedisStore) -> RedisLayersBuilder<'_> {
        RedisLayersBuilder(store)
    }

    pub(super) fn check(&self, _keys: &[&[u8]], _cost: u64) -> Result<Verdict> {
        match *self {}
    }
}

impl RedisLayersBuilder<'_> {
    pub(super) fn layer(self, _scope: Scope, _prefix: &[u8], _quota: Quota) -> Self {
        self
    }

    pub(super) fn on_failure(self, _on_failure: OnFailure) -> Self {
        self
    }

    pub(super) fn deadline(self, _deadline: Duration) -> Self {
        self
    }

    pub(super) fn breaker(self, _failures: u32, _cool_down: Duration) -> Self {
        self
    }

    pub(super) fn build(self) -> Result<RedisLayers> {
        match *self.0 {}
    }
}

pub(super) fn layers_counters_of(layers: &RedisLayers) -> super::FgStoreCounters {
    match *layers {}
}

pub(super) enum RedisWindow {}

pub(super) struct RedisWindowBuilder<'a>(&'a RedisStore);

impl RedisWindow {
    pub(super) fn builder(
        store: &RedisStore,
        _limit: u64,
        _window: Duration,
    ) -> RedisWindowBuilder<'_> {
        RedisWindowBuilder(store)
    }

    pub(super) fn check(&self, _key: &[u8], _cost: u64) -> Result<Decision> {
        match *self {}
    }

    pub(super) fn peek(&self, _key: &[u8]) -> Result<Decision> {
        match *self {}
    }

    pub(super) fn refund(&self, _key: &[u8], _amount: u64) -> Result<Decision> {
        match *self {}
    }
}

impl RedisWindowBuilder<'_> {
    pub(super) fn prefix(self, _prefix: &[u8]) -> Self {
        self
    }

    pub(super) fn on_failure(self, _on_failure: OnFailure) -> Self {
        self
    }

    pub(super) fn deadline(self, _deadline: Duration) -> Self {
        self
    }

    pub(super) fn breaker(self, _failures: u32, _cool_down: Duration) -> Self {
        self
    }

    pub(super) fn build(self) -> Result<RedisWindow> {
        match *self.0 {}
    }
}

pub(super) fn window_counters_of(windows: &RedisWindow) -> super::FgStoreCounters {
    match *windows {}
}

pub(super) enum RedisInFlight {}

pub(super) struct RedisInFlightBuilder<'a>(&'a RedisStore);

pub(super) enum RedisPermit {}

impl RedisInFlight {
    pub(super) fn builder(store: &RedisStore, _limit: u64) -> RedisInFlightBuilder<'_> {
        RedisInFlightBuilder(store)
    }
}

impl RedisInFlightBuilder<'_> {
    pub(super) fn prefix(self, _prefix: &[u8]) -> Self {
        self
    }

    pub(super) fn lease(self, _lease: Duration) -> Self {
        self
    }

    pub(super) fn on_failure(self, _on_failure: OnFailure) -> Self {
        self
    }

    pub(super) fn deadline(self, _deadline: Duration) -> Self {
        self
    }

    pub(super) fn breaker(self, _failures: u32, _cool_down: Duration) -> Self {
        self
    }

    pub(super) fn build(self) -> Result<RedisInFlight> {
        match *self.0 {}
    }
}

impl RedisPermit {
    pub(super) fn renew(&mut self) -> Result<bool> {
        match *self {}
    }

    pub(super) fn release(self) -> Result<Option<u64>> {
        match self {}
    }
}

pub(super) fn acquire(
    caps: &RedisInFlight,
    _key: &[u8],
) -> Result<(super::FgRedisAcquisition, Option<RedisPermit>)> {
    match *caps {}
}

pub(super) fn inflight_counters_of(caps: &RedisInFlight) -> super::FgStoreCounters {
    match *caps {}
}

impl RedisLimiterBuilder<'_> {
    pub(super) fn on_failure(self, _on_failure: OnFailure) -> Self {
        self
    }

    pub(super) fn prefix(self, _prefix: &[u8]) -> Self {
        self
    }

    pub(super) fn deadline(self, _deadline: Duration) -> Self {
        self
    }

    pub(super) fn breaker(self, _failures: u32, _cool_down: Duration) -> Self {
        self
    }

    pub(super) fn build(self) -> Result<RedisLimiter> {
        match *self.0 {}
    }
}

/// A wire: none exists, since `fg_redis_wire_new` needs a store.
pub(super) enum LimiterWire {}

impl LimiterWire {
    pub(super) fn new(store: &RedisStore) -> Option<Self> {
        match *store {}
    }

    pub(super) fn open(&mut self) {
        match *self {}
    }

    pub(super) fn close(&mut self) {
        match *self {}
    }

    pub(super) fn write(&mut self, _room: &mut [u8]) -> usize {
        match *self {}
    }

    pub(super) fn read(&mut self, _bytes: &[u8]) {
        match *self {}
    }

    pub(super) fn expire(&mut self) -> Option<Duration> {
        match *self {}
    }

    pub(super) fn take(&mut self, _capacity: usize) -> std::iter::Empty<crate::ffi::FgRedisAnswer> {
        match *self {}
    }

    pub(super) fn has_answers(&self) -> bool {
        match *self {}
    }

    pub(super) fn has_output(&self) -> bool {
        match *self {}
    }

    pub(super) fn is_broken(&self) -> bool {
        match *self {}
    }
}

pub(super) fn endpoint_of(wire: &LimiterWire) -> std::result::Result<(String, u16), Failure> {
    match *wire {}
}

pub(super) fn start_on(
    limiter: &RedisLimiter,
    _wire: &mut LimiterWire,
    _key: &[u8],
    _asked: super::wire::Asked,
    _ticket: u64,
) -> std::result::Result<(), Failure> {
    match *limiter {}
}
