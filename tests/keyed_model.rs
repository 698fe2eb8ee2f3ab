//! Property test: a keyed limiter makes exactly the decisions of a plain
//! reference model, a HashMap of integer GCRA buckets written here from the
//! quota's definition (u128 arithmetic, absolute time, no packing, no table),
//! through random keys, costs, reservations, refunds, per-key quotas,
//! reconfigurations, and time that steps forward and back, under every
//! [`FullTable`] mode. Three table shapes:
//!
//! * one bucket (at most 16 slots): the model places keys in slots exactly
//!   as the table does (first unused slot, else first refilled one), so it knows which
//!   refilled bucket a new key reuses and forgets it, which is what makes
//!   time stepping back exact; new keys run into full tables.
//! * two buckets (32 slots): every key's two candidate buckets are the whole
//!   table, so a table is full exactly when 32 keys are active; keys land in
//!   either bucket (two-choice placement) and must be found in either.
//! * more buckets than a window, with fewer keys than a window holds: never
//!   full, and windows differ from key to key.
//!
//! Where the model cannot know slots (two buckets or more), time only goes
//! forward: a refilled bucket stays full, so forgetting it is invisible.

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
    delay_ns: u64,
}

impl From<Decision> for Reported {
    fn from(d: Decision) -> Self {
        Reported {
            outcome: d.outcome(),
            limit: d.limit(),
            remaining: d.remaining(),
            reset_after_ns: d.reset_after_ns(),
            retry_after_ns: d.retry_after_ns(),
            delay_ns: d.delay().as_nanos() as u64,
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
    /// The table's slots, by index, when it is one bucket: the key in each.
    slots: Option<Vec<Option<u64>>>,
    /// Slots a new key's window covers, when it is the whole table.
    capacity: usize,
    max_overrides: usize,
    on_full: FullTable,
    /// `FullTable::Overflow`'s shared bucket, in the default rate.
    overflow: Option<Bucket>,
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

    /// Whether `key` has a slot of its own.
    fn holds(&self, key: u64) -> bool {
        match &self.slots {
            Some(slots) => slots.contains(&Some(key)),
            None => self.active(key),
        }
    }

    /// The slot a new key would take, if any: `Some(None)` when the model
    /// does not track slots.
    fn vacancy(&self) -> Option<Option<usize>> {
        match &self.slots {
            // A never-used slot first, a refilled bucket only when none is left.
            Some(slots) => slots
                .iter()
                .position(Option::is_none)
                .or_else(|| {
                    slots
                        .iter()
                        .position(|slot| slot.is_some_and(|key| !self.active(key)))
                })
                .map(Some),
            None => (self.active_count() < self.capacity).then_some(None),
        }
    }

    /// Gives a new key the slot `vacancy` found; its old key's bucket is gone.
    fn place(&mut self, key: u64, vacancy: Option<usize>) {
        if let (Some(slots), Some(index)) = (&mut self.slots, vacancy) {
            if let Some(old) = slots[index].replace(key) {
                self.buckets.remove(&old);
            }
        }
    }

    /// `wait` is the retry-after of a denial, the delay of an admission.
    fn report(rate: Rate, outcome: Outcome, debt: u128, wait: u128) -> Reported {
        let admitted = outcome == Outcome::Admitted;
        Reported {
            outcome,
            limit: rate.burst,
            remaining: (rate.capacity().saturating_sub(debt) / rate.token()) as u64,
            reset_after_ns: rate.ns(debt),
            retry_after_ns: if admitted { 0 } else { rate.ns(wait) },
            delay_ns: if admitted { rate.ns(wait) } else { 0 },
        }
    }

    fn store(&mut self, key: u64, rate: Rate, debt: u128) {
        let tat = u128::from(self.now_ns) * rate.ticks_per_ns() + debt;
        self.buckets.insert(key, Bucket { tat, rate });
    }

    /// A check (a reservation, with `max_wait_ns`) of a bucket owing `debt`
    /// in `rate`: the decision, and the debt to store if it charges.
    fn decide(
        rate: Rate,
        debt: u128,
        cost: u64,
        max_wait_ns: Option<u64>,
    ) -> (Reported, Option<u128>) {
        if cost > rate.burst {
            return (Self::report(rate, Outcome::CannotFit, debt, 0), None);
        }
        let need = u128::from(cost) * rate.token();
        if debt + need <= rate.capacity() {
            let charged = (cost > 0).then_some(debt + need);
            return (
                Self::report(rate, Outcome::Admitted, debt + need, 0),
                charged,
            );
        }
        let late = debt + need - rate.capacity();
        // A reservation of nothing is a peek.
        let max_wait_ns = max_wait_ns.filter(|_| cost > 0);
        match max_wait_ns.map(|ns| u128::from(ns) * rate.ticks_per_ns()) {
            Some(max_wait) if late <= max_wait => (
                Self::report(rate, Outcome::Admitted, debt + need, late),
                Some(debt + need),
            ),
            Some(max_wait) => (
                Self::report(rate, Outcome::Denied, debt, late - max_wait),
                None,
            ),
            None => (Self::report(rate, Outcome::Denied, debt, late), None),
        }
    }

    /// A check (or, with `max_wait_ns`, a reservation) of `cost` for `key`.
    fn check(&mut self, key: u64, cost: u64, max_wait_ns: Option<u64>) -> Reported {
        let rate = self.rate_of(key);
        let (decision, charged) = Self::decide(rate, self.debt(key), cost, max_wait_ns);
        let Some(debt) = charged else {
            return decision;
        };
        if !self.holds(key) {
            match self.vacancy() {
                Some(vacancy) => self.place(key, vacancy),
                None => return self.when_full(rate, cost),
            }
        }
        self.store(key, rate, debt);
        decision
    }

    /// A new key found no slot: `FullTable` decides, in the default rate.
    fn when_full(&mut self, rate: Rate, cost: u64) -> Reported {
        self.full_events += 1;
        match self.on_full {
            FullTable::Deny => Self::decide(rate, rate.capacity(), cost, None).0,
            FullTable::Admit => Self::decide(rate, 0, cost, None).0,
            FullTable::Overflow => {
                let debt = self.overflow.map_or(0, |bucket| bucket.debt(self.now_ns));
                let (decision, charged) = Self::decide(rate, debt, cost, None);
                if let Some(debt) = charged {
                    let tat = u128::from(self.now_ns) * rate.ticks_per_ns() + debt;
                    self.overflow = Some(Bucket { tat, rate });
                }
                decision
            }
        }
    }

    fn refund(&mut self, key: u64, amount: u64) -> Reported {
        let rate = self.rate_of(key);
        let debt = self.debt(key);
        let left = debt.saturating_sub(u128::from(amount) * rate.token());
        if amount > 0 && debt > 0 {
            self.store(key, rate, left);
        }
        // Reported as a peek would: over capacity only if time stepped back.
        Self::decide(rate, left, 0, None).0
    }

    /// The reconfiguration rule: requests used are kept, rounded up to a
    /// whole tick of the new rate, capped at its burst.
    fn converted(bucket: Option<Bucket>, now_ns: u64, to: Rate) -> u128 {
        bucket.map_or(0, |bucket| {
            let debt = bucket.debt(now_ns);
            // Debt beyond the burst: time by which `now_ns` is behind the
            // bucket's last charge, kept as time rather than requests.
            let lag = debt.saturating_sub(bucket.rate.capacity());
            let kept = ((debt - lag) * to.token())
                .div_ceil(bucket.rate.token())
                .min(to.capacity());
            kept + lag / bucket.rate.ticks_per_ns() * to.ticks_per_ns()
        })
    }

    fn convert(&mut self, key: u64, to: Rate) {
        let kept = Self::converted(self.buckets.get(&key).copied(), self.now_ns, to);
        self.store(key, to, kept);
    }

    fn set_quota(&mut self, key: u64, rate: Rate) -> Result<(), Error> {
        if !self.overrides.contains_key(&key) {
            let vacancy = if self.holds(key) {
                None
            } else {
                Some(self.vacancy().ok_or(Error::TableFull)?)
            };
            if self.overrides.len() >= self.max_overrides {
                return Err(Error::TooManyOverrides);
            }
            if let Some(vacancy) = vacancy {
                self.place(key, vacancy);
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
        // The overflow limiter's word is rewritten at `now` even when full.
        let kept = Self::converted(self.overflow, self.now_ns, rate);
        let tat = u128::from(self.now_ns) * rate.ticks_per_ns() + kept;
        self.overflow = Some(Bucket { tat, rate });
        self.default = rate;
    }
}

/// The limiter under test, keyed by `u64` or by strings made from the id,
/// called at the model's time.
trait Subject {
    fn check(&self, key: u64, cost: u64, now: u64) -> Reported;
    fn reserve(&self, key: u64, cost: u64, max_wait_ns: u64, now: u64) -> Reported;
    fn refund(&self, key: u64, amount: u64, now: u64) -> Reported;
    fn set_quota(&self, key: u64, quota: Quota, now: u64) -> Result<(), Error>;
    fn clear_quota(&self, key: u64, now: u64);
    fn quota_for(&self, key: u64) -> Quota;
    fn reconfigure(&self, quota: Quota, now: u64);
    fn full_table_events(&self) -> u64;
}

impl Subject for KeyedLimiter<u64, ManualClock> {
    fn check(&self, key: u64, cost: u64, now: u64) -> Reported {
        self.check_at(&key, cost, now).into()
    }
    fn reserve(&self, key: u64, cost: u64, max_wait_ns: u64, now: u64) -> Reported {
        let max_wait = std::time::Duration::from_nanos(max_wait_ns);
        self.reserve_at(&key, cost, max_wait, now).into()
    }
    fn refund(&self, key: u64, amount: u64, now: u64) -> Reported {
        self.refund_at(&key, amount, now).into()
    }
    fn set_quota(&self, key: u64, quota: Quota, now: u64) -> Result<(), Error> {
        self.set_quota_at(&key, quota, now)
    }
    fn clear_quota(&self, key: u64, now: u64) {
        self.clear_quota_at(&key, now)
    }
    fn quota_for(&self, key: u64) -> Quota {
        KeyedLimiter::quota_for(self, &key)
    }
    fn reconfigure(&self, quota: Quota, now: u64) {
        self.reconfigure_at(quota, now)
    }
    fn full_table_events(&self) -> u64 {
        KeyedLimiter::full_table_events(self)
    }
}

fn name(key: u64) -> String {
    format!("sk_test_{key:04}")
}

impl Subject for KeyedLimiter<str, ManualClock> {
    fn check(&self, key: u64, cost: u64, now: u64) -> Reported {
        self.check_at(&name(key), cost, now).unwrap().into()
    }
    fn reserve(&self, key: u64, cost: u64, max_wait_ns: u64, now: u64) -> Reported {
        let max_wait = std::time::Duration::from_nanos(max_wait_ns);
        self.reserve_at(&name(key), cost, max_wait, now)
            .unwrap()
            .into()
    }
    fn refund(&self, key: u64, amount: u64, now: u64) -> Reported {
        self.refund_at(&name(key), amount, now).unwrap().into()
    }
    fn set_quota(&self, key: u64, quota: Quota, now: u64) -> Result<(), Error> {
        self.set_quota_at(&name(key), quota, now)
    }
    fn clear_quota(&self, key: u64, now: u64) {
        self.clear_quota_at(&name(key), now).unwrap()
    }
    fn quota_for(&self, key: u64) -> Quota {
        KeyedLimiter::quota_for(self, &name(key)).unwrap()
    }
    fn reconfigure(&self, quota: Quota, now: u64) {
        self.reconfigure_at(quota, now)
    }
    fn full_table_events(&self) -> u64 {
        KeyedLimiter::full_table_events(self)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Check {
        key: u64,
        cost: u64,
    },
    Reserve {
        key: u64,
        cost: u64,
        max_wait_ns: u64,
    },
    Refund {
        key: u64,
        amount: u64,
    },
    Advance {
        ns: u64,
    },
    Rewind {
        ns: u64,
    },
    SetQuota {
        key: u64,
        rate: Rate,
    },
    ClearQuota {
        key: u64,
    },
    Reconfigure {
        rate: Rate,
    },
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

/// Operations on keys `0..keys`; time steps back only if `rewind`. One
/// time step in `1 + long_odds` is up to 3 s, the others under 1 µs.
fn op(keys: u64, rewind: bool, long_odds: u32) -> impl Strategy<Value = Op> {
    let key = 0..keys;
    let step = move || prop_oneof![long_odds => 0..1_000u64, 1 => 0..3_000_000_000u64];
    prop_oneof![
        6 => (key.clone(), 0..7u64).prop_map(|(key, cost)| Op::Check { key, cost }),
        2 => (key.clone(), 0..7u64, 0..3_000_000_000u64)
            .prop_map(|(key, cost, max_wait_ns)| Op::Reserve { key, cost, max_wait_ns }),
        1 => (key.clone(), 0..4u64).prop_map(|(key, amount)| Op::Refund { key, amount }),
        3 => step().prop_map(|ns| Op::Advance { ns }),
        if rewind { 2 } else { 0 } => step().prop_map(|ns| Op::Rewind { ns }),
        1 => (key.clone(), rate()).prop_map(|(key, rate)| Op::SetQuota { key, rate }),
        1 => key.prop_map(|key| Op::ClearQuota { key }),
        1 => rate().prop_map(|rate| Op::Reconfigure { rate }),
    ]
}

fn full_table() -> impl Strategy<Value = FullTable> {
    prop::sample::select(vec![FullTable::Deny, FullTable::Admit, FullTable::Overflow])
}

fn run(
    subject: &dyn Subject,
    model: &mut Model,
    keys: u64,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    for (step, op) in ops.iter().enumerate() {
        let now = model.now_ns;
        match *op {
            Op::Check { key, cost } => prop_assert_eq!(
                subject.check(key, cost, now),
                model.check(key, cost, None),
                "step {}",
                step
            ),
            Op::Reserve {
                key,
                cost,
                max_wait_ns,
            } => prop_assert_eq!(
                subject.reserve(key, cost, max_wait_ns, now),
                model.check(key, cost, Some(max_wait_ns)),
                "step {}",
                step
            ),
            Op::Refund { key, amount } => prop_assert_eq!(
                subject.refund(key, amount, now),
                model.refund(key, amount),
                "step {}",
                step
            ),
            Op::Advance { ns } => model.now_ns += ns,
            Op::Rewind { ns } => model.now_ns -= ns,
            Op::SetQuota { key, rate } => prop_assert_eq!(
                subject.set_quota(key, rate.quota(), now),
                model.set_quota(key, rate),
                "step {}",
                step
            ),
            Op::ClearQuota { key } => {
                subject.clear_quota(key, now);
                model.clear_quota(key);
            }
            Op::Reconfigure { rate } => {
                subject.reconfigure(rate.quota(), now);
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
    for key in 0..keys {
        prop_assert_eq!(subject.quota_for(key), model.rate_of(key).quota());
        prop_assert_eq!(
            subject.check(key, 0, model.now_ns),
            model.check(key, 0, None)
        );
    }
    Ok(())
}

/// A table shape: how many slots are asked for, and what the model knows.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// At most one bucket: the model tracks every slot.
    OneBucket,
    /// Two buckets: every window is the whole table.
    TwoBuckets,
    /// More buckets, fewer keys than a window holds.
    Wide,
}

/// Runs `ops` on `u64` and string keys, each against its own model.
fn check_both_key_kinds(
    shape: Shape,
    default: Rate,
    capacity: usize,
    max_overrides: usize,
    on_full: FullTable,
    keys: u64,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let by_id: KeyedLimiter<u64, ManualClock> =
        new_limiter(default, capacity, max_overrides, on_full);
    let table = by_id.capacity();
    let model = || Model {
        now_ns: START_NS,
        default,
        buckets: HashMap::new(),
        overrides: HashMap::new(),
        slots: matches!(shape, Shape::OneBucket).then(|| vec![None; table]),
        capacity: match shape {
            Shape::Wide => usize::MAX,
            _ => table,
        },
        max_overrides,
        on_full,
        overflow: None,
        full_events: 0,
    };
    run(&by_id, &mut model(), keys, ops)?;
    let by_name: KeyedLimiter<str, ManualClock> =
        new_limiter(default, capacity, max_overrides, on_full);
    run(&by_name, &mut model(), keys, ops)
}

/// The limiter under test, configured like the model.
fn new_limiter<K: Key + ?Sized>(
    default: Rate,
    capacity: usize,
    max_overrides: usize,
    on_full: FullTable,
) -> KeyedLimiter<K, ManualClock> {
    KeyedLimiter::<K>::builder(default.quota())
        .capacity(capacity)
        .max_overrides(max_overrides)
        .on_full(on_full)
        .clock(ManualClock::starting_at(START_NS))
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn one_bucket_tables_decide_like_the_model(
        default in rate(),
        capacity in 2..=16usize,
        max_overrides in 0..4usize,
        on_full in full_table(),
        ops in prop::collection::vec(op(10, true, 1), 1..150),
    ) {
        check_both_key_kinds(Shape::OneBucket, default, capacity, max_overrides, on_full, 10, &ops)?;
    }

    #[test]
    fn two_bucket_tables_decide_like_the_model(
        default in rate(),
        capacity in 17..=32usize,
        max_overrides in 0..4usize,
        on_full in full_table(),
        ops in prop::collection::vec(op(40, false, 4), 1..200),
    ) {
        // A charge for each of 32 keys first, so that new keys find the table full.
        let ops: Vec<Op> = (0..32).map(|key| Op::Check { key, cost: 1 }).chain(ops).collect();
        check_both_key_kinds(Shape::TwoBuckets, default, capacity, max_overrides, on_full, 40, &ops)?;
    }

    #[test]
    fn wide_tables_decide_like_the_model(
        default in rate(),
        capacity in 33..200usize,
        max_overrides in 0..4usize,
        on_full in full_table(),
        ops in prop::collection::vec(op(16, false, 1), 1..150),
    ) {
        check_both_key_kinds(Shape::Wide, default, capacity, max_overrides, on_full, 16, &ops)?;
    }
}
