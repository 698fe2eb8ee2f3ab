//! Property test: a keyed limiter makes exactly the decisions of a plain
//! reference model, a HashMap of integer GCRA buckets written here from the
//! quota's definition (u128 arithmetic, absolute time, no packing, no table),
//! through random keys, costs, refunds, per-key quotas, reconfigurations and
//! time steps. Small capacities (at most the probe window) make new keys
//! reuse refilled slots and run into full tables, which the model predicts.

use floodgate::{Decision, Error, FullTable, Key, KeyedLimiter, ManualClock, Outcome, Quota};
use proptest::prelude::*;
use std::collections::HashMap;

const START_NS: u64 = 1_000_000_000_000;

/// A rate as the model sees it: `count` per `period_ns`, `burst`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rate {
    count: u64,
    period_ns: u64,
    burst: u64,
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Rate {
    /// Time is counted in ticks of 1/k ns with k = count / gcd(count, period):
    /// then one request is a whole number of ticks.
    fn ticks_per_ns(&self) -> u128 {
        u128::from(self.count) / gcd(self.count.into(), self.period_ns.into())
    }
    fn token(&self) -> u128 {
        u128::from(self.period_ns) / gcd(self.count.into(), self.period_ns.into())
    }
    fn capacity(&self) -> u128 {
        u128::from(self.burst) * self.token()
    }
    fn quota(&self) -> Quota {
        Quota::new(self.count, std::time::Duration::from_nanos(self.period_ns))
            .unwrap()
            .with_burst(self.burst)
            .unwrap()
    }
    fn ns(&self, ticks: u128) -> u64 {
        ticks.div_ceil(self.ticks_per_ns()) as u64
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Reported {
    outcome: Outcome,
    limit: u64,
    remaining: u64,
    reset_after_ns: u64,
    retry_after_ns: u64,
}

impl From<Decision> for Reported {
    fn from(d: Decision) -> Self {
        Reported {
            outcome: d.outcome(),
            limit: d.limit(),
            remaining: d.remaining(),
            reset_after_ns: d.reset_after_ns(),
            retry_after_ns: d.retry_after_ns(),
        }
    }
}

/// A bucket: its theoretical arrival time in ticks of `rate`, absolute.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tat: u128,
    rate: Rate,
}

impl Bucket {
    fn debt(&self, now_ns: u64) -> u128 {
        self.tat
            .saturating_sub(u128::from(now_ns) * self.rate.ticks_per_ns())
    }
}

struct Model {
    now_ns: u64,
    default: Rate,
    buckets: HashMap<u64, Bucket>,
    overrides: HashMap<u64, Rate>,
    capacity: usize,
    max_overrides: usize,
    full_events: u64,
}

impl Model {
    fn rate_of(&self, key: u64) -> Rate {
        self.overrides.get(&key).copied().unwrap_or(self.default)
    }

    fn debt(&self, key: u64) -> u128 {
        self.buckets
            .get(&key)
            .map_or(0, |bucket| bucket.debt(self.now_ns))
    }

    /// Keys that hold a slot no new key may take: in debt, or pinned.
    fn active(&self, key: u64) -> bool {
        self.overrides.contains_key(&key) || self.debt(key) > 0
    }

    fn active_count(&self) -> usize {
        let keys: std::collections::HashSet<u64> = self
            .buckets
            .keys()
            .chain(self.overrides.keys())
            .copied()
            .collect();
        keys.into_iter().filter(|&key| self.active(key)).count()
    }

    fn report(rate: Rate, outcome: Outcome, debt: u128, wait: u128) -> Reported {
        Reported {
            outcome,
            limit: rate.burst,
            remaining: (rate.capacity().saturating_sub(debt) / rate.token()) as u64,
            reset_after_ns: rate.ns(debt),
            retry_after_ns: rate.ns(wait),
        }
    }

    fn store(&mut self, key: u64, rate: Rate, debt: u128) {
        let tat = u128::from(self.now_ns) * rate.ticks_per_ns() + debt;
        self.buckets.insert(key, Bucket { tat, rate });
    }

    fn check(&mut self, key: u64, cost: u64) -> Reported {
        let rate = self.rate_of(key);
        let debt = self.debt(key);
        if cost > rate.burst {
            return Self::report(rate, Outcome::CannotFit, debt, 0);
        }
        let need = u128::from(cost) * rate.token();
        if debt + need > rate.capacity() {
            return Self::report(rate, Outcome::Denied, debt, debt + need - rate.capacity());
        }
        if cost > 0 && !self.active(key) && self.active_count() >= self.capacity {
            self.full_events += 1;
            // FullTable::Deny: as if the bucket were empty.
            return Self::report(rate, Outcome::Denied, rate.capacity(), need);
        }
        if cost > 0 {
            self.store(key, rate, debt + need);
        }
        Self::report(rate, Outcome::Admitted, debt + need, 0)
    }

    fn refund(&mut self, key: u64, amount: u64) -> Reported {
        let rate = self.rate_of(key);
        let debt = self.debt(key);
        let left = debt.saturating_sub(u128::from(amount) * rate.token());
        if amount > 0 && debt > 0 {
            self.store(key, rate, left);
        }
        Self::report(rate, Outcome::Admitted, left, 0)
    }

    /// The reconfiguration rule: requests used are kept, rounded up to a
    /// whole tick of the new rate, capped at its burst.
    fn convert(&mut self, key: u64, to: Rate) {
        let from = self.rate_of(key);
        let debt = self.debt(key);
        let kept = (debt * to.token())
            .div_ceil(from.token())
            .min(to.capacity());
        self.store(key, to, kept);
    }

    fn set_quota(&mut self, key: u64, rate: Rate) -> Result<(), Error> {
        if !self.overrides.contains_key(&key) {
            if !self.active(key) && self.active_count() >= self.capacity {
                return Err(Error::TableFull);
            }
            if self.overrides.len() >= self.max_overrides {
                return Err(Error::TooManyOverrides);
            }
        }
        self.convert(key, rate);
        self.overrides.insert(key, rate);
        Ok(())
    }

    fn clear_quota(&mut self, key: u64) {
        if self.overrides.contains_key(&key) {
            let default = self.default;
            self.convert(key, default);
            self.overrides.remove(&key);
        }
    }

    fn reconfigure(&mut self, rate: Rate) {
        let keys: Vec<u64> = self
            .buckets
            .keys()
            .copied()
            .filter(|key| !self.overrides.contains_key(key))
            .collect();
        for key in keys {
            self.convert(key, rate);
        }
        self.default = rate;
    }
}

/// The limiter under test, keyed by `u64` or by strings made from the id.
trait Subject {
    fn check(&self, key: u64, cost: u64) -> Reported;
    fn refund(&self, key: u64, amount: u64) -> Reported;
    fn set_quota(&self, key: u64, quota: Quota) -> Result<(), Error>;
    fn clear_quota(&self, key: u64);
    fn quota_for(&self, key: u64) -> Quota;
    fn reconfigure(&self, quota: Quota);
    fn advance(&self, ns: u64);
    fn full_table_events(&self) -> u64;
}

impl Subject for KeyedLimiter<u64, ManualClock> {
    fn check(&self, key: u64, cost: u64) -> Reported {
        KeyedLimiter::check(self, &key, cost).into()
    }
    fn refund(&self, key: u64, amount: u64) -> Reported {
        KeyedLimiter::refund(self, &key, amount).into()
    }
    fn set_quota(&self, key: u64, quota: Quota) -> Result<(), Error> {
        KeyedLimiter::set_quota(self, &key, quota)
    }
    fn clear_quota(&self, key: u64) {
        KeyedLimiter::clear_quota(self, &key)
    }
    fn quota_for(&self, key: u64) -> Quota {
        KeyedLimiter::quota_for(self, &key)
    }
    fn reconfigure(&self, quota: Quota) {
        KeyedLimiter::reconfigure(self, quota)
    }
    fn advance(&self, ns: u64) {
        self.clock().advance(std::time::Duration::from_nanos(ns))
    }
    fn full_table_events(&self) -> u64 {
        KeyedLimiter::full_table_events(self)
    }
}

fn name(key: u64) -> String {
    format!("sk_test_{key:04}")
}

impl Subject for KeyedLimiter<str, ManualClock> {
    fn check(&self, key: u64, cost: u64) -> Reported {
        KeyedLimiter::check(self, &name(key), cost).unwrap().into()
    }
    fn refund(&self, key: u64, amount: u64) -> Reported {
        KeyedLimiter::refund(self, &name(key), amount)
            .unwrap()
            .into()
    }
    fn set_quota(&self, key: u64, quota: Quota) -> Result<(), Error> {
        KeyedLimiter::set_quota(self, &name(key), quota)
    }
    fn clear_quota(&self, key: u64) {
        KeyedLimiter::clear_quota(self, &name(key)).unwrap()
    }
    fn quota_for(&self, key: u64) -> Quota {
        KeyedLimiter::quota_for(self, &name(key)).unwrap()
    }
    fn reconfigure(&self, quota: Quota) {
        KeyedLimiter::reconfigure(self, quota)
    }
    fn advance(&self, ns: u64) {
        self.clock().advance(std::time::Duration::from_nanos(ns))
    }
    fn full_table_events(&self) -> u64 {
        KeyedLimiter::full_table_events(self)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Check { key: u64, cost: u64 },
    Refund { key: u64, amount: u64 },
    Advance { ns: u64 },
    SetQuota { key: u64, rate: Rate },
    ClearQuota { key: u64 },
    Reconfigure { rate: Rate },
}

/// Exact rates only (the quota's tick is the model's tick).
fn rate() -> impl Strategy<Value = Rate> {
    (
        prop::sample::select(vec![
            (1, 1_000_000_000),
            (2, 1_000_000_000),
            (3, 1_000_000_000),
            (10, 1_000_000_000),
            (30, 1_000_000_000),
            (60, 60_000_000_000),
            (7, 2_000_000_000),
        ]),
        1..6u64,
    )
        .prop_map(|((count, period_ns), burst)| Rate {
            count,
            period_ns,
            burst,
        })
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..10u64;
    prop_oneof![
        6 => (key.clone(), 0..7u64).prop_map(|(key, cost)| Op::Check { key, cost }),
        1 => (key.clone(), 0..4u64).prop_map(|(key, amount)| Op::Refund { key, amount }),
        3 => prop_oneof![0..1_000u64, 0..3_000_000_000u64].prop_map(|ns| Op::Advance { ns }),
        1 => (key.clone(), rate()).prop_map(|(key, rate)| Op::SetQuota { key, rate }),
        1 => key.prop_map(|key| Op::ClearQuota { key }),
        1 => rate().prop_map(|rate| Op::Reconfigure { rate }),
    ]
}

fn run(subject: &dyn Subject, model: &mut Model, ops: &[Op]) -> Result<(), TestCaseError> {
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Check { key, cost } => {
                prop_assert_eq!(
                    subject.check(key, cost),
                    model.check(key, cost),
                    "step {}",
                    step
                )
            }
            Op::Refund { key, amount } => prop_assert_eq!(
                subject.refund(key, amount),
                model.refund(key, amount),
                "step {}",
                step
            ),
            Op::Advance { ns } => {
                subject.advance(ns);
                model.now_ns += ns;
            }
            Op::SetQuota { key, rate } => prop_assert_eq!(
                subject.set_quota(key, rate.quota()),
                model.set_quota(key, rate),
                "step {}",
                step
            ),
            Op::ClearQuota { key } => {
                subject.clear_quota(key);
                model.clear_quota(key);
            }
            Op::Reconfigure { rate } => {
                subject.reconfigure(rate.quota());
                model.reconfigure(rate);
            }
        }
        prop_assert_eq!(
            subject.full_table_events(),
            model.full_events,
            "step {}",
            step
        );
    }
    for key in 0..10 {
        prop_assert_eq!(subject.quota_for(key), model.rate_of(key).quota());
        prop_assert_eq!(subject.check(key, 0), model.check(key, 0));
    }
    Ok(())
}

