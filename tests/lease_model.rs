//! Leases against a simulated fleet: hosts with the real local lease
//! bucket and lease sizing, a store that is the lease script's GCRA (its
//! debt as a theoretical arrival time, timed by the simulation, with leases
//! of at most a size and at least a least, reserved ahead within a lease
//! time as `gcra.lua` does), random arrivals, lease sizes, delays on every
//! message, give-backs and host deaths. Hosts ask as the engine does: a
//! key whose last lease fell short asks for a worthwhile one, and spends a
//! reservation only from its reply plus its wait. Checked after every
//! event:
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
use proptest::prelude::*;
use std::collections::VecDeque;

const HOSTS: usize = 3;
const BURST: u64 = 40;
/// One request per millisecond.
const INTERVAL_NS: u64 = 1_000_000;
const LEASE_NS: u64 = 20 * INTERVAL_NS;
const LOW_WATER: u64 = 25;

fn ms(ns: u64) -> u64 {
    ns / 1_000_000
}

/// A message on its way, delivered at `at`.
enum Message {
    /// A lease request reaching the store.
    Ask {
        host: usize,
        size: u64,
        least: u64,
        sent: u64,
    },
    /// The store's answer reaching the host: `granted` tokens (0: denied),
    /// spendable now or, `reserved`, `wait` ns after the store decided;
    /// the debt they left draining at `full_at`; the size asked.
    Grant {
        host: usize,
        granted: u64,
        reserved: bool,
        size: u64,
        sent: u64,
        full_at: u64,
        wait: u64,
    },
    /// A give-back reaching the store.
    Refund { amount: u64 },
}

/// The script's GCRA for one key: its debt is `tat` less now (none past
/// it), at most the burst, or more by reservations.
struct Store {
    tat: u64,
}

impl Store {
    fn debt(&self, at: u64) -> u64 {
        self.tat.saturating_sub(at)
    }

    /// A lease of at most `size` and at least `least` at `at`: the
    /// granted count, whether reserved, and the wait for it (0 when granted).
    fn lease(&mut self, size: u64, least: u64, at: u64) -> (u64, bool, u64) {
        let debt = self.debt(at);
        let capacity = BURST * INTERVAL_NS;
        let fit = capacity.saturating_sub(debt) / INTERVAL_NS;
        if fit >= least {
            let granted = size.min(fit);
            self.tat = at + debt + granted * INTERVAL_NS;
            return (granted, false, 0);
        }
        let wait = debt + least * INTERVAL_NS - capacity;
        if wait <= LEASE_NS {
            self.tat = at + debt + least * INTERVAL_NS;
            return (least, true, wait);
        }
        (0, false, wait)
    }

    fn refund(&mut self, amount: u64, at: u64) {
        let debt = self.debt(at).saturating_sub(amount * INTERVAL_NS);
        self.tat = at + debt;
    }
}

struct Host {
    bucket: LeaseBucket,
    alive: bool,
    /// Reserved tokens and the bucket millisecond they are spendable from.
    reserved: Option<(u64, u64)>,
    /// Whether the last lease fell short.
    short: bool,
    /// Tokens stranded by its death: held then, or granted after.
    stranded: u64,
    funded_at: u64,
    funded: u64,
    granted: u64,
    full_at: u64,
}

