//! Issue 17: what a leased check costs, against an exact one, on a
//! redis-server of the bench's own (no persistence, 127.0.0.1, a free port):
//!
//! * a leased check's latency, p50 and p99, for a key checked flat out,
//!   for one at 50 r/s (a sleep between checks), and for 2000 keys at
//!   50 r/s each (checked in turn, spin-paced), all above 10 r/s, and an
//!   exact check's on the same workloads;
//! * Redis calls per admission against `admitted / c + give-backs`, `c`
//!   being the largest lease;
//! * three stores (three connections, as three processes have) x 2
//!   threads on one key for a few seconds: admitted against
//!   `burst + rate x elapsed`, leased and exact.
//!
//! `cargo bench --features redis --bench lease`

#![allow(missing_docs)]

#[path = "../tests/redis_common/mod.rs"]
mod redis_common;

use floodgate::store::{LeasedLimiter, OnFailure, RedisLimiter, RedisStore};
use floodgate::{Clock, KeyedLimiter, MonotonicClock, Quota};
use redis_common::RedisServer;
use std::hint::black_box;
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(2);
/// Long enough for a paced key to give a p99 of a few hundred checks.
const PACED_RUN: Duration = Duration::from_secs(6);
/// The many-keys workload: this many keys, each checked once a `KEY_GAP`.
const KEYS: usize = 2_000;
const KEY_GAP: Duration = Duration::from_millis(20);

/// A quota the flat-out key does not exhaust in a run.
fn roomy() -> Quota {
    Quota::per_second(10_000_000)
        .unwrap()
        .with_burst(10_000_000)
        .unwrap()
}

fn leased(store: &RedisStore, quota: Quota, prefix: &str, hosts: u64) -> LeasedLimiter {
    LeasedLimiter::builder(store, quota)
        .prefix(prefix)
        .fleet_size(hosts)
        .deadline(Duration::from_secs(1))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap()
}

fn exact(store: &RedisStore, quota: Quota, prefix: &str) -> RedisLimiter {
    RedisLimiter::builder(store, quota)
        .prefix(prefix)
        .deadline(Duration::from_secs(1))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap()
}

/// A leased limiter's Redis calls: leases, give-backs, exact checks.
fn calls(limiter: &LeasedLimiter) -> u64 {
    let counts = limiter.lease_counters();
    counts.leases + counts.give_backs + counts.exact
}

/// p50 and p99 in ns of `check` called every `pace` (flat out when zero)
/// for `run`, each timed by two reads of the engine's own clock (quanta),
/// and the admissions.
fn percentiles(pace: Duration, run: Duration, mut check: impl FnMut() -> bool) -> (u64, u64, u64) {
    let clock = MonotonicClock::new();
    let mut samples = Vec::new();
    let mut admitted = 0;
    let start = Instant::now();
    while start.elapsed() < run {
        let begun = clock.now_ns();
        let admit = black_box(check());
        samples.push(clock.now_ns() - begun);
        admitted += u64::from(admit);
        if !pace.is_zero() {
            std::thread::sleep(pace);
        }
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99), admitted)
}

/// A table row: a workload, the leased and the exact figure, their ratio.
fn row(workload: &str, leased: f64, exact: f64, unit: &str) {
    println!(
        "| {workload} | {leased:.3} {unit} | {exact:.3} {unit} | {:.1}x |",
        exact / leased
    );
}

/// p50 and p99 in ns of checks on `KEYS` keys in turn, one every
/// `KEY_GAP / KEYS` (spin-paced: no sleep between checks), each key so
/// checked at 50 r/s, for `PACED_RUN`; and the admissions. A key's first
/// two checks, which wait for its first two leases (of its cost, then
/// sized by its rate) as every new key does, are not timed.
fn many_keys(mut check: impl FnMut(&str) -> bool) -> (u64, u64, u64) {
    let keys: Vec<String> = (0..KEYS).map(|k| format!("key-{k}")).collect();
    let gap = KEY_GAP / KEYS as u32;
    let clock = MonotonicClock::new();
    let mut samples = Vec::new();
    let mut admitted = 0;
    let start = Instant::now();
    let mut next = Instant::now();
    let mut round = 0;
    'run: while start.elapsed() < PACED_RUN {
        round += 1;
        for key in &keys {
            while Instant::now() < next {
                std::hint::spin_loop();
            }
            // Behind (a check waited on a lease): no catch-up burst, which
            // would run keys above 50 r/s.
            next = (next + gap).max(Instant::now());
            let begun = clock.now_ns();
            let admit = black_box(check(key));
            if round > 2 {
                samples.push(clock.now_ns() - begun);
            }
            admitted += u64::from(admit);
            if start.elapsed() >= PACED_RUN {
                break 'run;
            }
        }
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99), admitted)
}

