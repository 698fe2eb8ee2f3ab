//! Shared in-flight caps (issue 15): one `max` across every process that
//! builds the cap on one segment, and permits of killed processes come back.
//!
//! The multi-process tests re-run this test binary as their children: with
//! `FLOODGATE_CHILD` set, `child_holds_permits` takes permits (of a cap, or
//! of one key's cap), says so on stdout and waits to be killed.

#[path = "common/child.rs"]
mod child;

use floodgate::{Error, InFlight, KeyedInFlight, Limiter, Quota, SharedMemory};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::Duration;

/// A segment only this test process uses, removed when dropped.
struct Segment(SharedMemory);

impl Segment {
    fn new(test: &str) -> Self {
        Self(SharedMemory::named(&format!("test-inflight-{test}-{}", std::process::id())).unwrap())
    }

    fn cap(&self, max: u64) -> floodgate::Result<InFlight> {
        InFlight::builder(max).shared(self.0.clone()).build()
    }

    fn keyed(&self, max: u64, capacity: usize) -> floodgate::Result<KeyedInFlight<str>> {
        KeyedInFlight::<str>::builder(max)
            .capacity(capacity)
            .shared(self.0.clone())
            .build()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        self.0.remove().unwrap();
    }
}

#[test]
fn two_builds_share_one_max_and_each_others_tokens() {
    let segment = Segment::new("two-builds");
    let (one, two) = (segment.cap(3).unwrap(), segment.cap(3).unwrap());
    assert!(one.is_shared() && two.is_shared());
    let first = one.try_acquire().permit().unwrap();
    let second = two.try_acquire().permit().unwrap();
    assert_eq!((second.in_flight(), second.remaining()), (2, 1));
    let third = one.try_acquire().permit().unwrap().into_token();
    let full = two.try_acquire().refusal().unwrap();
    assert_eq!((full.in_flight(), full.limit()), (3, 3));
    // One cap in two builds: a token taken through one is given back
    // through the other, once.
    assert_eq!(two.release(third), Ok(2));
    assert_eq!(one.release(third), Err(Error::PermitAlreadyReleased));
    drop((first, second));
    assert_eq!((one.in_flight(), two.in_flight()), (0, 0));
    let all: Vec<_> = (0..3)
        .map(|_| two.try_acquire().permit().unwrap())
        .collect();
    assert!(!one.try_acquire().is_granted());
    drop(all);
}

#[test]
fn a_token_of_a_local_cap_is_foreign_to_a_shared_one() {
    let segment = Segment::new("foreign");
    let shared = segment.cap(1).unwrap();
    let local = InFlight::builder(1).build().unwrap();
    let token = local.try_acquire().permit().unwrap().into_token();
    let _held = shared.try_acquire().permit().unwrap();
    assert_eq!(shared.release(token), Err(Error::ForeignPermit));
    assert_eq!(shared.in_flight(), 1);
}

#[test]
fn a_different_max_or_kind_is_refused_naming_the_field() {
    let segment = Segment::new("mismatch");
    let _four = segment.cap(4).unwrap();
    let Err(Error::SegmentMismatch(max)) = segment.cap(5) else {
        panic!("a second max on one segment was accepted")
    };
    assert_eq!(
        (max.field(), max.in_segment(), max.requested()),
        ("capacity", 4, 5)
    );
    let limiter = Limiter::builder(Quota::per_second(1).unwrap())
        .shared(segment.0.clone())
        .build();
    let Err(Error::SegmentMismatch(kind)) = limiter else {
        panic!("a limiter opened a cap's segment")
    };
    assert_eq!(kind.field(), "kind");
    assert_eq!(segment.cap(0).err(), Some(Error::ZeroLimit));
}

#[test]
fn a_forked_childs_copy_of_a_permit_stays_the_parents() {
    let segment = Segment::new("fork");
    let cap = segment.cap(1).unwrap();
    let permit = cap.try_acquire().permit().unwrap();
    let mut pipe = [0; 2];
    // SAFETY: `pipe` is two writable ints for the call.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    // SAFETY: the child only drops its copy of the permit (atomics, no
    // allocation, no lock), writes one byte and kills itself, which is what
    // a child of a threaded process may do.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        drop(permit);
        let kept = [u8::from(cap.in_flight() == 1)];
        // SAFETY: writes one byte from `kept` to the pipe, then ends the
        // child by SIGKILL: at once, running no destructor and no exit
        // handler (under valgrind, no leak check of the memory the
        // parent's other threads held, which the child cannot free).
        unsafe {
            libc::write(pipe[1], kept.as_ptr().cast(), 1);
            libc::kill(libc::getpid(), libc::SIGKILL);
            libc::_exit(1); // not reached: SIGKILL cannot be caught
        }
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; `status` outlives the call.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    let mut kept = [0u8];
    // SAFETY: reads at most one byte into `kept`; the child wrote it
    // before it died.
    let read = unsafe { libc::read(pipe[0], kept.as_mut_ptr().cast(), 1) };
    assert_eq!(read, 1);
    // SAFETY: closes the two ends this test opened.
    unsafe {
        libc::close(pipe[0]);
        libc::close(pipe[1]);
    }
    assert_eq!(kept, [1], "the child's drop released the parent's permit");
    assert_eq!(cap.in_flight(), 1);
    drop(permit);
    assert_eq!(cap.in_flight(), 0);
}

