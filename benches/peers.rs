//! Issue 20: every workload of the table, for both of its quotas, in
//! one process, floodgate next to governor 0.10 and, where their API applies,
//! the other Rust peers:
//!
//! * `ratelimit` 2 (`Ratelimiter::try_wait`): one token bucket, refilled
//!   from its own clock on each call; no supplied time, no keys.
//! * `pingora-limits` 0.9 (`Rate::observe`): a count-min sketch of events per
//!   key in the current fixed interval; a caller limits by comparing the
//!   count with its limit. Keyed rows only; it has no burst and no per-key
//!   state, so its memory does not grow with keys.
//!
//! The two quotas: `idle` is 1e9/s with a burst of 1000 (a bucket is full
//! again at every visit), `debt` is 30/s with a burst of 60 (GenieOS): a
//! hammered bucket is denied, and many-key tables are drained at setup so
//! every key stays in debt between visits (a 1M-key cycle takes well under
//! a second and refills fewer of the 60 used than it charges).
//!
//! The machine is shared and noisy, so this is not criterion: each row's
//! contenders run *interleaved*, in rounds of about 10 ms each, one after
//! the other, [`ROUNDS`] times, and each reports its fastest round (the one
//! least disturbed by other work) and its median, in ns per check. Ratios
//! are of the fastest rounds of one run; a contender's median shows how
//! noisy the run was.
//! Many-key floodgate tables are built for 1.25x their keys. The two-thread
//! rows hold their threads to CPUs 0 and 1 (`rounds::two_threads`).
//!
//! The `floors` rows time what a check cannot do without: a load and CAS of
//! an 8- and a 16-byte word, each library's clock read, one slot's admission
//! done as plainly as a 16-byte slot allows, one dependent load from a
//! working set the size of the strings row's table, and on two threads a CAS
//! of one shared word and a clock read, beside a loop of plain arithmetic
//! that shows how two threads scale on the machine at all.
//!
//! `cargo bench --bench peers` (a row filter may follow `--`)

#![allow(missing_docs)]

#[path = "common/keys.rs"]
mod keys;
#[path = "common/rounds.rs"]
mod rounds;

use rounds::{repeat, Contender, Walk};

use floodgate::{
    Clock, KeyedLimiter, KeyedWindows, LayerKey, Limiter, ManualClock, MonotonicClock, Plans,
    Policy, Quota, Scope, TierId,
};
use governor::clock::{Clock as GovernorClock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{DefaultKeyedRateLimiter, Quota as GovernorQuota, RateLimiter};
use pingora_limits::rate::Rate as PingoraRate;
use siphasher::sip128::SipHasher13;
use std::hash::Hash;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const U64_KEYS: usize = 1_000_000;
const STRING_KEYS: usize = 100_000;
/// Keys the layered rows visit in turn.
const LAYERED_KEYS: usize = 1_000;

/// One of the two quotas, in every library's terms.
#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    per_second: u32,
    burst: u32,
    /// Units charged per key at setup: the whole burst keeps keys in debt.
    setup_charge: u32,
}

const IDLE: Case = Case {
    name: "idle (1e9/s, burst 1000)",
    per_second: 1_000_000_000,
    burst: 1_000,
    setup_charge: 1,
};

const DEBT: Case = Case {
    name: "in debt (30/s, burst 60)",
    per_second: 30,
    burst: 60,
    setup_charge: 60,
};

impl Case {
    fn quota(self) -> Quota {
        Quota::per_second(u64::from(self.per_second))
            .unwrap()
            .with_burst(u64::from(self.burst))
            .unwrap()
    }

    fn governor(self) -> GovernorQuota {
        GovernorQuota::per_second(NonZeroU32::new(self.per_second).unwrap())
            .allow_burst(NonZeroU32::new(self.burst).unwrap())
    }

    fn ratelimit(self) -> ratelimit::Ratelimiter {
        ratelimit::Ratelimiter::builder(u64::from(self.per_second))
            .max_tokens(u64::from(self.burst))
            .initial_available(u64::from(self.burst))
            .build()
            .unwrap()
    }

    /// pingora's estimator counts events per 1 s interval; the caller compares.
    fn pingora_admits<K: Hash + ?Sized>(self, rate: &PingoraRate, key: &K) -> bool {
        rate.observe(&key, 1) <= self.burst as isize
    }
}

