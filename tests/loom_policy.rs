//! Loom model checks of layered checks: two requests racing through two
//! layers never leave a refused request's charge behind, and never admit
//! more than either layer allows.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=2 \
//!       cargo test --release --test loom_policy`
#![cfg(loom)]

use floodgate::{LayerKey, Limiter, ManualClock, Policy, Quota, Scope};
use loom::sync::Arc;
use loom::thread;

const NOW: u64 = 1_000_000_000;
const KEYS: [LayerKey<'static>; 2] = [LayerKey::Unkeyed, LayerKey::Unkeyed];

fn limiter(burst: u64) -> std::sync::Arc<Limiter<ManualClock>> {
    let quota = Quota::per_second(1).unwrap().with_burst(burst).unwrap();
    std::sync::Arc::new(
        Limiter::builder(quota)
            .clock(ManualClock::starting_at(NOW))
            .build(),
    )
}

/// Policies move striped counters (kilobytes) by value and pass decisions
/// through every layer: more than loom's default coroutine stack. Each
/// model body runs on a thread with 4 MiB.
fn on_big_stack(body: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .stack_size(4 << 20)
        .spawn(body)
        .unwrap()
        .join()
        .unwrap();
}

fn check_on_thread(policy: &Arc<Policy<ManualClock>>) -> thread::JoinHandle<bool> {
    let policy = policy.clone();
    thread::Builder::new()
        .stack_size(4 << 20)
        .spawn(move || policy.check_at(&KEYS, 1, NOW).unwrap().is_admitted())
        .unwrap()
}

#[test]
fn racing_layered_checks_leave_no_stray_charge() {
    loom::model(|| {
        on_big_stack(|| {
            // The first layer has room for both requests, the second for one:
            // whichever loses must hand its first-layer unit back.
            let (wide, narrow) = (limiter(2), limiter(1));
            let policy = Arc::new(
                Policy::builder()
                    .layer(Scope::Ip, wide.clone())
                    .layer(Scope::Token, narrow.clone())
                    .clock(ManualClock::starting_at(NOW))
                    .build()
                    .unwrap(),
            );
            let (first, second) = (check_on_thread(&policy), check_on_thread(&policy));
            let (mine, theirs) = (first.join().unwrap(), second.join().unwrap());
            assert!(
                mine ^ theirs,
                "exactly one of two requests fits the narrow layer"
            );
            assert_eq!(wide.peek_at(NOW).remaining(), 1);
            assert_eq!(narrow.peek_at(NOW).remaining(), 0);
            let counters = policy.counters();
            assert_eq!((counters.admitted, counters.denied), (1, 1));
        });
    });
}
