//! Leases against a simulated fleet: hosts with the real local lease
//! bucket and lease sizing, a store that is the engine's own GCRA (a
//! [`Limiter`] timed by the simulation), random arrivals, lease sizes,
//! delays on every message, give-backs and host deaths. Checked after
//! every event:
//!
//! * no over-admission: tokens spent never exceed the tokens the store
//!   debited less those handed back, and never exceed
//!   `burst + rate x elapsed` from the full bucket the run starts with;
//!   over a window starting later, they exceed it by no more than the
//!   tokens hosts held or had on their way (granted or given back) then;
//! * a host never holds more than a lease plus the low-water mark of one,
//!   and a host that dies strands no more than that: what it held, and the
//!   lease it had asked for if one was in flight;
//! * nothing is stranded for good: once every live host has given back and
//!   the debt has had time to drain, the store's bucket is full again.

use floodgate::store::lease::{LeaseBucket, Sizing, Take};
use floodgate::{Limiter, Quota};
use proptest::prelude::*;
use std::collections::VecDeque;
use std::time::Duration;

const HOSTS: usize = 3;
const BURST: u64 = 40;
/// One request per millisecond.
const INTERVAL_NS: u64 = 1_000_000;
const LEASE_NS: u64 = 5 * INTERVAL_NS;
const LOW_WATER: u64 = 25;

fn ms(ns: u64) -> u64 {
    ns / 1_000_000
}

/// A message on its way, delivered at `at`.
enum Message {
    /// A lease request reaching the store.
    Ask { host: usize, size: u64, sent: u64 },
    /// The store's answer reaching the host: `granted` tokens (0: denied
    /// until `retry`), the debt they left draining at `full_at`.
    Grant {
        host: usize,
        granted: u64,
        sent: u64,
        full_at: u64,
        retry: u64,
    },
    /// A give-back reaching the store.
    Refund { amount: u64 },
}

struct Host {
    bucket: LeaseBucket,
    alive: bool,
    /// Tokens stranded by its death: held then, or granted after.
    stranded: u64,
    funded_at: u64,
    funded: u64,
    granted: u64,
    full_at: u64,
}

struct Fleet {
    store: Limiter,
    sizing: Sizing,
    hosts: Vec<Host>,
    mail: VecDeque<(u64, Message)>,
    now: u64,
    debited: u64,
    refunded: u64,
    spent: u64,
    /// Tokens in grants and give-backs not delivered yet.
    granting: u64,
    returning: u64,
    /// After each event: the time, the tokens spent so far, and the
    /// tokens live hosts held or had on their way.
    history: Vec<(u64, u64, u64)>,
}

impl Fleet {
    fn new() -> Self {
        let quota = Quota::per_period(1, Duration::from_nanos(INTERVAL_NS), BURST).unwrap();
        Self {
            store: Limiter::builder(quota).build(),
            sizing: Sizing::new(BURST, HOSTS as u64, LEASE_NS, LOW_WATER),
            hosts: (0..HOSTS)
                .map(|_| Host {
                    bucket: LeaseBucket::new(),
                    alive: true,
                    stranded: 0,
                    funded_at: 0,
                    funded: 0,
                    granted: 0,
                    full_at: 0,
                })
                .collect(),
            mail: VecDeque::new(),
            now: 0,
            debited: 0,
            refunded: 0,
            spent: 0,
            granting: 0,
            returning: 0,
            history: Vec::new(),
        }
    }

    fn send(&mut self, delay: u64, message: Message) {
        self.mail.push_back((self.now + delay, message));
        self.mail.make_contiguous().sort_by_key(|(at, _)| *at);
    }

    /// Delivers every message due by now.
    fn deliver(&mut self) {
        while self.mail.front().is_some_and(|(at, _)| *at <= self.now) {
            let (at, message) = self.mail.pop_front().unwrap();
            self.receive(at, message);
        }
    }

    fn receive(&mut self, at: u64, message: Message) {
        match message {
            Message::Ask { host, size, sent } => {
                // allowAtMost on the engine's arithmetic: the most that fit, at least one.
                let fits = self.store.peek_at(at).remaining();
                let decision = self.store.check_at(size.min(fits).max(1), at);
                let granted = if decision.is_admitted() {
                    size.min(fits)
                } else {
                    0
                };
                self.debited += granted;
                self.granting += granted;
                let grant = Message::Grant {
                    host,
                    granted,
                    sent,
                    full_at: sent + decision.reset_after_ns().saturating_sub(INTERVAL_NS),
                    retry: sent + decision.retry_after_ns(),
                };
                // The answer takes as long back as the question took.
                self.mail.push_back((at + (at - sent), grant));
                self.mail.make_contiguous().sort_by_key(|(at, _)| *at);
            }
            Message::Grant {
                host,
                granted,
                sent,
                full_at,
                retry,
            } => {
                self.granting -= granted;
                let now_ms = ms(self.now);
                let sizing = self.sizing;
                let h = &mut self.hosts[host];
                if !h.alive {
                    h.stranded += granted;
                    assert!(h.stranded < sizing.most() + sizing.low_water(sizing.most()));
                    return;
                }
                if granted == 0 {
                    h.bucket.deny(ms(retry) + 1, now_ms);
                    return;
                }
                let until = ms(full_at.max(sent + 2 * LEASE_NS));
                assert_eq!(h.bucket.fund(granted, until, now_ms), 0);
                let held = h.bucket.snapshot().valid_tokens(now_ms);
                assert!(
                    held < sizing.most() + sizing.low_water(sizing.most()),
                    "a host holds {held}"
                );
                (h.funded_at, h.funded, h.granted, h.full_at) =
                    (self.now.max(1), held, granted, full_at);
            }
            Message::Refund { amount } => {
                self.returning -= amount;
                self.store.refund_at(amount, at);
            }
        }
    }