/// Runs `contenders` interleaved, each one's ratio against governor's.
fn race(filter: &Option<String>, row: &str, contenders: Vec<Contender<'_>>) {
    rounds::race(filter, row, "governor", contenders);
}

/// The supplied-time row's time. governor's clock reads it (a relaxed load,
/// as its own fake clock does); floodgate takes the time as an argument.
static SUPPLIED_NS: AtomicU64 = AtomicU64::new(1_000_000_000);

#[derive(Clone, Copy, Default)]
struct SuppliedClock;

impl GovernorClock for SuppliedClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        Nanos::from(SUPPLIED_NS.load(Ordering::Relaxed))
    }
}

type GovernorDirect<C> =
    RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as GovernorClock>::Instant>>;

/// `repeat` on two threads sharing the work: wall time.
fn repeat_two_threads(iters: u64, check: impl Fn() -> bool + Sync) -> Duration {
    let half = || {
        repeat(iters / 2, &check);
    };
    rounds::two_threads(half, half)
}

fn direct(filter: &Option<String>, case: Case) {
    let name = |row: &str| format!("{} / {row}", case.name);
    let floodgate = Limiter::builder(case.quota())
        .clock(ManualClock::new())
        .build();
    let governor: GovernorDirect<SuppliedClock> =
        RateLimiter::direct_with_clock(case.governor(), SuppliedClock);
    // Each library reads the time as a caller that already holds it would:
    // floodgate as an argument (a local count, 1 ns more per check),
    // governor through `SuppliedClock`, whose time (the same count) is
    // stored every 64 checks, so it pays no store per check.
    race(
        filter,
        &name("direct check, supplied time"),
        vec![
            (
                "floodgate",
                Box::new(|n| {
                    let mut now = SUPPLIED_NS.load(Ordering::Relaxed);
                    let took = repeat(n, || {
                        now += 1;
                        floodgate.check_at(1, now).is_admitted()
                    });
                    SUPPLIED_NS.store(now, Ordering::Relaxed);
                    took
                }),
            ),
            (
                "governor",
                Box::new(|n| {
                    let mut now = SUPPLIED_NS.load(Ordering::Relaxed);
                    let took = repeat(n, || {
                        now += 1;
                        if now % 64 == 0 {
                            SUPPLIED_NS.store(now, Ordering::Relaxed);
                        }
                        governor.check().is_ok()
                    });
                    SUPPLIED_NS.store(now, Ordering::Relaxed);
                    took
                }),
            ),
        ],
    );

    let floodgate = Limiter::builder(case.quota()).build();
    let governor: GovernorDirect<DefaultClock> = RateLimiter::direct(case.governor());
    let ratelimit = case.ratelimit();
    race(
        filter,
        &name("direct check, default clock"),
        vec![
            (
                "floodgate",
                Box::new(|n| repeat(n, || floodgate.check(black_box(1)).is_admitted())),
            ),
            (
                "governor",
                Box::new(|n| repeat(n, || governor.check().is_ok())),
            ),
            (
                "ratelimit",
                Box::new(|n| repeat(n, || ratelimit.try_wait().is_ok())),
            ),
        ],
    );
    race(
        filter,
        &name("same limiter, 2 threads"),
        vec![
            (
                "floodgate",
                Box::new(|n| repeat_two_threads(n, || floodgate.check(black_box(1)).is_admitted())),
            ),
            (
                "governor",
                Box::new(|n| repeat_two_threads(n, || governor.check().is_ok())),
            ),
            (
                "ratelimit",
                Box::new(|n| repeat_two_threads(n, || ratelimit.try_wait().is_ok())),
            ),
        ],
    );
}

fn floodgate_keyed<K: floodgate::Key + ?Sized>(case: Case, keys: usize) -> KeyedLimiter<K> {
    KeyedLimiter::<K>::builder(case.quota())
        .capacity(keys + keys / 4)
        .build()
        .unwrap()
}

fn governor_keyed<K: Hash + Eq + Clone>(case: Case) -> DefaultKeyedRateLimiter<K> {
    RateLimiter::keyed(case.governor())
}

