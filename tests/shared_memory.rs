//! Shared mode: limiters in a segment every process maps (issue 15).
//!
//! The multi-process tests run this test binary again as child processes
//! (`FLOODGATE_SHM_CHILD` names what a child does, see [`child_process`]);
//! every child reads the one machine-wide clock its limiter reads.

#[path = "common/child.rs"]
mod child;

use floodgate::{Clock, Error, KeyedLimiter, Limiter, Quota, SharedMemory};
use std::io::{BufReader, Read};
use std::process::Child;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "FLOODGATE_SHM_CHILD";

/// A segment name no other test or run uses, removed when dropped.
struct Segment(SharedMemory);

impl Segment {
    fn new(test: &str) -> Self {
        let shared = SharedMemory::named(&format!("test-{test}-{}", std::process::id())).unwrap();
        shared.remove().unwrap();
        Self(shared)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        let _ = self.0.remove();
    }
}

/// The quota the one-key hammering uses: 2,000/s with a burst of 400 (a
/// fifth of a second to refill, longer than any stall of all workers).
fn hammer_quota() -> Quota {
    Quota::per_second(2_000).unwrap().with_burst(400).unwrap()
}

fn keyed(
    shared: &SharedMemory,
    quota: Quota,
    capacity: usize,
) -> floodgate::Result<KeyedLimiter<str>> {
    KeyedLimiter::<str>::builder(quota)
        .capacity(capacity)
        .shared(shared.clone())
        .build()
}

#[test]
fn two_builds_share_one_keyed_table() {
    let segment = Segment::new("two-builds");
    let quota = Quota::per_second(30).unwrap().with_burst(60).unwrap();
    let one = keyed(&segment.0, quota, 10_000).unwrap();
    let two = keyed(&segment.0, quota, 10_000).unwrap();
    assert!(one.is_shared() && one.clock().is_system_wide());
    assert!(one.check("alice", 60).unwrap().is_admitted());
    assert!(!two.check("alice", 1).unwrap().is_admitted());
    assert!(two.check("bob", 1).unwrap().is_admitted());
    assert_eq!((one.len(), two.len()), (2, 2));
}

#[test]
fn a_reconfiguration_and_a_per_key_quota_set_in_one_build_hold_in_the_other() {
    let segment = Segment::new("runtime-changes");
    let quota = Quota::per_second(10).unwrap();
    let one = keyed(&segment.0, quota, 1_000).unwrap();
    let two = keyed(&segment.0, quota, 1_000).unwrap();
    let now = one.clock().now_ns();
    one.reconfigure_at(Quota::per_second(100).unwrap(), now);
    assert_eq!(two.default_quota().burst(), 100);
    assert_eq!(two.peek_at("carol", now).unwrap().remaining(), 100);
    one.set_quota_at("vip", Quota::per_second(500).unwrap(), now)
        .unwrap();
    assert_eq!(two.quota_for("vip").unwrap().burst(), 500);
    assert_eq!(two.peek_at("vip", now).unwrap().remaining(), 500);
}

#[test]
fn a_shared_limiter_is_one_bucket() {
    let segment = Segment::new("limiter");
    let quota = Quota::per_second(5).unwrap();
    let one = Limiter::builder(quota)
        .shared(segment.0.clone())
        .build()
        .unwrap();
    let two = Limiter::builder(quota)
        .shared(segment.0.clone())
        .build()
        .unwrap();
    let now = one.clock().now_ns();
    assert!(one.check_at(5, now).is_admitted());
    assert!(!two.check_at(1, now).is_admitted());
    two.reconfigure_at(Quota::per_second(50).unwrap(), now);
    assert_eq!(one.quota().burst(), 50);
}

