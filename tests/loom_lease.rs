//! Loom model checks of the local lease bucket (`src/store/lease/bucket.rs`)
//! and the queue of refills it asks for (`src/store/lease/queue.rs`):
//! checks taking tokens while a lease lands, an idle give-back drains the
//! bucket, a layered check puts a token back, or the limiter closes as a
//! lease lands. Every token granted is spent once, handed back once, or
//! still held: never two of these, never none; one caller at a time holds
//! the right to ask for a lease; and an ask is sent once, by the pump or by
//! a check that takes it over, whatever races it.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test --release --test loom_lease`
#![cfg(loom)]

use floodgate::lease_bucket::{LeaseBucket, Take};
use floodgate::lease_queue::{Asker, RefillQueue, Wanted};
use loom::sync::Arc;
use loom::thread;

/// Every lease in these models is valid until this millisecond.
const UNTIL: u64 = 1_000;
/// The checks' time: the leases are valid.
const NOW: u64 = 10;

fn funded(tokens: u64) -> Arc<LeaseBucket> {
    let bucket = LeaseBucket::new();
    if tokens > 0 {
        assert_eq!(bucket.take(1, NOW, 0), Take::Empty { refill: true });
        assert_eq!(bucket.fund(tokens, UNTIL, NOW), 0);
    }
    Arc::new(bucket)
}

fn spent(take: Take) -> u64 {
    match take {
        Take::Spent { .. } => 1,
        _ => 0,
    }
}

fn claimed(take: Take) -> bool {
    matches!(
        take,
        Take::Spent { refill: true, .. } | Take::Empty { refill: true }
    )
}

#[test]
fn checks_racing_a_landing_lease_spend_each_token_once() {
    loom::model(|| {
        let bucket = funded(1);
        let checks: Vec<_> = (0..2)
            .map(|_| {
                let bucket = bucket.clone();
                // Low water 1: the take that empties the bucket claims the refill.
                thread::spawn(move || bucket.take(1, NOW, 1))
            })
            .collect();
        // The next lease lands while they run.
        let unkept = bucket.fund(1, UNTIL, NOW);
        let takes: Vec<Take> = checks.into_iter().map(|c| c.join().unwrap()).collect();
        let used: u64 = takes.iter().map(|&t| spent(t)).sum();
        let left = bucket.snapshot().valid_tokens(NOW);
        assert_eq!(unkept, 0);
        assert_eq!(used + left, 2, "{takes:?}, {left} left");
        // The landing lease ended any refill claimed before it; one claimed
        // after it is still open, and at most one caller claimed it.
        let late_claims = takes.iter().filter(|&&t| claimed(t)).count();
        assert!(late_claims <= 2);
        if bucket.snapshot().refilling() {
            assert!(late_claims >= 1);
        }
    });
}

#[test]
fn one_of_two_racing_checks_claims_the_refill() {
    loom::model(|| {
        let bucket = funded(3);
        let other = {
            let bucket = bucket.clone();
            thread::spawn(move || bucket.take(1, NOW, 3))
        };
        let mine = bucket.take(1, NOW, 3);
        let theirs = other.join().unwrap();
        assert_eq!(spent(mine) + spent(theirs), 2);
        assert_eq!(usize::from(claimed(mine)) + usize::from(claimed(theirs)), 1);
        assert!(bucket.snapshot().refilling());
        assert_eq!(bucket.snapshot().valid_tokens(NOW), 1);
    });
}

#[test]
fn a_give_back_racing_checks_never_returns_a_spent_token() {
    loom::model(|| {
        let bucket = funded(2);
        let check = {
            let bucket = bucket.clone();
            thread::spawn(move || spent(bucket.take(1, NOW, 0)))
        };
        let drained = bucket.drain(NOW);
        let used = check.join().unwrap();
        let left = bucket.snapshot().valid_tokens(NOW);
        assert_eq!(used + drained + left, 2);
        assert_eq!(
            left, 0,
            "a drain leaves nothing, and a later take finds nothing"
        );
    });
}