/// Two threads, each walking its own half of `keys`: wall time.
fn walk_two_threads<K: Sync>(
    halves: &mut [Walk<'_, K>; 2],
    iters: u64,
    check: impl Fn(&K) -> bool + Sync,
) -> Duration {
    let [first, second] = halves.each_mut();
    let check = &check;
    rounds::two_threads(
        move || {
            first.run(iters / 2, check);
        },
        move || {
            second.run(iters / 2, check);
        },
    )
}

fn keyed(filter: &Option<String>, case: Case) {
    let name = |row: &str| format!("{} / {row}", case.name);
    let wanted = |row: &str| {
        filter
            .as_ref()
            .is_none_or(|f| name(row).contains(f.as_str()))
    };

    if wanted("keyed u64, 1 key") {
        let floodgate = floodgate_keyed::<u64>(case, 1_024);
        let governor = governor_keyed::<u64>(case);
        let pingora = PingoraRate::new(Duration::from_secs(1));
        race(
            filter,
            &name("keyed u64, 1 key"),
            vec![
                (
                    "floodgate",
                    Box::new(|n| repeat(n, || floodgate.check(black_box(&42), 1).is_admitted())),
                ),
                (
                    "governor",
                    Box::new(|n| repeat(n, || governor.check_key(black_box(&42)).is_ok())),
                ),
                (
                    "pingora-limits",
                    Box::new(|n| repeat(n, || case.pingora_admits(&pingora, black_box(&42u64)))),
                ),
            ],
        );
    }

    let setup = NonZeroU32::new(case.setup_charge).unwrap();
    if wanted("keyed u64, 1M random keys") {
        let keys = keys::random_words(U64_KEYS, 1);
        let floodgate = floodgate_keyed::<u64>(case, U64_KEYS);
        keys.iter().for_each(|key| {
            floodgate.check(key, setup.get().into());
        });
        let governor = governor_keyed::<u64>(case);
        keys.iter().for_each(|key| {
            let _ = governor.check_key_n(key, setup);
        });
        let pingora = PingoraRate::new(Duration::from_secs(1));
        let (mut one, mut batched, mut theirs, mut sketch) = (
            Walk::new(&keys),
            Walk::new(&keys),
            Walk::new(&keys),
            Walk::new(&keys),
        );
        race(
            filter,
            &name("keyed u64, 1M random keys"),
            vec![
                (
                    "floodgate",
                    Box::new(|n| one.run(n, |key| floodgate.check(key, 1).is_admitted())),
                ),
                (
                    "floodgate check_batch",
                    Box::new(|n| {
                        batched.run_batched(n, |keys| {
                            floodgate.check_batch(keys, 1, |_, decision| {
                                black_box(decision.is_admitted());
                            })
                        })
                    }),
                ),
                (
                    "governor",
                    Box::new(|n| theirs.run(n, |key| governor.check_key(key).is_ok())),
                ),
                (
                    "pingora-limits",
                    Box::new(|n| sketch.run(n, |key| case.pingora_admits(&pingora, key))),
                ),
            ],
        );
        let (first, second) = keys.split_at(U64_KEYS / 2);
        let mut ours = [Walk::new(first), Walk::new(second)];
        let mut theirs = [Walk::new(first), Walk::new(second)];
        let mut ours_alone = Walk::new(&keys);
        race(
            filter,
            &name("keyed u64, 1M keys, 2 threads (wall time per check)"),
            vec![
                (
                    "floodgate",
                    Box::new(|n| {
                        walk_two_threads(&mut ours, n, |key| floodgate.check(key, 1).is_admitted())
                    }),
                ),
                (
                    "governor",
                    Box::new(|n| {
                        walk_two_threads(&mut theirs, n, |key| governor.check_key(key).is_ok())
                    }),
                ),
                (
                    "floodgate 1 thread",
                    Box::new(|n| ours_alone.run(n, |key| floodgate.check(key, 1).is_admitted())),
                ),
            ],
        );
    }

    if wanted("keyed strings, 100k keys") {
        let keys = keys::api_keys(STRING_KEYS);
        let floodgate = floodgate_keyed::<str>(case, STRING_KEYS);
        keys.iter().for_each(|key| {
            floodgate.check(key, setup.get().into()).unwrap();
        });
        let governor = governor_keyed::<String>(case);
        keys.iter().for_each(|key| {
            let _ = governor.check_key_n(key, setup);
        });
        let pingora = PingoraRate::new(Duration::from_secs(1));
        // What a string key costs before its lookup: the fingerprint a
        // check computes (SipHash-1-3, 128-bit output, under a secret key).
        let fingerprint = SipHasher13::new_with_keys(black_box(1), black_box(2));
        let (mut ours, mut batched, mut theirs, mut sketch, mut hashed) = (
            Walk::new(&keys),
            Walk::new(&keys),
            Walk::new(&keys),
            Walk::new(&keys),
            Walk::new(&keys),
        );
        race(
            filter,
            &name("keyed strings, 100k keys"),
            vec![
                (
                    "floodgate",
                    Box::new(|n| {
                        ours.run(n, |key| {
                            floodgate.check(key, 1).is_ok_and(|d| d.is_admitted())
                        })
                    }),
                ),
                (
                    "floodgate check_batch",
                    Box::new(|n| {
                        batched.run_batched(n, |keys| {
                            floodgate.check_batch(keys, 1, |_, answer| {
                                black_box(answer.is_ok_and(|d| d.is_admitted()));
                            })
                        })
                    }),
                ),
                (
                    "governor",
                    Box::new(|n| theirs.run(n, |key| governor.check_key(key).is_ok())),
                ),
                (
                    "pingora-limits",
                    Box::new(|n| sketch.run(n, |key| case.pingora_admits(&pingora, key.as_str()))),
                ),
                (
                    "floodgate's SipHash-1-3-128 alone",
                    Box::new(|n| hashed.run(n, |key| fingerprint.hash(key.as_bytes()).h1 & 1 == 0)),
                ),
            ],
        );
    }
}

/// Two layers (key bucket + workspace window) next to one keyed check of
/// the same string keys, same quota, same supplied time: as a [`Policy`] of
/// a keyed limiter and keyed windows, and as GenieOS [`Plans`], twice: as
/// built, and once every other keyed tier holds a key (their key tables are
/// then probed for usage whenever the key's bucket is full, so idle keys pay
/// more there).
fn layered(filter: &Option<String>, case: Case) {
    let quota = case.quota();
    let keyed = KeyedLimiter::<str>::builder(quota)
        .capacity(4 * LAYERED_KEYS)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let plans = bench_plans(quota);
    let tier = plans.tier("bench").unwrap();
    // The same tiers once every other keyed tier holds a key: an idle key's
    // check then probes their tables for usage to carry.
    let reached = bench_plans(quota);
    for other in ["hobby", "pro", "scale"] {
        let other = reached.tier(other).unwrap();
        reached.check_at(other, "elsewhere", &0, 1, 0).unwrap();
    }
    let reached_tier = reached.tier("bench").unwrap();
    let layered = Policy::builder()
        .layer(
            Scope::Key,
            KeyedLimiter::<str>::builder(quota)
                .capacity(4 * LAYERED_KEYS)
                .clock(ManualClock::new())
                .build()
                .unwrap(),
        )
        .layer(
            Scope::Workspace,
            KeyedWindows::<u64>::builder(floodgate::MAX_WINDOW_LIMIT, Duration::from_secs(60))
                .capacity(64)
                .clock(ManualClock::new())
                .build()
                .unwrap(),
        )
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let windows =
        KeyedWindows::<u64>::builder(floodgate::MAX_WINDOW_LIMIT, Duration::from_secs(60))
            .capacity(64)
            .clock(ManualClock::new())
            .build()
            .unwrap();
    let names: Vec<String> = (0..LAYERED_KEYS)
        .map(|i| format!("gos_live_{i:08}"))
        .collect();
    let (mut one, mut policy, mut alone) = (0u64, 0u64, 0u64);
    race(
        filter,
        &format!("{} / two layers against one keyed check", case.name),
        vec![
            (
                "one keyed check",
                Box::new(|n| {
                    repeat(n, || {
                        one += 1;
                        let key = &names[one as usize % LAYERED_KEYS];
                        keyed.check_at(key, 1, one * 1_000).unwrap().is_admitted()
                    })
                }),
            ),
            (
                "workspace window alone",
                Box::new(|n| {
                    repeat(n, || {
                        alone += 1;
                        windows
                            .check_at(&(alone % 16), 1, alone * 1_000)
                            .is_admitted()
                    })
                }),
            ),
            (
                "two layers (Policy)",
                Box::new(|n| {
                    repeat(n, || {
                        policy += 1;
                        let key = &names[policy as usize % LAYERED_KEYS];
                        let keys = [LayerKey::Str(key), LayerKey::Id(policy % 16)];
                        layered
                            .check_at(&keys, 1, policy * 1_000)
                            .unwrap()
                            .is_admitted()
                    })
                }),
            ),
            (
                "two layers (Plans, GenieOS tiers)",
                plan_tier_checks(&plans, tier, &names),
            ),
            (
                "two layers (Plans, every tier reached)",
                plan_tier_checks(&reached, reached_tier, &names),
            ),
        ],
    );
}

/// GenieOS's tiers plus a "bench" tier of `quota` per key and no workspace
/// limit to speak of, with room for the layered rows' keys.
fn bench_plans(quota: Quota) -> Plans<str, u64, ManualClock> {
    floodgate::presets::genieos::plans()
        .unwrap()
        .tier(
            "bench",
            floodgate::TierLimits {
                per_key: Some(quota),
                per_workspace: Some(floodgate::MAX_WINDOW_LIMIT),
            },
        )
        .key_capacity(4 * LAYERED_KEYS)
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

/// A contender checking `names` in turn on `tier` of `plans`, each with one
/// of 16 workspaces, a microsecond apart.
fn plan_tier_checks<'a>(
    plans: &'a Plans<str, u64, ManualClock>,
    tier: TierId,
    names: &'a [String],
) -> Box<dyn FnMut(u64) -> Duration + 'a> {
    let mut visit = 0u64;
    Box::new(move |n| {
        repeat(n, || {
            visit += 1;
            let key = &names[visit as usize % LAYERED_KEYS];
            plans
                .check_at(tier, key, &(visit % 16), 1, visit * 1_000)
                .unwrap()
                .is_admitted()
        })
    })
}

