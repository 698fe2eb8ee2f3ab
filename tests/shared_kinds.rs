//! Shared mode (issue 15) for the kinds beyond the limiters: sliding
//! windows, keyed windows, suspensions, plans, and policies made of them.
//! Each kind: two builds with one `SharedMemory` share state; a build that
//! differs is refused naming the field; keyed windows also across processes.
//!
//! Every segment name holds this process's id, and every test removes its
//! segments, so parallel runs and reruns never meet each other's.

#[path = "common/child.rs"]
mod child;

use floodgate::{
    presets::genieos, Error, FullTable, KeyedWindows, LayerKey, Plans, Policy, Quota, Scope,
    SharedMemory, SlidingWindow, Suspensions, TierLimits,
};
use std::time::Duration;

/// A segment for the test `name`, in this process only; removed first in
/// case a crashed earlier run with a reused pid left it.
fn segment(name: &str) -> SharedMemory {
    let shared = SharedMemory::named(&format!("test-kinds-{name}-{}", std::process::id())).unwrap();
    shared.remove().unwrap();
    shared
}

/// The header field a refused build names.
fn mismatch<T>(built: floodgate::Result<T>) -> &'static str {
    match built {
        Err(Error::SegmentMismatch(mismatch)) => mismatch.field(),
        Err(other) => panic!("expected a segment mismatch, got {other:?}"),
        Ok(_) => panic!("expected a segment mismatch, the build succeeded"),
    }
}

const SECOND: u64 = 1_000_000_000;

#[test]
fn two_builds_share_one_sliding_window() {
    let shared = segment("window");
    let build = |limit| {
        SlidingWindow::builder(limit, Duration::from_secs(60))
            .shared(shared.clone())
            .build()
    };
    let (one, two) = (build(10).unwrap(), build(10).unwrap());
    assert!(one.is_shared() && two.clock().is_system_wide());
    let private = SlidingWindow::builder(10, Duration::from_secs(60))
        .build()
        .unwrap();
    assert!(!private.is_shared() && !private.clock().is_system_wide());
    assert!(one.check_at(10, 5 * SECOND).is_admitted());
    assert!(!two.check_at(1, 5 * SECOND).is_admitted());
    // A reconfiguration by one is the other's limit.
    one.reconfigure(15).unwrap();
    assert_eq!(two.limit(), 15);
    assert_eq!(two.peek_at(5 * SECOND).remaining(), 5);

    assert_eq!(mismatch(build(20)), "window limit");
    let longer = SlidingWindow::builder(10, Duration::from_secs(61))
        .shared(shared.clone())
        .build();
    assert_eq!(mismatch(longer), "window (ns)");
    let other_kind = Suspensions::<u64>::builder().shared(shared.clone()).build();
    assert_eq!(mismatch(other_kind), "kind");
    shared.remove().unwrap();
}

#[test]
fn two_builds_share_keyed_windows_and_their_limits() {
    let shared = segment("keyed-windows");
    let build = |capacity, on_full| {
        KeyedWindows::<str>::builder(10, Duration::from_secs(60))
            .capacity(capacity)
            .on_full(on_full)
            .shared(shared.clone())
            .build()
    };
    let one = build(100, FullTable::Deny).unwrap();
    let two = build(100, FullTable::Deny).unwrap();
    assert!(one.is_shared() && two.clock().is_system_wide());
    assert!(one.check_at("ws_1", 10, 5 * SECOND).unwrap().is_admitted());
    assert!(!two.check_at("ws_1", 1, 5 * SECOND).unwrap().is_admitted());
    assert!(two.check_at("ws_2", 1, 5 * SECOND).unwrap().is_admitted());
    assert_eq!((one.len(), two.len()), (2, 2));
    // A per-key limit set by one holds in the other.
    two.set_limit("ws_1", 30).unwrap();
    assert_eq!(one.peek_at("ws_1", 5 * SECOND).unwrap().remaining(), 20);
    one.reset_at("ws_1", 5 * SECOND).unwrap();
    assert_eq!(two.peek_at("ws_1", 5 * SECOND).unwrap().remaining(), 30);

    assert_eq!(mismatch(build(101, FullTable::Deny)), "capacity");
    assert_eq!(mismatch(build(100, FullTable::Admit)), "options");
    let exact_keys = KeyedWindows::<u64>::builder(10, Duration::from_secs(60))
        .capacity(100)
        .shared(shared.clone())
        .build();
    assert_eq!(mismatch(exact_keys), "kind");
    shared.remove().unwrap();
}