#[test]
fn a_token_put_back_racing_a_give_back_is_kept_or_returned_once() {
    loom::model(|| {
        let bucket = funded(1);
        let layered = {
            let bucket = bucket.clone();
            // A layered check takes the token, then another layer refuses.
            thread::spawn(move || match bucket.take(1, NOW, 0) {
                Take::Spent { .. } => bucket.put_back(1, NOW),
                _ => 0,
            })
        };
        let drained = bucket.drain(NOW);
        let unkept = layered.join().unwrap();
        let left = bucket.snapshot().valid_tokens(NOW);
        assert_eq!(unkept, 0, "a valid lease keeps what is put back");
        assert_eq!(drained + left, 1);
    });
}

#[test]
fn a_lease_landing_as_the_limiter_closes_goes_back_once() {
    loom::model(|| {
        let bucket = funded(1);
        // The next lease is in flight when the limiter is dropped.
        assert!(matches!(
            bucket.take(1, NOW, 1),
            Take::Spent {
                left: 0,
                refill: true
            }
        ));
        let landing = {
            let bucket = bucket.clone();
            thread::spawn(move || bucket.fund(2, UNTIL, NOW))
        };
        let drained = bucket.close(NOW);
        let refused = landing.join().unwrap();
        // The lease is handed back by the close's drain or refused whole
        // by the closed bucket: once, and not both.
        assert_eq!(drained + refused, 2);
        assert!(bucket.snapshot().closed());
        assert_eq!(bucket.snapshot().valid_tokens(NOW), 0);
    });
}

/// A key's state as the refill queue sees it.
struct Node {
    wanted: Wanted<Node>,
    id: u64,
}

impl Asker for Node {
    fn wanted(&self) -> &Wanted<Self> {
        &self.wanted
    }
}

/// A queue and the states it queues, which outlive it together.
struct Table {
    queue: RefillQueue<Node>,
    nodes: [Node; 2],
}

fn table() -> Arc<Table> {
    let node = |id| Node {
        wanted: Wanted::new(),
        id,
    };
    Arc::new(Table {
        queue: RefillQueue::new(),
        nodes: [node(0), node(1)],
    })
}

impl Table {
    fn ask(&self, node: usize, at: u64) {
        // SAFETY: the node lives in the same allocation as the queue.
        unsafe { self.queue.ask(&self.nodes[node], at, 1) };
    }

    fn drain(&self, sent: &mut Vec<(u64, u64)>) {
        self.queue.drain(|node, at, _| sent.push((node.id, at)));
    }
}

#[test]
fn asks_racing_the_pump_are_each_sent_once() {
    loom::model(|| {
        let table = table();
        let askers: Vec<_> = (0..2)
            .map(|node| {
                let table = table.clone();
                thread::spawn(move || table.ask(node, 10 + node as u64))
            })
            .collect();
        let mut sent = Vec::new();
        table.drain(&mut sent);
        for asker in askers {
            asker.join().unwrap();
        }
        table.drain(&mut sent);
        sent.sort_unstable();
        assert_eq!(sent, [(0, 10), (1, 11)]);
    });
}

#[test]
fn an_ask_a_check_takes_over_is_sent_once() {
    loom::model(|| {
        let table = table();
        table.ask(0, 10);
        let check = {
            let table = table.clone();
            thread::spawn(move || table.nodes[0].wanted.take().is_some())
        };
        let mut sent = Vec::new();
        table.drain(&mut sent);
        let took = check.join().unwrap();
        table.drain(&mut sent);
        assert_eq!(sent.len() + usize::from(took), 1, "{sent:?}, {took}");
    });
}

#[test]
fn a_state_asked_again_while_on_the_stack_is_sent_once() {
    loom::model(|| {
        let table = table();
        table.ask(0, 10);
        // A check took the first ask over and its refill ended; the next
        // claim asks again while the state is still on the stack.
        assert_eq!(table.nodes[0].wanted.take(), Some((10, 1)));
        let again = {
            let table = table.clone();
            thread::spawn(move || table.ask(0, 20))
        };
        let mut sent = Vec::new();
        table.drain(&mut sent);
        again.join().unwrap();
        table.drain(&mut sent);
        assert_eq!(sent, [(0, 20)]);
    });
}