#[test]
fn two_keyed_builds_share_each_keys_max() {
    let segment = Segment::new("keyed");
    let (one, two) = (
        segment.keyed(2, 100).unwrap(),
        segment.keyed(2, 100).unwrap(),
    );
    assert!(one.is_shared() && two.is_shared());
    let alice = one.try_acquire("alice").unwrap().permit().unwrap();
    let second = two.try_acquire("alice").unwrap().permit().unwrap();
    let second = second.into_token();
    let full = one.try_acquire("alice").unwrap().refusal().unwrap();
    assert_eq!((full.in_flight(), full.limit()), (2, 2));
    let bob = two
        .try_acquire("bob")
        .unwrap()
        .permit()
        .unwrap()
        .into_token();
    assert_eq!(one.in_flight("alice"), Ok(2));
    assert_eq!(one.in_flight("bob"), Ok(1));
    assert_eq!(one.in_flight("carol"), Ok(0));
    // Another key's token is foreign; the key's own, through the other
    // build, is given back once.
    assert_eq!(one.release("alice", bob), Err(Error::ForeignPermit));
    assert_eq!(one.release("carol", bob), Err(Error::ForeignPermit));
    assert_eq!(one.release("alice", second), Ok(1));
    assert_eq!(
        two.release("alice", second),
        Err(Error::PermitAlreadyReleased)
    );
    assert_eq!(one.release("bob", bob), Ok(0));
    drop(alice);
    assert_eq!(two.in_flight("alice"), Ok(0));
}

#[test]
fn a_keyed_build_unlike_the_segment_is_refused_naming_the_field() {
    let segment = Segment::new("keyed-mismatch");
    let _caps = segment.keyed(2, 100).unwrap();
    let mismatch = |built: floodgate::Result<_>| match built {
        Err(Error::SegmentMismatch(mismatch)) => (
            mismatch.field(),
            mismatch.in_segment(),
            mismatch.requested(),
        ),
        _ => panic!("an unlike build opened the segment"),
    };
    assert_eq!(mismatch(segment.keyed(3, 100).map(drop)), ("options", 2, 3));
    assert_eq!(
        mismatch(segment.keyed(2, 200).map(drop)),
        ("capacity", 100, 200)
    );
    let by_id = KeyedInFlight::<u64>::builder(2)
        .capacity(100)
        .shared(segment.0.clone())
        .build();
    assert_eq!(mismatch(by_id.map(drop)).0, "kind");
    assert_eq!(mismatch(segment.cap(2).map(drop)).0, "kind");
}

const CHILD: &str = "FLOODGATE_CHILD";
const CHILD_SEGMENT: &str = "FLOODGATE_CHILD_SEGMENT";
const CHILD_PERMITS: u64 = 2;
/// What a child prints once it holds its permits (the test harness may
/// print its own words before it on the same line).
const HELD: &str = "floodgate-child-holds-permits";
const MAX: u64 = 5;

/// The key whose cap children of `keyed_permits_of_killed_processes_come_back`
/// fill.
const KEY: &str = "alice";
const KEYS: usize = 16;

/// A child process of the tests of killed processes; nothing in a normal
/// run.
#[test]
fn child_holds_permits() {
    let Ok(mode) = std::env::var(CHILD) else {
        return;
    };
    let shared = SharedMemory::at(std::env::var(CHILD_SEGMENT).unwrap());
    // The permits stay held in the segment after the caps are dropped: as
    // tokens, until this process is killed.
    match mode.as_str() {
        "cap" => {
            let cap = InFlight::builder(MAX).shared(shared).build().unwrap();
            for _ in 0..CHILD_PERMITS {
                cap.try_acquire().permit().unwrap().into_token();
            }
        }
        "keyed" => {
            let caps = KeyedInFlight::<str>::builder(MAX)
                .capacity(KEYS)
                .shared(shared)
                .build()
                .unwrap();
            for _ in 0..CHILD_PERMITS {
                caps.try_acquire(KEY)
                    .unwrap()
                    .permit()
                    .unwrap()
                    .into_token();
            }
        }
        "churn" => {
            let cap = InFlight::builder(MAX).shared(shared).build().unwrap();
            println!("{HELD}");
            // Takes and gives back permits until killed, so that the kill
            // lands anywhere in an acquire or a release.
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                let held: Vec<_> = (0..CHILD_PERMITS)
                    .filter_map(|_| cap.try_acquire().permit())
                    .collect();
                drop(held);
            }
            return;
        }
        other => panic!("no child mode {other}"),
    }
    println!("{HELD}");
    // The parent kills us long before; if it does not, end anyway.
    std::thread::sleep(Duration::from_secs(30));
}