/// What any limiter of this design pays at least, same process: an admitted
/// check loads its word and swaps it (one CAS); a denied one loads its word
/// and reads a sequence-counted quota slot (the word, the counter, six quota
/// words, the counter again), and decides.
fn floors(filter: &Option<String>) {
    let word = AtomicU64::new(0);
    let slot: [AtomicU64; 8] = std::array::from_fn(|_| AtomicU64::new(2));
    let pair = portable_atomic::AtomicU128::new(0);
    let load_and_cas = || {
        let current = word.load(Ordering::Acquire);
        word.compare_exchange_weak(current, current + 1, Ordering::Relaxed, Ordering::Acquire)
            .is_ok()
    };
    let clock = MonotonicClock::new();
    let read_clock = || clock.now_ns() & 1 == 0;
    let governor_clock = DefaultClock::default();
    let governor_origin = governor_clock.now();
    race(
        filter,
        "floors",
        vec![
            ("load + CAS", Box::new(|n| repeat(n, load_and_cas))),
            (
                "load + seqlock read",
                Box::new(|n| {
                    repeat(n, || {
                        let current = word.load(Ordering::Acquire);
                        let seq = slot[(current >> 62) as usize].load(Ordering::Acquire);
                        let sum: u64 = slot[1..7].iter().map(|w| w.load(Ordering::Relaxed)).sum();
                        std::sync::atomic::fence(Ordering::Acquire);
                        seq == slot[0].load(Ordering::Relaxed) && sum > current
                    })
                }),
            ),
            (
                // What a keyed slot's admission costs: its 16-byte word pair
                // is loaded and swapped whole.
                "16-byte load + CAS",
                Box::new(|n| {
                    repeat(n, || {
                        let current = pair.load(Ordering::Acquire);
                        pair.compare_exchange_weak(
                            current,
                            current + 1,
                            Ordering::Relaxed,
                            Ordering::Acquire,
                        )
                        .is_ok()
                    })
                }),
            ),
            (
                "floodgate's clock read",
                Box::new(|n| repeat(n, read_clock)),
            ),
            (
                "governor's clock read",
                Box::new(|n| {
                    repeat(n, || {
                        governor_clock
                            .now()
                            .duration_since(governor_origin)
                            .as_u64()
                            & 1
                            == 0
                    })
                }),
            ),
        ],
    );
    // The idle one-key row's floor: one slot's admission done as plainly as
    // a 16-byte slot allows (the clock read, the key folded onto one of
    // 1,024 slots, the slot's (key, time) pair loaded and its key compared,
    // the GCRA step at 1 ns a unit with a burst of 1,000, the pair swapped).
    let slots: Vec<portable_atomic::AtomicU128> = (0..1_024)
        .map(|_| portable_atomic::AtomicU128::new(0))
        .collect();
    let slot_of = |key: u64| {
        let folded = u128::from(key ^ 0x243f_6a88_85a3_08d3) * 0x9e37_79b9_7f4a_7c15;
        &slots[((folded >> 64) as u64 ^ folded as u64) as usize & 1_023]
    };
    const ONE_KEY: u64 = 42;
    slot_of(ONE_KEY).store(u128::from(ONE_KEY) << 64, Ordering::Relaxed);
    race(
        filter,
        "floors: 1 key",
        vec![(
            "one slot's admission: clock, key fold, 16-byte load, GCRA step, 16-byte CAS",
            Box::new(|n| {
                repeat(n, || {
                    let now = clock.now_ns();
                    let key = black_box(ONE_KEY);
                    let slot = slot_of(key);
                    let current = slot.load(Ordering::Acquire);
                    if (current >> 64) as u64 != key {
                        return false;
                    }
                    let arrival = (current as u64).max(now) + 1;
                    arrival - now <= 1_000
                        && slot
                            .compare_exchange_weak(
                                current,
                                u128::from(key) << 64 | u128::from(arrival),
                                Ordering::Relaxed,
                                Ordering::Acquire,
                            )
                            .is_ok()
                })
            }),
        )],
    );
    // A check on the strings row's table waits for at least one of its
    // lines (the slot its hints name arrives with them when prefetched):
    // one dependent load from a working set that size. (The 1M-key table
    // sits in 2 MB pages, which a plain allocation does not get here, so
    // a chase over one that size would time page walks the check does not do.)
    let strings = Chase::new(STRING_TABLE_BYTES);
    let mut at = 0;
    race(
        filter,
        "floors: memory",
        vec![(
            "dependent load, 3 MB working set (100k string keys' table)",
            Box::new(|n| {
                repeat(n, || {
                    at = strings.next(at);
                    at & 1 == 0
                })
            }),
        )],
    );
    // What this machine's two cores give two threads at all: a loop that
    // waits on nothing but its own arithmetic, once on one thread and once
    // on each; and the two-thread rows' own floors, a load + CAS of one
    // shared word and a clock read.
    race(
        filter,
        "floors: two threads",
        vec![
            (
                "arithmetic loop, 1 thread",
                Box::new(|n| {
                    let began = Instant::now();
                    arithmetic(n);
                    began.elapsed()
                }),
            ),
            (
                "arithmetic loop, 2 threads (wall time per step)",
                Box::new(|n| rounds::two_threads(|| arithmetic(n / 2), || arithmetic(n / 2))),
            ),
            (
                "load + CAS of one shared word, 2 threads (wall time per CAS)",
                Box::new(|n| {
                    let half = || {
                        repeat(n / 2, load_and_cas);
                    };
                    rounds::two_threads(half, half)
                }),
            ),
            (
                "floodgate's clock read, 2 threads (wall time per read)",
                Box::new(|n| {
                    let half = || {
                        repeat(n / 2, read_clock);
                    };
                    rounds::two_threads(half, half)
                }),
            ),
        ],
    );
}