#[test]
fn openers_that_ask_for_something_else_are_refused_and_told_what_differs() {
    let segment = Segment::new("mismatch");
    let quota = Quota::per_second(30).unwrap();
    let _first = keyed(&segment.0, quota, 1_000).unwrap();
    let refused = |built: floodgate::Result<KeyedLimiter<str>>| match built {
        Err(Error::SegmentMismatch(mismatch)) => (
            mismatch.field(),
            mismatch.in_segment(),
            mismatch.requested(),
        ),
        other => panic!("expected a mismatch, got {:?}", other.map(|_| ())),
    };
    assert_eq!(
        refused(keyed(&segment.0, Quota::per_second(31).unwrap(), 1_000)),
        ("quota count", 30, 31)
    );
    assert_eq!(
        refused(keyed(&segment.0, quota.with_burst(60).unwrap(), 1_000)),
        ("quota burst", 30, 60)
    );
    assert_eq!(refused(keyed(&segment.0, quota, 2_000)).0, "capacity");
    let message = keyed(&segment.0, quota, 2_000).err().unwrap().to_string();
    assert!(
        message.contains("capacity") && message.contains("remove the segment"),
        "{message}"
    );
    let other_kind = KeyedLimiter::<u64>::builder(quota)
        .capacity(1_000)
        .shared(segment.0.clone())
        .build();
    assert!(matches!(other_kind, Err(Error::SegmentMismatch(m)) if m.field() == "kind"));
    let limiter = Limiter::builder(quota).shared(segment.0.clone()).build();
    assert!(matches!(limiter, Err(Error::SegmentMismatch(m)) if m.field() == "kind"));
    // IP addresses fingerprint as byte strings do, yet are another key kind.
    let by_address = KeyedLimiter::<std::net::IpAddr>::builder(quota)
        .capacity(1_000)
        .shared(segment.0.clone())
        .build();
    assert!(matches!(by_address, Err(Error::SegmentMismatch(m)) if m.field() == "kind"));
    // Byte strings, `str` or `[u8]`, are one key kind: they share.
    let by_bytes = KeyedLimiter::<[u8]>::builder(quota)
        .capacity(1_000)
        .shared(segment.0.clone())
        .build()
        .unwrap();
    assert!(by_bytes.is_shared());
}