/// Two children that each take `CHILD_PERMITS` of the cap `mode` names on
/// `shared`, and hold them until killed ("churn": take and give back
/// permits until killed).
fn spawn_holders(shared: &SharedMemory, mode: &str) -> [Child; 2] {
    [(); 2].map(|()| {
        let mut child = child::spawn_test(
            "child_holds_permits",
            &[
                (CHILD, OsStr::new(mode)),
                (CHILD_SEGMENT, shared.path().as_os_str()),
            ],
        );
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Returns when the child says it holds its permits, or ends without.
        assert!(
            lines.any(|line| line.unwrap().ends_with(HELD)),
            "the child ended without taking its permits"
        );
        child
    })
}

fn kill(children: [Child; 2]) {
    for mut child in children {
        let pid = child.id() as libc::pid_t;
        // SAFETY: kill only sends a signal, to our own unreaped child.
        let killed = unsafe { libc::kill(pid, libc::SIGKILL) };
        assert_eq!(killed, 0);
        // Reaped: a zombie still answers kill(pid, 0).
        child.wait().unwrap();
    }
}

#[test]
fn permits_of_killed_processes_come_back() {
    let segment = Segment::new("killed");
    let cap = segment.cap(MAX).unwrap();
    let mine = cap.try_acquire().permit().unwrap();
    let children = spawn_holders(&segment.0, "cap");
    assert_eq!(cap.in_flight(), MAX);
    // Every holder lives: refusals check them and take nothing back.
    for _ in 0..2 * MAX {
        assert!(!cap.try_acquire().is_granted());
    }
    kill(children);
    assert_eq!(
        cap.in_flight(),
        MAX,
        "a dead holder's permits count until reclaimed"
    );
    // Each refusal checks one slot's holder in turn: the dead ones' permits
    // all come back within MAX refusals.
    let taken: Vec<_> = (0..2 * MAX)
        .filter_map(|_| cap.try_acquire().permit())
        .collect();
    assert_eq!(taken.len() as u64, MAX - 1);
    assert!(!cap.try_acquire().is_granted());
    drop((mine, taken));
    assert_eq!(cap.in_flight(), 0);
}

#[test]
fn keyed_permits_of_killed_processes_come_back() {
    let segment = Segment::new("keyed-killed");
    let caps = segment.keyed(MAX, KEYS).unwrap();
    let mine = caps.try_acquire(KEY).unwrap().permit().unwrap();
    let children = spawn_holders(&segment.0, "keyed");
    assert_eq!(caps.in_flight(KEY), Ok(MAX));
    for _ in 0..2 * MAX {
        assert!(!caps.try_acquire(KEY).unwrap().is_granted());
    }
    kill(children);
    let taken: Vec<_> = (0..2 * MAX)
        .filter_map(|_| caps.try_acquire(KEY).unwrap().permit())
        .collect();
    assert_eq!(taken.len() as u64, MAX - 1);
    assert!(!caps.try_acquire(KEY).unwrap().is_granted());
    // Another key's cap was never touched.
    assert_eq!(caps.in_flight("bob"), Ok(0));
    drop((mine, taken));
    assert_eq!(caps.in_flight(KEY), Ok(0));
}

#[test]
fn processes_killed_anywhere_in_acquire_or_release_leave_no_permit_stuck() {
    const ROUNDS: u64 = 20;
    let segment = Segment::new("churn");
    let cap = segment.cap(MAX).unwrap();
    for round in 0..ROUNDS {
        let children = spawn_holders(&segment.0, "churn");
        // Different moments into the children's loops (not a timing
        // assertion: any moment is a valid test).
        std::thread::sleep(Duration::from_micros(300 * (round % 7)));
        kill(children);
        // The segment still opens and checks out.
        segment.cap(MAX).unwrap();
    }
    // Whatever the kills left held or half released comes back: each
    // refusal checks one slot's holder in turn.
    let taken: Vec<_> = (0..2 * MAX + 1)
        .filter_map(|_| cap.try_acquire().permit())
        .collect();
    assert_eq!(taken.len() as u64, MAX);
    assert_eq!(cap.in_flight(), MAX);
    assert!(!cap.try_acquire().is_granted());
    drop(taken);
    assert_eq!(cap.in_flight(), 0);
}