/// Many keys, each checked at 50 r/s: a server's hot keys, leased and exact.
fn latency_many(store: &RedisStore) {
    let limiter = LeasedLimiter::builder(store, roomy())
        .prefix("bench-lease-many:")
        .fleet_size(1)
        .capacity(4 * KEYS)
        .deadline(Duration::from_secs(1))
        .on_failure(OnFailure::Closed)
        .build()
        .unwrap();
    let (p50, p99, admitted) = many_keys(|key| limiter.check(key, 1).unwrap().is_admitted());
    let counts = limiter.lease_counters();
    let leased_calls = calls(&limiter);
    // The quota is roomy: leases follow each key's rate, far below the
    // largest, so `c` here is the mean grant.
    let c = (counts.granted / counts.leases.max(1)).max(1);
    println!(
        "leased, {KEYS} keys at 50 r/s each: p50 {p50} ns, p99 {p99} ns, {admitted} admitted, \
         {} waited on a lease; Redis calls {leased_calls} (leases {}, give-backs {}, exact {}); \
         admitted / c + give-backs = {} (c = {c}, the mean grant)",
        counts.waited,
        counts.leases,
        counts.give_backs,
        counts.exact,
        admitted / c + counts.give_backs
    );
    // Exact checks take a round trip each: the same keys in turn, as fast
    // as the round trips allow (under 50 r/s a key).
    let peer = exact(store, roomy(), "bench-exact-many:");
    let (e50, e99, e_admitted) = many_keys(|key| peer.check(key, 1).unwrap().is_admitted());
    let exact_calls = peer.counters().exact;
    println!(
        "exact, {KEYS} keys in turn: p50 {e50} ns, p99 {e99} ns, {e_admitted} admitted, \
         Redis calls {exact_calls}"
    );
    let name = format!("{KEYS} keys at 50 r/s each");
    row(
        &format!("check p50, {name} (ns)"),
        p50 as f64,
        e50 as f64,
        "",
    );
    row(
        &format!("check p99, {name} (ns)"),
        p99 as f64,
        e99 as f64,
        "",
    );
    row(
        &format!("Redis calls per admission, {name}"),
        leased_calls as f64 / admitted as f64,
        exact_calls as f64 / e_admitted as f64,
        "",
    );
}

fn latency(store: &RedisStore) {
    let (timer, _, _) = percentiles(Duration::ZERO, RUN, || true);
    println!("the timer alone (two clock reads): p50 {timer} ns");
    for (name, pace, run) in [
        ("flat out", Duration::ZERO, RUN),
        ("50 r/s", Duration::from_millis(20), PACED_RUN),
    ] {
        let limiter = leased(store, roomy(), &format!("bench-lease-{name}:"), 1);
        // Past the key's first two leases (of its cost, then sized by its
        // rate), which every new key waits for, at the workload's pace.
        for _ in 0..2 {
            limiter.check("latency", 1).unwrap();
            std::thread::sleep(pace);
        }
        let before = (calls(&limiter), limiter.lease_counters());
        let (p50, p99, admitted) = percentiles(pace, run, || {
            limiter.check("latency", 1).unwrap().is_admitted()
        });
        let counts = limiter.lease_counters();
        let leased_calls = calls(&limiter) - before.0;
        let give_backs = counts.give_backs - before.1.give_backs;
        let c = limiter.largest_lease();
        println!(
            "leased, one key {name}: p50 {p50} ns, p99 {p99} ns, {admitted} admitted, \
             {} waited on a lease; Redis calls {leased_calls} (leases {}, give-backs {give_backs}, \
             exact {}); admitted / c + give-backs = {} (c = {c})",
            counts.waited - before.1.waited,
            counts.leases - before.1.leases,
            counts.exact - before.1.exact,
            admitted / c + give_backs,
        );
        // The same pace on an in-process table: what a sleeping thread's
        // check costs on this machine with no lease in it.
        let local = KeyedLimiter::<str>::builder(roomy()).build().unwrap();
        local.check("latency", 1).unwrap();
        let (l50, l99, _) = percentiles(pace, run, || {
            local.check("latency", 1).unwrap().is_admitted()
        });
        println!("in-process KeyedLimiter, one key {name}: p50 {l50} ns, p99 {l99} ns");
        let peer = exact(store, roomy(), &format!("bench-exact-{name}:"));
        let (e50, e99, e_admitted) = percentiles(pace, run, || {
            peer.check("latency", 1).unwrap().is_admitted()
        });
        let exact_calls = peer.counters().exact;
        println!(
            "exact, one key {name}: p50 {e50} ns, p99 {e99} ns, {e_admitted} admitted, \
             Redis calls {exact_calls}"
        );
        row(
            &format!("check p50, one key {name} (ns)"),
            p50 as f64,
            e50 as f64,
            "",
        );
        row(
            &format!("check p99, one key {name} (ns)"),
            p99 as f64,
            e99 as f64,
            "",
        );
        row(
            &format!("Redis calls per admission, one key {name}"),
            leased_calls as f64 / admitted as f64,
            exact_calls as f64 / e_admitted as f64,
            "",
        );
    }
}