#[test]
fn a_full_shared_table_overflows_into_one_shared_window() {
    let shared = segment("overflow");
    let build = || {
        KeyedWindows::<u64>::builder(5, Duration::from_secs(60))
            .capacity(1)
            .on_full(FullTable::Overflow)
            .shared(shared.clone())
            .build()
            .unwrap()
    };
    let (one, two) = (build(), build());
    assert!(one.check_at(&1, 1, 0).is_admitted());
    // Keys 2 and 3 find no slot: both charge the one overflow window.
    assert!(one.check_at(&2, 3, 0).is_admitted());
    assert!(!two.check_at(&3, 3, 0).is_admitted());
    assert_eq!(two.full_table_events(), 2);
    shared.remove().unwrap();
}

#[test]
fn two_builds_share_suspensions() {
    let shared = segment("suspensions");
    let build = |capacity| {
        Suspensions::<str>::builder()
            .capacity(capacity)
            .shared(shared.clone())
            .build()
    };
    let (one, two) = (build(50).unwrap(), build(50).unwrap());
    assert!(one.is_shared() && two.clock().is_system_wide());
    one.suspend_until("cust_42", Some(60 * SECOND)).unwrap();
    assert!(two.check_at("cust_42", 59 * SECOND).unwrap().is_some());
    assert!(two.check_at("cust_42", 60 * SECOND).unwrap().is_none());
    two.lift("cust_42").unwrap();
    assert!(one.check_at("cust_42", 0).unwrap().is_none());
    assert_eq!(mismatch(build(51)), "capacity");
    shared.remove().unwrap();
}