fn model(default: Rate, capacity: usize, max_overrides: usize) -> Model {
    Model {
        now_ns: START_NS,
        default,
        buckets: HashMap::new(),
        overrides: HashMap::new(),
        capacity,
        max_overrides,
        full_events: 0,
    }
}

/// The limiter under test, configured like [`model`].
fn new_limiter<K: Key + ?Sized>(
    default: Rate,
    capacity: usize,
    max_overrides: usize,
) -> KeyedLimiter<K, ManualClock> {
    KeyedLimiter::builder(default.quota())
        .capacity(capacity)
        .max_overrides(max_overrides)
        .on_full(FullTable::Deny)
        .clock(ManualClock::starting_at(START_NS))
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn u64_keys_decide_like_the_model(
        default in rate(),
        capacity in 2..9usize,
        max_overrides in 0..4usize,
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let limiter: KeyedLimiter<u64, ManualClock> = new_limiter(default, capacity, max_overrides);
        run(&limiter, &mut model(default, capacity, max_overrides), &ops)?;
    }

    #[test]
    fn string_keys_decide_like_the_model(
        default in rate(),
        capacity in 2..9usize,
        max_overrides in 0..4usize,
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let limiter: KeyedLimiter<str, ManualClock> = new_limiter(default, capacity, max_overrides);
        run(&limiter, &mut model(default, capacity, max_overrides), &ops)?;
    }
}