/// Three stores x 2 threads on one key: admitted against the bound, and
/// Redis calls per admission.
fn fleet(url: &str, server: &RedisServer, lease: bool) -> (f64, f64) {
    let (rate, burst) = (1_000, 200);
    let quota = Quota::per_second(rate).unwrap().with_burst(burst).unwrap();
    let prefix = if lease {
        "fleet-lease:"
    } else {
        "fleet-exact:"
    };
    let time = || {
        let (s, us): (u64, u64) = redis::cmd("TIME").query(&mut server.client()).unwrap();
        s * 1_000_000 + us
    };
    let stores: Vec<_> = (0..3).map(|_| RedisStore::open(url).unwrap()).collect();
    let time = &time;
    // Each host's checks run between its first and last server instant:
    // the bound runs from the earliest first (the key full then) to the
    // latest last, as tests/redis_lease.rs's fleet test counts it.
    let (admitted, calls, fair, first, last) = std::thread::scope(|scope| {
        let hosts: Vec<_> = stores
            .iter()
            .map(|store| {
                scope.spawn(move || {
                    let hammer = |check: &(dyn Fn() -> bool + Sync)| {
                        let first = time();
                        let start = Instant::now();
                        let n = std::thread::scope(|threads| {
                            let workers: Vec<_> = (0..2)
                                .map(|_| {
                                    threads.spawn(|| {
                                        let mut n = 0u64;
                                        while start.elapsed() < RUN {
                                            n += u64::from(check());
                                        }
                                        n
                                    })
                                })
                                .collect();
                            workers.into_iter().map(|w| w.join().unwrap()).sum::<u64>()
                        });
                        (n, first, time())
                    };
                    if lease {
                        let limiter = leased(store, quota, prefix, 3);
                        let (n, first, last) =
                            hammer(&|| limiter.check("one", 1).unwrap().is_admitted());
                        let fair =
                            n / limiter.largest_lease() + limiter.lease_counters().give_backs;
                        (n, calls(&limiter), fair, first, last)
                    } else {
                        let limiter = exact(store, quota, prefix);
                        let (n, first, last) =
                            hammer(&|| limiter.check("one", 1).unwrap().is_admitted());
                        (n, limiter.counters().exact, 0, first, last)
                    }
                })
            })
            .collect();
        hosts.into_iter().map(|h| h.join().unwrap()).fold(
            (0, 0, 0, u64::MAX, 0),
            |(a, c, f, s, e), (n, k, g, s2, e2)| (a + n, c + k, f + g, s.min(s2), e.max(e2)),
        )
    });
    let elapsed = last - first;
    let bound = burst + rate * elapsed / 1_000_000;
    let share = 100.0 * admitted as f64 / bound as f64;
    println!(
        "{} fleet, 3 stores x 2 threads, one key at 1000/s burst 200: admitted {admitted} \
         of bound {bound} ({share:.1}%), Redis calls {calls}{}",
        if lease { "leased" } else { "exact" },
        if lease {
            format!(" (admitted / c + give-backs = {fair})")
        } else {
            String::new()
        }
    );
    (share, calls as f64 / admitted as f64)
}

fn main() {
    let server = RedisServer::start();
    let url = server.url();
    let store = RedisStore::open(&url).unwrap();
    println!("| workload | floodgate leased | peer: exact mode | exact/leased |");
    println!("|---|---|---|---|");
    latency(&store);
    latency_many(&store);
    let (leased_share, leased_calls) = fleet(&url, &server, true);
    let (exact_share, exact_calls) = fleet(&url, &server, false);
    row(
        "3 stores x 2 threads, one key: admitted, % of burst + rate x elapsed",
        leased_share,
        exact_share,
        "%",
    );
    row(
        "3 stores x 2 threads, one key: Redis calls per admission",
        leased_calls,
        exact_calls,
        "",
    );
}