/// `steps` steps of a xorshift chain: work that waits on nothing but itself
/// (and that the compiler cannot fold into a closed form).
fn arithmetic(steps: u64) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..steps {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
    }
    black_box(state);
}

/// The strings row's table: 100k keys at 1.25 slots per key, 25 bytes a slot.
const STRING_TABLE_BYTES: usize = STRING_KEYS * 5 / 4 * 25;

/// A random cycle through the lines of a buffer: each load's address is the
/// previous load's value, so loads cannot overlap.
struct Chase {
    next: Vec<usize>,
}

impl Chase {
    const LINE_WORDS: usize = 64 / size_of::<usize>();

    fn new(bytes: usize) -> Self {
        let lines = bytes / 64;
        let order: Vec<u64> = keys::random_words(lines, 1);
        let mut visit: Vec<usize> = (0..lines).collect();
        visit.sort_by_key(|&line| order[line]);
        let mut next = vec![0; lines * Self::LINE_WORDS];
        for (i, &line) in visit.iter().enumerate() {
            next[line * Self::LINE_WORDS] = visit[(i + 1) % lines] * Self::LINE_WORDS;
        }
        Self { next }
    }

    /// The load after the one at `at`.
    fn next(&self, at: usize) -> usize {
        self.next[at]
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters rows.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with("--"));
    floors(&filter);
    for case in [IDLE, DEBT] {
        direct(&filter, case);
        keyed(&filter, case);
        layered(&filter, case);
    }
}