#[test]
fn a_file_that_is_not_a_segment_is_refused_not_overwritten() {
    let path = std::env::temp_dir().join(format!("floodgate-not-a-segment-{}", std::process::id()));
    let text =
        "not a floodgate segment, and long enough to cover its header words..........".repeat(8);
    std::fs::write(&path, &text).unwrap();
    let built = Limiter::builder(Quota::per_second(1).unwrap())
        .shared(SharedMemory::at(&path))
        .build();
    assert!(matches!(built, Err(Error::SegmentMismatch(m)) if m.field() == "magic"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bad_names_and_unreachable_paths_are_typed_errors() {
    for name in ["", "a/b", "..", "with space", &"x".repeat(201)] {
        assert_eq!(
            SharedMemory::named(name).err(),
            Some(Error::InvalidSegmentName),
            "{name:?}"
        );
    }
    let built = Limiter::builder(Quota::per_second(1).unwrap())
        .shared(SharedMemory::at("/nonexistent-dir/segment"))
        .build();
    assert!(matches!(built, Err(Error::SegmentIo { errno, .. }) if errno == 2));
}

#[test]
fn a_segment_whose_creator_died_setting_it_up_is_set_up_again() {
    let segment = Segment::new("dead-creator");
    // A header claimed by a process that no longer exists (pid 2^30 is
    // above any the kernel gives), its tables never written.
    let mut header = vec![0u8; 256];
    header[16..24].copy_from_slice(&((1u64 << 62) | (1 << 30)).to_le_bytes());
    std::fs::write(segment.0.path(), header).unwrap();
    let limiter = keyed(&segment.0, Quota::per_second(3).unwrap(), 100).unwrap();
    assert!(limiter.check("k", 3).unwrap().is_admitted());
}

#[test]
fn an_opener_waits_a_bounded_time_for_a_live_creator() {
    let segment = Segment::new("live-creator");
    let mut header = vec![0u8; 256];
    header[16..24].copy_from_slice(&((1u64 << 62) | u64::from(std::process::id())).to_le_bytes());
    std::fs::write(segment.0.path(), header).unwrap();
    let started = Instant::now();
    let built = Limiter::builder(Quota::per_second(1).unwrap())
        .shared(segment.0.clone().wait(Duration::from_millis(50)))
        .build();
    assert_eq!(built.err(), Some(Error::SegmentNotReady));
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// What a child process does, chosen by the parent through `CHILD_ENV`:
/// `<mode> <segment path> <arguments...>`. Without it, nothing.
#[test]
fn child_process() {
    let Ok(task) = std::env::var(CHILD_ENV) else {
        return;
    };
    let words: Vec<&str> = task.split(' ').collect();
    let shared = SharedMemory::at(words[1]);
    match words[0] {
        "hammer" => hammer_one_key(&shared, words[2].parse().unwrap()),
        "keys" => charge_every_key(
            &shared,
            words[2].parse().unwrap(),
            words[3].parse().unwrap(),
        ),
        "churn" => churn_until_killed(&shared),
        mode => panic!("unknown child mode {mode}"),
    }
}

/// Two threads check one key until the machine clock reaches `until_ns`;
/// prints `admitted first_ns last_ns` over every check made.
fn hammer_one_key(shared: &SharedMemory, until_ns: u64) {
    let limiter = keyed(shared, hammer_quota(), 1_000).unwrap();
    let results: Vec<(u64, u64, u64)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let (mut admitted, mut first, mut last) = (0, u64::MAX, 0);
                    loop {
                        let now = limiter.clock().now_ns();
                        if now >= until_ns {
                            return (admitted, first, last);
                        }
                        first = first.min(now);
                        last = now;
                        admitted +=
                            u64::from(limiter.check_at("hot", 1, now).unwrap().is_admitted());
                    }
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect()
    });
    let admitted: u64 = results.iter().map(|r| r.0).sum();
    let first = results.iter().map(|r| r.1).min().unwrap();
    let last = results.iter().map(|r| r.2).max().unwrap();
    println!("RESULT {admitted} {first} {last}");
}

/// Checks each of `keys` u64 keys once, starting at `offset` (so the
/// processes meet on every key in a different order); prints the admitted count.
fn charge_every_key(shared: &SharedMemory, keys: u64, offset: u64) {
    let limiter = many_keys(shared, keys);
    let admitted = (0..keys)
        .filter(|i| limiter.check(&((i + offset) % keys), 1).is_admitted())
        .count();
    println!("RESULT {admitted}");
}

fn many_keys(shared: &SharedMemory, keys: u64) -> KeyedLimiter<u64> {
    // One an hour, a burst of two: each key admits exactly twice in a run.
    KeyedLimiter::<u64>::builder(Quota::per_hour(1).unwrap().with_burst(2).unwrap())
        .capacity(keys as usize * 5 / 4)
        .shared(shared.clone())
        .build()
        .unwrap()
}

/// Inserts new keys, checks the hot key and now and then reconfigures,
/// forever; writes one byte per admitted check of the hot key, so what a
/// process killed at any instruction admitted is counted (but for at most
/// the one check it was in).
fn churn_until_killed(shared: &SharedMemory) {
    use std::io::Write;
    let limiter = keyed(shared, churn_quota(), 8_192).unwrap();
    let mut out = std::io::stdout().lock();
    for round in 0u64.. {
        let key = format!("k{}", round % 5_000);
        let _ = limiter.check(&key, 1).unwrap();
        if limiter.check("hot", 1).unwrap().is_admitted() {
            out.write_all(b"+").unwrap();
            out.flush().unwrap();
        }
        if round % 2_000 == 0 {
            limiter.reconfigure(churn_quota());
            limiter.set_quota(&key, churn_quota()).unwrap();
        }
    }
}

fn churn_quota() -> Quota {
    Quota::per_second(1_000).unwrap().with_burst(50).unwrap()
}

fn spawn_child(task: &str) -> Child {
    child::spawn_test("child_process", &[(CHILD_ENV, task)])
}

/// The numbers after `RESULT` in a child's output.
fn result_of(child: Child) -> Vec<u64> {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "child failed: {:?}", output.status);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = stdout
        .lines()
        .find_map(|line| line.split_once("RESULT "))
        .expect(&stdout)
        .1;
    line.split(' ').map(|n| n.parse().unwrap()).collect()
}

#[test]
fn four_processes_of_two_threads_on_one_key_admit_the_bound_and_no_more() {
    let segment = Segment::new("four-processes");
    let parent = keyed(&segment.0, hammer_quota(), 1_000).unwrap();
    let until = parent.clock().now_ns() + 1_000_000_000;
    let path = segment.0.path().to_str().unwrap().to_owned();
    let children: Vec<Child> = (0..4)
        .map(|_| spawn_child(&format!("hammer {path} {until}")))
        .collect();
    let results: Vec<Vec<u64>> = children.into_iter().map(result_of).collect();
    let admitted: u64 = results.iter().map(|r| r[0]).sum();
    let first = results.iter().map(|r| r[1]).min().unwrap();
    let last = results.iter().map(|r| r[2]).max().unwrap();
    // 2,000/s is one token per 500,000 ns.
    let bound = 400 + (last - first) / 500_000;
    eprintln!("4 processes x 2 threads: admitted {admitted}, bound {bound}");
    assert!(admitted <= bound, "admitted {admitted} > bound {bound}");
    assert!(
        admitted + 4 >= bound,
        "admitted {admitted} < bound {bound} - 4"
    );
}

#[test]
fn four_processes_over_a_million_keys_admit_each_key_its_burst_exactly() {
    const KEYS: u64 = 1_000_000;
    let segment = Segment::new("million-keys");
    let parent = many_keys(&segment.0, KEYS);
    let path = segment.0.path().to_str().unwrap().to_owned();
    let children: Vec<Child> = (0..4)
        .map(|i| spawn_child(&format!("keys {path} {KEYS} {}", i * KEYS / 4)))
        .collect();
    let admitted: u64 = children.into_iter().map(|child| result_of(child)[0]).sum();
    // Four checks of each key, a burst of two: two admitted per key, and
    // the bound allows no more (an hour's refill is not reached).
    assert_eq!(admitted, 2 * KEYS);
    assert_eq!(parent.len(), KEYS as usize);
    assert!(!parent.check(&7, 1).is_admitted());
}

#[test]
fn workers_killed_at_random_two_hundred_times_leave_no_stuck_key_and_no_over_admission() {
    let segment = Segment::new("sigkill");
    let parent = keyed(&segment.0, churn_quota(), 8_192).unwrap();
    let path = segment.0.path().to_str().unwrap().to_owned();
    let started = parent.clock().now_ns();
    let spawn = || (spawn_child(&format!("churn {path}")), Instant::now());
    let mut workers: Vec<(Child, Instant)> = (0..3).map(|_| spawn()).collect();
    let mut readers = Vec::new();
    let mut seed = u64::from(std::process::id());
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    for _ in 0..200 {
        assert!(
            Instant::now() < deadline,
            "the kill loop ran past its time bound"
        );
        // A victim at least 30 ms old is past its start-up and churning;
        // the extra 0-10 ms lands the kill anywhere in its loop.
        let victim = random(workers.len() as u64) as usize;
        let age = Duration::from_millis(30) + Duration::from_micros(random(10_000));
        std::thread::sleep(age.saturating_sub(workers[victim].1.elapsed()));
        let (mut child, _) = std::mem::replace(&mut workers[victim], spawn());
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        readers.push(count_admitted(child));
    }
    for (mut child, _) in workers {
        child.kill().unwrap();
        child.wait().unwrap();
        readers.push(count_admitted(child));
    }
    let admitted: u64 = readers.into_iter().sum();
    let elapsed = parent.clock().now_ns() - started;
    // 1,000/s is one token per ms; one check per kill may have admitted
    // without being counted, which only lowers the count.
    let bound = 50 + elapsed / 1_000_000;
    eprintln!("SIGKILL x200: admitted {admitted} of at most {bound}");
    assert!(admitted <= bound, "admitted {admitted} > bound {bound}");

    // Every key the workers touched still answers, insertions included,
    // and a writer can still take the lock.
    let checker = std::thread::spawn(move || {
        let now = parent.clock().now_ns() + 10_000_000_000;
        for i in 0..5_000 {
            let decision = parent.check_at(&format!("k{i}"), 1, now).unwrap();
            assert!(
                decision.is_admitted(),
                "k{i}: {decision:?}, {} keys, {} full-table events",
                parent.len(),
                parent.full_table_events()
            );
        }
        // The writer lock is free (or taken over from a dead holder).
        parent.reconfigure_at(churn_quota(), now);
        parent.set_quota_at("k1", churn_quota(), now).unwrap();
        // Claims the dead left pending hold no slot a new key needs.
        for i in 0..3_000 {
            let later = now + 1_000_000_000;
            let decision = parent.check_at(&format!("new{i}"), 1, later).unwrap();
            assert!(
                decision.is_admitted(),
                "new{i}: {decision:?}, {} keys, {} full-table events",
                parent.len(),
                parent.full_table_events()
            );
        }
    });
    let waited = Instant::now();
    while !checker.is_finished() {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "a key or the writer lock is stuck"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    checker.join().unwrap();
    // The segment still opens and validates.
    keyed(&segment.0, churn_quota(), 8_192).unwrap();
}

/// How many admitted checks a killed churn worker wrote.
fn count_admitted(child: Child) -> u64 {
    let mut bytes = Vec::new();
    BufReader::new(child.stdout.unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    bytes.iter().filter(|&&b| b == b'+').count() as u64
}