#[test]
fn a_policy_over_shared_layers_reads_the_machine_clock() {
    let (window, suspended) = (segment("policy-window"), segment("policy-suspensions"));
    let build = || {
        Policy::builder()
            .layer(
                Scope::Key,
                Suspensions::<str>::builder()
                    .capacity(10)
                    .shared(suspended.clone())
                    .build()
                    .unwrap(),
            )
            .layer(
                Scope::Named("all"),
                SlidingWindow::builder(3, Duration::from_secs(60))
                    .shared(window.clone())
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let (one, two) = (build(), build());
    assert!(one.clock().is_system_wide());
    let keys = [LayerKey::Str("cust_1"), LayerKey::Unkeyed];
    assert!(one.check_at(&keys, 3, 0).unwrap().is_admitted());
    assert!(!two.check_at(&keys, 1, 0).unwrap().is_admitted());
    window.remove().unwrap();
    suspended.remove().unwrap();
}

fn plans(shared: &SharedMemory) -> floodgate::Result<Plans<str, u64>> {
    genieos::plans()?
        .key_capacity(1_000)
        .workspace_capacity(100)
        .shared(shared.clone())
        .build()
}

#[test]
fn two_builds_share_plans_their_changes_and_plan_moves() {
    let shared = segment("plans");
    let (one, two) = (plans(&shared).unwrap(), plans(&shared).unwrap());
    assert!(one.is_shared() && two.clock().is_system_wide());
    let (hobby, pro) = (one.tier("hobby").unwrap(), one.tier("pro").unwrap());
    // One bucket per key across processes.
    assert!(one.check_at(hobby, "k", &1, 60, 0).unwrap().is_admitted());
    assert!(!two.check_at(hobby, "k", &1, 1, 0).unwrap().is_admitted());
    // A tier changed by one process is the other's tier (usage kept).
    one.reconfigure_tier_at(
        hobby,
        TierLimits {
            per_key: Some(Quota::per_second(30).unwrap().with_burst(90).unwrap()),
            per_workspace: Some(600),
        },
        0,
    )
    .unwrap();
    let after = two.check_at(hobby, "k", &1, 1, 0).unwrap();
    assert_eq!(after.decision().remaining(), 29);
    // The key moves to pro in the other process: its usage comes along
    // (61 of hobby's units, capped at pro's burst), found in hobby's table
    // only because the first process's checks marked hobby reached.
    let moved = two.check_at(pro, "k", &1, 1, 0).unwrap();
    let fresh = two.check_at(pro, "other", &2, 1, 0).unwrap();
    assert!(moved.decision().remaining() < fresh.decision().remaining());
    shared.remove().unwrap();
}

#[test]
fn plans_that_differ_are_refused() {
    let shared = segment("plans-differ");
    let _first = plans(&shared).unwrap();
    let other_tier: floodgate::Result<Plans<str, u64>> = genieos::plans()
        .unwrap()
        .tier(
            "hobby",
            TierLimits {
                per_key: Some(Quota::per_second(31).unwrap()),
                per_workspace: Some(600),
            },
        )
        .key_capacity(1_000)
        .workspace_capacity(100)
        .shared(shared.clone())
        .build();
    assert_eq!(mismatch(other_tier), "options");
    let more_keys: floodgate::Result<Plans<str, u64>> = genieos::plans()
        .unwrap()
        .key_capacity(1_001)
        .workspace_capacity(100)
        .shared(shared.clone())
        .build();
    assert_eq!(mismatch(more_keys), "options");
    let more_workspaces: floodgate::Result<Plans<str, u64>> = genieos::plans()
        .unwrap()
        .key_capacity(1_000)
        .workspace_capacity(101)
        .shared(shared.clone())
        .build();
    assert_eq!(mismatch(more_workspaces), "capacity");
    let other_keys: floodgate::Result<Plans<u64, u64>> = genieos::plans()
        .unwrap()
        .key_capacity(1_000)
        .workspace_capacity(100)
        .shared(shared.clone())
        .build();
    assert_eq!(mismatch(other_keys), "options");
    shared.remove().unwrap();
}

/// What a child process of the test below does, named by this variable.
const CHILD: &str = "FLOODGATE_SHARED_KINDS_CHILD";
const CHILD_TEST: &str = "processes_hammering_one_key_share_its_window";
const PROCESSES: usize = 3;
const THREADS: usize = 2;
const ATTEMPTS: u64 = 400;
const LIMIT: u64 = 500;

/// The keyed windows every process of the test below builds.
fn hammered(path: &str) -> KeyedWindows<str> {
    KeyedWindows::<str>::builder(LIMIT, Duration::from_secs(3_600))
        .capacity(64)
        .shared(SharedMemory::at(path))
        .build()
        .unwrap()
}

#[test]
fn processes_hammering_one_key_share_its_window() {
    if let Ok(path) = std::env::var(CHILD) {
        // A child: hammer "ws" from two threads at one timestamp (one
        // window, so the bound is exact), print what was admitted.
        let windows = hammered(&path);
        let admitted: u64 = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        (0..ATTEMPTS)
                            .filter(|_| {
                                windows.check_at("ws", 1, 7 * SECOND).unwrap().is_admitted()
                            })
                            .count() as u64
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        println!("admitted={admitted}");
        return;
    }
    let shared = segment("processes");
    let path = shared.path().to_str().unwrap().to_owned();
    // The parent creates the segment; the children open it.
    let windows = hammered(&path);
    // All spawned before any is waited for, so they run at once.
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| child::spawn_test(CHILD_TEST, &[(CHILD, &path)]))
        .collect();
    let mut total = 0;
    for child in children {
        let child = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "child failed: {stdout}");
        total += stdout
            .lines()
            // The harness may print its own words before ours on the line.
            .find_map(|line| line.split_once("admitted=").map(|(_, count)| count))
            .and_then(|count| count.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no count in {stdout}"));
    }
    // 3 x 2 x 400 attempts of one unit for a limit of 500: exactly the
    // limit is admitted, however the processes interleave.
    assert_eq!(total, LIMIT);
    assert_eq!(windows.peek_at("ws", 7 * SECOND).unwrap().remaining(), 0);
    assert_eq!(windows.len(), 1);
    shared.remove().unwrap();
}

/// What a child process of the SIGKILL test does, named by this variable.
const KILLED: &str = "FLOODGATE_SHARED_KINDS_KILLED";
const KILLED_TEST: &str = "processes_killed_mid_insert_leave_no_slot_stuck";
const KILL_ROUNDS: u64 = 20;
const KEYS_PER_CHILD: u64 = 100;
const KILL_CAPACITY: usize = 16_384;

/// The keyed windows every process of the SIGKILL test builds.
fn killed_table(path: &str) -> KeyedWindows<str> {
    KeyedWindows::<str>::builder(1_000, Duration::from_secs(3_600))
        .capacity(KILL_CAPACITY)
        .shared(SharedMemory::at(path))
        .build()
        .unwrap()
}

#[test]
fn processes_killed_mid_insert_leave_no_slot_stuck() {
    if let Ok(child) = std::env::var(KILLED) {
        // A child: insert its own keys, then charge one common key, until
        // killed (or, should the parent be gone, for at most 30 s).
        let (path, round) = child.split_once('@').unwrap();
        let windows = killed_table(path);
        println!("ready");
        let started = std::time::Instant::now();
        for n in 0..KEYS_PER_CHILD {
            windows
                .check_at(&format!("k{round}-{n}"), 1, SECOND)
                .unwrap();
        }
        while started.elapsed() < Duration::from_secs(30) {
            windows.check_at("common", 1, SECOND).unwrap();
        }
        return;
    }
    let shared = segment("killed");
    let path = shared.path().to_str().unwrap().to_owned();
    drop(killed_table(&path));
    for round in 0..KILL_ROUNDS {
        let mut child = child::spawn_test(KILLED_TEST, &[(KILLED, format!("{path}@{round}"))]);
        // Killed once it has mapped the segment, a little later each round,
        // so the kills land anywhere in its inserts and charges. Its output
        // stays open until then (a closed pipe would end it first).
        let mut output = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("ready") {
            line.clear();
            let read = std::io::BufRead::read_line(&mut output, &mut line).unwrap();
            assert!(read > 0, "the child ended before it was ready");
        }
        std::thread::sleep(Duration::from_micros(100 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    // The segment still opens and validates, and every key the children
    // inserted holds at most its own one unit: no two keys share a slot.
    let windows = killed_table(&path);
    let inserted = windows.len() as u64;
    assert!(inserted <= KILL_ROUNDS * KEYS_PER_CHILD + 1, "{inserted}");
    for round in 0..KILL_ROUNDS {
        for n in 0..KEYS_PER_CHILD {
            let left = windows.peek_at(&format!("k{round}-{n}"), SECOND).unwrap();
            assert!(left.remaining() >= 999, "k{round}-{n}: {left:?}");
        }
    }
    assert!(windows.peek_at("common", SECOND).unwrap().remaining() <= 1_000);
    // No slot is stuck half-claimed: each new key takes exactly one.
    for m in 0..1_000 {
        assert!(windows
            .check_at(&format!("fresh-{m}"), 1, SECOND)
            .unwrap()
            .is_admitted());
        assert_eq!(windows.len() as u64, inserted + m + 1);
    }
    shared.remove().unwrap();
}