    fn arrive(&mut self, host: usize, delay: u64) {
        let now_ms = ms(self.now);
        let h = &self.hosts[host];
        if !h.alive {
            return;
        }
        let low = self.sizing.low_water(self.sizing.most());
        let take = h.bucket.take(1, now_ms, low);
        let claimed = match take {
            Take::Spent { refill, .. } => {
                self.spent += 1;
                refill
            }
            Take::Empty { refill } => refill,
            Take::Denied { .. } => false,
        };
        if claimed {
            let h = &self.hosts[host];
            let valid = h.bucket.snapshot().valid_tokens(now_ms);
            let size = if h.funded_at == 0 {
                1
            } else {
                self.sizing
                    .next(h.funded.saturating_sub(valid), self.now - h.funded_at)
            };
            let sent = self.now;
            self.send(delay, Message::Ask { host, size, sent });
        }
    }

    /// A host gives back what it holds, as the engine does: at most its
    /// last grant, and only before that grant's debt drains.
    fn give_back(&mut self, host: usize, delay: u64) {
        let h = &self.hosts[host];
        if !h.alive {
            return;
        }
        let drained = h.bucket.drain(ms(self.now));
        let amount = if self.now < h.full_at {
            drained.min(h.granted)
        } else {
            0
        };
        if amount > 0 {
            self.refunded += amount;
            self.returning += amount;
            self.send(delay, Message::Refund { amount });
        }
    }

    fn die(&mut self, host: usize) {
        let h = &mut self.hosts[host];
        if h.alive {
            h.alive = false;
            h.stranded = h.bucket.snapshot().valid_tokens(ms(self.now));
        }
    }

    fn check(&mut self) {
        assert!(
            self.spent <= self.debited - self.refunded,
            "spent {} > debited {} - refunded {}",
            self.spent,
            self.debited,
            self.refunded
        );
        let bound = BURST + self.now / INTERVAL_NS;
        assert!(self.spent <= bound, "spent {} > bound {bound}", self.spent);
        for &(then, spent, held) in &self.history {
            let window = BURST + (self.now - then).div_ceil(INTERVAL_NS) + held;
            assert!(
                self.spent - spent <= window,
                "{} spent since {then} > {window}",
                self.spent - spent
            );
        }
        let now_ms = ms(self.now);
        let held: u64 = self
            .hosts
            .iter()
            .filter(|h| h.alive)
            .map(|h| h.bucket.snapshot().valid_tokens(now_ms))
            .sum();
        let on_the_way = self.granting + self.returning;
        self.history.push((self.now, self.spent, held + on_the_way));
    }
}

#[derive(Clone, Debug)]
enum Op {
    Arrive {
        host: usize,
        gap_us: u64,
        delay_us: u64,
    },
    GiveBack {
        host: usize,
        delay_us: u64,
    },
    Die {
        host: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (0..HOSTS, 0..400u64, 0..3_000u64)
            .prop_map(|(host, gap_us, delay_us)| Op::Arrive { host, gap_us, delay_us }),
        2 => (0..HOSTS, 0..3_000u64).prop_map(|(host, delay_us)| Op::GiveBack { host, delay_us }),
        1 => (0..HOSTS).prop_map(|host| Op::Die { host }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_fleet_on_leases_never_over_admits(ops in prop::collection::vec(op(), 1..600)) {
        let mut fleet = Fleet::new();
        for op in ops {
            match op {
                Op::Arrive { host, gap_us, delay_us } => {
                    fleet.now += gap_us * 1_000;
                    fleet.deliver();
                    fleet.arrive(host, delay_us * 1_000 + 1);
                }
                Op::GiveBack { host, delay_us } => fleet.give_back(host, delay_us * 1_000 + 1),
                Op::Die { host } => fleet.die(host),
            }
            fleet.check();
        }
        // Every message lands, the live hosts give back, and the debt
        // (stranded tokens included) drains: the bucket is full again.
        fleet.now += 10_000 * 1_000;
        fleet.deliver();
        for host in 0..HOSTS {
            fleet.give_back(host, 1);
        }
        fleet.now += 1;
        fleet.deliver();
        fleet.check();
        let drained = fleet.now + (BURST + 1) * INTERVAL_NS;
        prop_assert_eq!(fleet.store.peek_at(drained).remaining(), BURST);
    }
}