struct Fleet {
    store: Store,
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
        Self {
            store: Store { tat: 0 },
            sizing: Sizing::new(BURST, HOSTS as u64, LEASE_NS, LOW_WATER),
            hosts: (0..HOSTS)
                .map(|_| Host {
                    bucket: LeaseBucket::new(),
                    alive: true,
                    reserved: None,
                    short: false,
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
            Message::Ask {
                host,
                size,
                least,
                sent,
            } => {
                let (granted, reserved, wait) = self.store.lease(size, least, at);
                self.debited += granted;
                self.granting += granted;
                let grant = Message::Grant {
                    host,
                    granted,
                    reserved,
                    size,
                    sent,
                    full_at: sent + self.store.debt(at),
                    wait,
                };
                // The answer takes as long back as the question took.
                self.mail.push_back((at + (at - sent), grant));
                self.mail.make_contiguous().sort_by_key(|(at, _)| *at);
            }
            Message::Grant {
                host,
                granted,
                reserved,
                size,
                sent,
                full_at,
                wait,
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
                h.short = granted < size || reserved;
                if granted == 0 {
                    h.bucket.deny(ms(sent + wait) + 1, now_ms);
                    return;
                }
                if reserved {
                    // From the reply: the store decided before it came.
                    let from = ms(self.now + wait) + 1;
                    h.reserved = Some((granted, from));
                    (h.granted, h.full_at) = (granted, full_at);
                    h.bucket.deny(from, now_ms);
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
                self.store.refund(amount, at);
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
        if !claimed {
            return;
        }
        let h = &mut self.hosts[host];
        if let Some((tokens, from)) = h.reserved.take() {
            // The engine's refill: a reservation, not a call.
            if now_ms < from {
                h.reserved = Some((tokens, from));
                h.bucket.deny(from, now_ms);
                return;
            }
            let until = ms(h.full_at.max(from * 1_000_000 + 2 * LEASE_NS));
            assert_eq!(h.bucket.fund(tokens, until, now_ms), 0);
            let held = h.bucket.snapshot().valid_tokens(now_ms);
            let most = self.sizing.most();
            assert!(
                held < most + self.sizing.low_water(most),
                "a host holds {held}"
            );
            (h.funded_at, h.funded) = (self.now.max(1), held);
            return;
        }
        let valid = h.bucket.snapshot().valid_tokens(now_ms);
        let size = if h.funded_at == 0 {
            1
        } else {
            self.sizing
                .next(h.funded.saturating_sub(valid), self.now - h.funded_at)
        };
        let least = if h.short {
            size.min(LEASE_NS / INTERVAL_NS / HOSTS as u64).max(1)
        } else {
            1
        };
        let sent = self.now;
        self.send(
            delay,
            Message::Ask {
                host,
                size,
                least,
                sent,
            },
        );
    }

    /// A host gives back what it holds, as the engine does: at most its
    /// last grant, and only before that grant's debt drains.
    fn give_back(&mut self, host: usize, delay: u64) {
        let h = &self.hosts[host];
        if !h.alive {
            return;
        }
        let reserved = self.hosts[host]
            .reserved
            .take()
            .map_or(0, |(tokens, _)| tokens);
        let h = &self.hosts[host];
        let drained = h.bucket.drain(ms(self.now)) + reserved;
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
            let reserved = h.reserved.map_or(0, |(tokens, _)| tokens);
            h.stranded = h.bucket.snapshot().valid_tokens(ms(self.now)) + reserved;
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
            .map(|h| {
                let reserved = h.reserved.map_or(0, |(tokens, _)| tokens);
                h.bucket.snapshot().valid_tokens(now_ms) + reserved
            })
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

/// Runs `ops`, checking after every event, then lets every message land,
/// the live hosts give back, and the debt (stranded tokens included)
/// drain: the bucket must be full again.
fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut fleet = Fleet::new();
    for op in ops {
        match op {
            Op::Arrive {
                host,
                gap_us,
                delay_us,
            } => {
                fleet.now += gap_us * 1_000;
                fleet.deliver();
                fleet.arrive(host, delay_us * 1_000 + 1);
            }
            Op::GiveBack { host, delay_us } => fleet.give_back(host, delay_us * 1_000 + 1),
            Op::Die { host } => fleet.die(host),
        }
        fleet.check();
    }
    fleet.now += 10_000 * 1_000;
    fleet.deliver();
    for host in 0..HOSTS {
        fleet.give_back(host, 1);
    }
    fleet.now += 1;
    fleet.deliver();
    fleet.check();
    let drained = fleet.now + (2 * BURST + 1) * INTERVAL_NS;
    prop_assert_eq!(fleet.store.debt(drained), 0);
    Ok(())
}

/// Arrivals only, at up to 10 per ms against 1 per ms: the key is held at
/// its limit, where leases fall short and are reserved.
fn at_the_limit() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (0..HOSTS, 0..100u64, 0..3_000u64)
            .prop_map(|(host, gap_us, delay_us)| Op::Arrive { host, gap_us, delay_us }),
        1 => (0..HOSTS, 0..3_000u64).prop_map(|(host, delay_us)| Op::GiveBack { host, delay_us }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_fleet_on_leases_never_over_admits(ops in prop::collection::vec(op(), 1..600)) {
        run(ops)?;
    }

    #[test]
    fn a_fleet_at_its_limit_reserves_and_never_over_admits(
        ops in prop::collection::vec(at_the_limit(), 1..600)
    ) {
        run(ops)?;
    }
}
