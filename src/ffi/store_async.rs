//! `fg_redis_limiter_check_async` and its peek and refund: a Redis
//! limiter's calls that return at once and answer through a callback, so a
//! caller with an event loop (Node) keeps no thread waiting per call.
//!
//! The decision runs on the store's runtime. Its answer is handed to a
//! notifier thread of its `done`'s own, which calls it: a caller's callback
//! may wait for its own event loop (koffi's does), and waiting on the
//! runtime's thread would stall every other Redis call of the store (one
//! thread per callback keeps a busy event loop, a Node worker thread's
//! say, from holding up another's answers). The answers that arrive while
//! `done` runs go together in its next call, so an event loop wakes once
//! per batch rather than once per call.

use super::args;
use super::decision::FgDecision;
use super::status::{guard, Failure, FgStatus};
use super::store::FgRedisLimiter;
use super::store_answers::{AnswerQueue, FgRedisAnswers};
use crate::keyed::check_key_len;
use std::sync::Arc;

#[cfg(feature = "redis")]
use crate::store::RedisLimiter;
#[cfg(not(feature = "redis"))]
use absent::{launch, RedisLimiter};
#[cfg(feature = "redis")]
use present::launch;

/// The answer to one call an `_async` function started, as `done` gets it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FgRedisAnswer {
    /// The `ticket` the call was started with.
    pub ticket: u64,
    /// `FG_STATUS_OK`, or why the call has no decision (`FG_STATUS_PANIC`: a
    /// floodgate bug).
    pub status: FgStatus,
    /// The decision when `status` is `FG_STATUS_OK`; all zero otherwise.
    pub decision: FgDecision,
}

impl FgRedisAnswer {
    /// The answer to the call of `ticket`: its decision, or why it has none.
    // Made only where a limiter can exist: with `redis`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(super) fn new(ticket: u64, answer: Result<FgDecision, FgStatus>) -> Self {
        match answer {
            Ok(decision) => Self {
                ticket,
                status: FgStatus::Ok,
                decision,
            },
            Err(status) => Self {
                ticket,
                status,
                decision: NO_DECISION,
            },
        }
    }
}

/// An answer's decision when it has none: all zero.
const NO_DECISION: FgDecision = FgDecision {
    admitted: false,
    outcome: super::decision::FgOutcome::Admitted,
    limit: 0,
    remaining: 0,
    reset_after_ns: 0,
    retry_after_ns: 0,
    scope: 0,
};

/// Receives the answers to calls the `_async` functions started: `count`
/// (at least 1) answers at `answers`, readable until `done` returns, each
/// call's exactly once. It is called on a thread the library keeps for
/// that `done` (never the caller's, never inside the call), one call at a
/// time: the answers that arrive meanwhile come in the next, so it should
/// be short. It must not unwind.
pub type FgRedisDone = Option<unsafe extern "C" fn(answers: *const FgRedisAnswer, count: usize)>;

/// A non-NULL [`FgRedisDone`].
type Done = unsafe extern "C" fn(*const FgRedisAnswer, usize);

/// What a started call asks the limiter.
#[derive(Clone, Copy)]
// Read only where a limiter can exist: with `redis`.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(super) enum Call {
    Check(u64),
    Peek,
    Refund(u64),
}

/// Where a call's answer is to go, as the caller gave it (checked by [`begin`]).
pub(super) enum AnswerTo {
    /// An `_async` call's `done`.
    Done(FgRedisDone),
    /// A `_queued` call's queue.
    Queue(*const FgRedisAnswers),
}

/// Where a started call's answer goes.
// Read only where a limiter can exist: with `redis`.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
enum To {
    /// To the notifier thread of this `done`, which calls it.
    Done(Done),
    /// Into a queue the caller takes from (`store_answers.rs`).
    Queue(Arc<AnswerQueue>),
}

/// The body of every `_async` and `_queued` export: checks every argument
/// before anything is started, copies the key, then `launch` sends the call.
///
/// # Safety
/// `limiter` NULL or live until the call is answered; `key` NULL or
/// readable for `key_len` bytes; a queue NULL or a live handle.
pub(super) unsafe fn begin(
    function: &'static str,
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    call: Call,
    ticket: u64,
    answer_to: AnswerTo,
) -> FgStatus {
    guard(function, || {
        // SAFETY: a live handle is a boxed RedisLimiter (fg_redis_limiter_new).
        let limiter = unsafe { args::handle(limiter.cast::<RedisLimiter>(), "limiter") }?;
        // SAFETY: readable for key_len bytes, by the contract.
        let key = unsafe { args::bytes(key, key_len, "key") }?;
        check_key_len(key)?;
        let to = match answer_to {
            AnswerTo::Done(done) => To::Done(done.ok_or_else(|| {
                Failure::new(FgStatus::NullPointer, "`done` is NULL".to_string())
            })?),
            AnswerTo::Queue(answers) => {
                // SAFETY: a live handle is a boxed FgRedisAnswers (fg_redis_answers_new).
                let answers = unsafe { args::handle(answers, "answers") }?;
                To::Queue(answers.queue())
            }
        };
        launch(limiter, key.to_vec(), call, ticket, to)
    })
}

/// Starts deciding a request of `cost` units for `key` (1 to
/// `FG_MAX_KEY_LEN` bytes) in Redis and returns without waiting: `done`
/// then gets an `fg_redis_answer` with `ticket` and what
/// `fg_redis_limiter_check` would have answered (the deadline and
/// `on_failure` apply alike), from a thread of the library's. A call that
/// returns an error started nothing and gets no answer. The key is copied.
///
/// Errors: `FG_STATUS_NULL_POINTER` (`limiter`, `done`, or `key` with a
/// length), `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_INVALID_LENGTH`,
/// `FG_STATUS_EMPTY_KEY`, `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_STORE_THREAD`
/// (the notifier thread could not be started), `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` must be NULL or a live handle, and stay live until `done` has
/// returned from the answer of every call started on it; `key` NULL or
/// readable for `key_len` bytes (only during the call); `done` NULL or a
/// function that may be called from another thread and does not unwind.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_check_async(
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    cost: u64,
    ticket: u64,
    done: FgRedisDone,
) -> FgStatus {
    // SAFETY: this function's contract is `begin`'s.
    unsafe {
        begin(
            "fg_redis_limiter_check_async",
            limiter,
            key,
            key_len,
            Call::Check(cost),
            ticket,
            AnswerTo::Done(done),
        )
    }
}

/// `fg_redis_limiter_peek` answered through `done`, as
/// `fg_redis_limiter_check_async` answers.
///
/// Errors: as `fg_redis_limiter_check_async`.
///
/// # Safety
/// As `fg_redis_limiter_check_async`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_peek_async(
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    ticket: u64,
    done: FgRedisDone,
) -> FgStatus {
    // SAFETY: this function's contract is `begin`'s.
    unsafe {
        begin(
            "fg_redis_limiter_peek_async",
            limiter,
            key,
            key_len,
            Call::Peek,
            ticket,
            AnswerTo::Done(done),
        )
    }
}

/// `fg_redis_limiter_refund` answered through `done`, as
/// `fg_redis_limiter_check_async` answers.
///
/// Errors: as `fg_redis_limiter_check_async`.
///
/// # Safety
/// As `fg_redis_limiter_check_async`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_refund_async(
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    amount: u64,
    ticket: u64,
    done: FgRedisDone,
) -> FgStatus {
    // SAFETY: this function's contract is `begin`'s.
    unsafe {
        begin(
            "fg_redis_limiter_refund_async",
            limiter,
            key,
            key_len,
            Call::Refund(amount),
            ticket,
            AnswerTo::Done(done),
        )
    }
}

/// How a call runs: on the store's runtime, answered by `done`'s notifier.
#[cfg(feature = "redis")]
mod present {
    use super::super::decision::FG_SCOPE_SINGLE;
    use super::{AnswerQueue, Arc, Call, Done, Failure, FgDecision, FgRedisAnswer, FgStatus, To};
    use crate::store::RedisLimiter;
    use std::collections::HashMap;
    use std::sync::mpsc::{self, Receiver, Sender};
    use std::sync::Mutex;

    /// The most answers one call of `done` gets: an event loop settling
    /// them all in one turn is then still short.
    const MAX_BATCH: usize = 256;

    /// The queue to each `done`'s notifier thread, by its address, with
    /// the process that started them: a child forked later has no such
    /// threads and starts its own.
    static NOTIFIERS: Mutex<Option<(u32, Queues)>> = Mutex::new(None);

    /// The queues to notifier threads, by the address of their `done`.
    type Queues = HashMap<usize, Sender<FgRedisAnswer>>;

    /// The queue to `done`'s notifier thread, started on its first call.
    fn notifier(done: Done) -> Result<Sender<FgRedisAnswer>, Failure> {
        let process = std::process::id();
        // A poisoned lock still holds a whole map: nothing panics while holding it.
        let mut notifiers = NOTIFIERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let queues = match notifiers.as_mut() {
            Some((owner, queues)) if *owner == process => queues,
            _ => &mut notifiers.insert((process, HashMap::new())).1,
        };
        if let Some(queue) = queues.get(&(done as usize)) {
            return Ok(queue.clone());
        }
        let (queue, answers) = mpsc::channel();
        std::thread::Builder::new()
            .name("floodgate-notify".to_string())
            .spawn(move || notify(done, &answers))
            .map_err(|error| {
                Failure::new(
                    FgStatus::StoreThread,
                    format!("the notifier thread could not be started: {error}"),
                )
            })?;
        queues.insert(done as usize, queue.clone());
        Ok(queue)
    }

    /// A notifier thread: waits for an answer, takes the others already
    /// queued with it, and hands them to `done` at once.
    fn notify(done: Done, answers: &Receiver<FgRedisAnswer>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Ok(first) = answers.recv() {
            batch.push(first);
            batch.extend(answers.try_iter().take(MAX_BATCH - 1));
            // SAFETY: `done` is these calls' callback, which their callers
            // vouched for; each answer is given once, and the batch lives
            // until `done` returns.
            unsafe { done(batch.as_ptr(), batch.len()) };
            batch.clear();
        }
    }

    /// A started call's promise to answer: sent with the decision, or, if
    /// the task is dropped first (a panic, a runtime shut down), with
    /// `FG_STATUS_PANIC`, so that no caller waits forever.
    struct Reply {
        to: Destination,
        completion: Option<FgRedisAnswer>,
    }

    /// A [`To`] made ready: a `done`'s notifier found or started.
    enum Destination {
        Notifier(Sender<FgRedisAnswer>),
        Queue(Arc<AnswerQueue>),
    }

    impl Reply {
        fn send(mut self, answer: Result<FgDecision, FgStatus>) {
            if let Some(completion) = self.completion.take() {
                self.deliver(FgRedisAnswer::new(completion.ticket, answer));
            }
        }

        fn deliver(&self, completion: FgRedisAnswer) {
            match &self.to {
                // The notifier lives as long as the process: nothing to report if not.
                Destination::Notifier(sender) => drop(sender.send(completion)),
                Destination::Queue(queue) => queue.push(completion),
            }
        }
    }

    impl Drop for Reply {
        fn drop(&mut self) {
            if let Some(completion) = self.completion.take() {
                self.deliver(completion);
            }
        }
    }

    /// The limiter a task decides on, which its caller keeps live until
    /// `done` has been called (the exports' contract).
    struct Shared(*const RedisLimiter);

    // SAFETY: RedisLimiter is Sync, and the pointer is only read through a
    // shared reference while the caller keeps the limiter live.
    unsafe impl Send for Shared {}

    impl Shared {
        /// The limiter.
        ///
        /// # Safety
        /// Only until its caller may free it: before `done` is called.
        unsafe fn limiter(&self) -> &RedisLimiter {
            // SAFETY: live, by this function's contract.
            unsafe { &*self.0 }
        }
    }

    /// Spawns `call` on `limiter`'s store; its completion goes to the notifier.
    pub(super) fn launch(
        limiter: &RedisLimiter,
        key: Vec<u8>,
        call: Call,
        ticket: u64,
        to: To,
    ) -> Result<(), Failure> {
        let reply = Reply {
            to: match to {
                To::Done(done) => Destination::Notifier(notifier(done)?),
                To::Queue(queue) => Destination::Queue(queue),
            },
            completion: Some(FgRedisAnswer::new(ticket, Err(FgStatus::Panic))),
        };
        let shared = Shared(limiter);
        limiter.store().spawn(async move {
            let answer = {
                // SAFETY: `done` is called only through `reply`, below,
                // after the reference ends with this block.
                let limiter = unsafe { shared.limiter() };
                match call {
                    Call::Check(cost) => limiter.check_async(&key, cost).await,
                    Call::Peek => limiter.peek_async(&key).await,
                    Call::Refund(amount) => limiter.refund_async(&key, amount).await,
                }
            };
            reply.send(
                answer
                    .map(|decision| FgDecision::new(&decision, FG_SCOPE_SINGLE))
                    .map_err(FgStatus::from),
            );
        });
        Ok(())
    }
}

/// What the exports act on without the `redis` feature: no limiter exists
/// (`fg_redis_store_open` refuses), so only argument errors are answered.
#[cfg(not(feature = "redis"))]
mod absent {
    use super::{Call, Failure, To};

    pub(super) enum RedisLimiter {}

    pub(super) fn launch(
        limiter: &RedisLimiter,
        _key: Vec<u8>,
        _call: Call,
        _ticket: u64,
        _to: To,
    ) -> Result<(), Failure> {
        match *limiter {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    /// `done` that must never be called: for calls refused before starting.
    unsafe extern "C" fn never(_answers: *const FgRedisAnswer, _count: usize) {
        std::process::abort();
    }

    #[test]
    fn a_null_limiter_or_key_is_refused_before_anything_starts() {
        // SAFETY: NULL handles and keys are what is tested; nothing is read.
        let statuses = unsafe {
            [
                fg_redis_limiter_check_async(ptr::null(), b"k".as_ptr(), 1, 1, 0, Some(never)),
                fg_redis_limiter_peek_async(ptr::null(), ptr::null(), 1, 0, Some(never)),
                fg_redis_limiter_refund_async(ptr::null(), b"k".as_ptr(), 1, 1, 0, None),
            ]
        };
        assert_eq!(statuses, [FgStatus::NullPointer; 3]);
    }

    #[cfg(feature = "redis")]
    mod redis {
        use super::super::super::store::tests::{config, open, quota, whole_counters as counters};
        use super::super::super::store::{
            fg_redis_limiter_free, fg_redis_limiter_new, fg_redis_store_free, redis_common,
            FgRedisStore,
        };
        use super::super::super::store_answers::*;
        use super::super::*;
        use super::never;
        use std::collections::HashMap;
        use std::ops::Range;
        use std::ptr;
        use std::sync::{Condvar, Mutex, MutexGuard};
        use std::time::{Duration, Instant};

        /// What `done` was called with, and on which thread.
        #[derive(Debug, Clone)]
        struct Answer {
            status: FgStatus,
            decision: Option<FgDecision>,
            thread: Option<String>,
            by: &'static str,
            calls: u32,
        }

        /// Every answer `record` got, by ticket (each test its own tickets).
        static ANSWERS: Mutex<Option<HashMap<u64, Answer>>> = Mutex::new(None);
        static ARRIVED: Condvar = Condvar::new();

        fn answers_lock() -> MutexGuard<'static, Option<HashMap<u64, Answer>>> {
            ANSWERS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        unsafe extern "C" fn record(answers: *const FgRedisAnswer, count: usize) {
            // SAFETY: `done`'s contract is `keep`'s.
            unsafe { keep(answers, count, "record") }
        }

        /// A second `done`, to tell whose answers went where.
        unsafe extern "C" fn record_odd(answers: *const FgRedisAnswer, count: usize) {
            // SAFETY: as above.
            unsafe { keep(answers, count, "record_odd") }
        }

        /// Records answers `by` a `done` was given.
        ///
        /// # Safety
        /// `count` answers readable at `answers`.
        unsafe fn keep(answers: *const FgRedisAnswer, count: usize, by: &'static str) {
            // SAFETY: `count` answers readable, by the contract.
            let given = unsafe { std::slice::from_raw_parts(answers, count) };
            let thread = std::thread::current().name().map(str::to_string);
            let mut answers = answers_lock();
            for given in given {
                let answer = answers
                    .get_or_insert_with(HashMap::new)
                    .entry(given.ticket)
                    .or_insert(Answer {
                        status: given.status,
                        decision: (given.status == FgStatus::Ok).then_some(given.decision),
                        thread: thread.clone(),
                        by,
                        calls: 0,
                    });
                answer.calls += 1;
            }
            ARRIVED.notify_all();
        }

        /// The answers to `tickets`, once all arrived: bounded, so a lost
        /// completion fails the test instead of hanging it.
        fn wait_for(tickets: Range<u64>) -> Vec<Answer> {
            let give_up = Instant::now() + Duration::from_secs(120);
            let mut answers = answers_lock();
            loop {
                let arrived = answers.get_or_insert_with(HashMap::new);
                if tickets.clone().all(|ticket| arrived.contains_key(&ticket)) {
                    return tickets.map(|ticket| arrived[&ticket].clone()).collect();
                }
                let left = give_up
                    .checked_duration_since(Instant::now())
                    .expect("every started call is answered");
                answers = ARRIVED
                    .wait_timeout(answers, left)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
        }

        /// A store on `url` and a limiter of `count` per minute on it,
        /// closed on failure, with a deadline a loaded machine keeps.
        fn limiter(url: &str, count: u64) -> (*mut FgRedisStore, *mut FgRedisLimiter) {
            let (status, store) = open(url);
            assert_eq!(status, FgStatus::Ok);
            let prefix = redis_common::fresh_prefix();
            let mut limiter = ptr::null_mut();
            // SAFETY: live store, readable structs (the prefix is copied), writable out.
            let status = unsafe {
                fg_redis_limiter_new(
                    store,
                    &quota(count),
                    &config(prefix.as_bytes()),
                    &mut limiter,
                )
            };
            assert_eq!(status, FgStatus::Ok);
            (store, limiter)
        }

        /// Frees a limiter and its store once no call on them is running.
        fn free((store, limiter): (*mut FgRedisStore, *mut FgRedisLimiter)) {
            // SAFETY: live handles whose calls have all been answered, not used again.
            unsafe {
                fg_redis_limiter_free(limiter);
                fg_redis_store_free(store);
            }
        }

        #[test]
        fn bad_arguments_are_statuses_and_start_nothing() {
            // Nothing listens on port 1: a call that started would fail closed.
            let handles = limiter("redis://127.0.0.1:1/", 3);
            let limiter = handles.1;
            let long = vec![b'k'; crate::MAX_KEY_LEN + 1];
            // SAFETY: a live handle; keys NULL or readable for their lengths.
            let statuses = unsafe {
                [
                    fg_redis_limiter_check_async(limiter, ptr::null(), 1, 1, 0, Some(never)),
                    fg_redis_limiter_check_async(limiter, b"k".as_ptr(), 0, 1, 0, Some(never)),
                    fg_redis_limiter_peek_async(limiter, long.as_ptr(), long.len(), 0, Some(never)),
                    fg_redis_limiter_refund_async(limiter, b"k".as_ptr(), 1, 1, 0, None),
                ]
            };
            assert_eq!(
                statuses,
                [
                    FgStatus::NullPointer,
                    FgStatus::EmptyKey,
                    FgStatus::KeyTooLong,
                    FgStatus::NullPointer
                ]
            );
            // One call that starts: it is the only one the limiter counts.
            // SAFETY: live handle, readable key.
            let status = unsafe {
                fg_redis_limiter_check_async(limiter, b"k".as_ptr(), 1, 1, 1_000, Some(record))
            };
            assert_eq!(status, FgStatus::Ok);
            let answer = &wait_for(1_000..1_001)[0];
            assert_eq!(answer.status, FgStatus::Ok);
            assert!(!answer.decision.expect("a decision with OK").admitted);
            let counters = counters(limiter);
            assert_eq!(
                (counters.failed_closed, counters.exact, counters.cached),
                (1, 0, 0)
            );
            free(handles);
        }

        #[test]
        fn concurrent_calls_are_decided_in_redis_and_answered_off_its_thread() {
            let server = redis_common::RedisServer::shared();
            let handles = limiter(&server.url(), 20);
            let limiter = handles.1;
            let tickets = 2_000..2_064;
            for ticket in tickets.clone() {
                // SAFETY: live handle (freed only after every answer), readable key.
                let status = unsafe {
                    fg_redis_limiter_check_async(limiter, b"k".as_ptr(), 1, 1, ticket, Some(record))
                };
                assert_eq!(status, FgStatus::Ok);
            }
            let answers = wait_for(tickets);
            assert!(answers.iter().all(|answer| answer.status == FgStatus::Ok
                && answer.calls == 1
                && answer.thread.as_deref() == Some("floodgate-notify")));
            let admitted = answers
                .iter()
                .filter(|answer| answer.decision.is_some_and(|decision| decision.admitted))
                .count();
            assert_eq!(admitted, 20);

            // SAFETY: as above.
            let statuses = unsafe {
                [
                    fg_redis_limiter_peek_async(limiter, b"k".as_ptr(), 1, 2_100, Some(record)),
                    fg_redis_limiter_refund_async(
                        limiter,
                        b"j".as_ptr(),
                        1,
                        1,
                        2_101,
                        Some(record),
                    ),
                ]
            };
            assert_eq!(statuses, [FgStatus::Ok; 2]);
            let remaining: Vec<_> = wait_for(2_100..2_102)
                .iter()
                .map(|answer| answer.decision.map(|decision| decision.remaining))
                .collect();
            assert_eq!(remaining, [Some(0), Some(20)]);

            // Calls with different callbacks: each answer goes to its own.
            let tickets = 2_200..2_240;
            for ticket in tickets.clone() {
                let done = if ticket % 2 == 0 { record } else { record_odd };
                // SAFETY: as above.
                let status = unsafe {
                    fg_redis_limiter_peek_async(limiter, b"k".as_ptr(), 1, ticket, Some(done))
                };
                assert_eq!(status, FgStatus::Ok);
            }
            let by: Vec<_> = wait_for(tickets.clone())
                .iter()
                .map(|answer| (answer.by, answer.calls))
                .collect();
            let expected: Vec<_> = tickets
                .map(|ticket| {
                    (
                        if ticket % 2 == 0 {
                            "record"
                        } else {
                            "record_odd"
                        },
                        1,
                    )
                })
                .collect();
            assert_eq!(by, expected);
            free(handles);
        }

        /// Room for an answer, before one is taken into it.
        fn blank() -> FgRedisAnswer {
            FgRedisAnswer {
                ticket: u64::MAX,
                status: FgStatus::Panic,
                decision: super::super::NO_DECISION,
            }
        }

        /// An answer queue and the caller's end of its socket.
        fn answer_queue() -> (*mut FgRedisAnswers, std::os::fd::OwnedFd) {
            use std::os::fd::FromRawFd;
            let (mut fd, mut answers) = (-1, ptr::null_mut());
            // SAFETY: writable outs.
            let status = unsafe { fg_redis_answers_new(&mut fd, &mut answers) };
            assert_eq!(status, FgStatus::Ok);
            // SAFETY: the caller owns the descriptor fg_redis_answers_new gave.
            (answers, unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
        }

        /// Waits (bounded) until `socket` is readable, reads its bytes,
        /// and takes every answer waiting, `room` at a time.
        fn next_answers(
            answers: *const FgRedisAnswers,
            socket: &std::os::fd::OwnedFd,
            room: usize,
        ) -> Vec<FgRedisAnswer> {
            use std::os::fd::AsRawFd;
            let mut poll = libc::pollfd {
                fd: socket.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one live pollfd; 120 s bounds a lost answer.
            let ready = unsafe { libc::poll(&mut poll, 1, 120_000) };
            assert_eq!(ready, 1, "no answer came");
            let mut bytes = [0u8; 64];
            // SAFETY: reads at most 64 bytes into `bytes`; the socket is readable.
            let read = unsafe { libc::read(socket.as_raw_fd(), bytes.as_mut_ptr().cast(), 64) };
            assert!(read >= 1);
            let mut taken = Vec::new();
            loop {
                let mut batch = vec![blank(); room];
                let mut count = 0;
                // SAFETY: live handle; `batch` writable for `room` answers.
                let status =
                    unsafe { fg_redis_answers_take(answers, batch.as_mut_ptr(), room, &mut count) };
                assert_eq!(status, FgStatus::Ok);
                taken.extend_from_slice(&batch[..count]);
                if count < room {
                    return taken;
                }
            }
        }

        #[test]
        fn queued_calls_answer_into_the_queue_and_its_socket_tells_of_them() {
            let server = redis_common::RedisServer::shared();
            let handles = limiter(&server.url(), 20);
            let limiter = handles.1;
            let (answers, socket) = answer_queue();
            let tickets = 3_000..3_064;
            for ticket in tickets.clone() {
                // SAFETY: live handles (freed only after every answer), readable key.
                let status = unsafe {
                    fg_redis_limiter_check_queued(limiter, b"k".as_ptr(), 1, 1, ticket, answers)
                };
                assert_eq!(status, FgStatus::Ok);
            }
            let mut taken = Vec::new();
            while taken.len() < 64 {
                // A room of 5: takes until fewer than it had room for.
                taken.extend(next_answers(answers, &socket, 5));
            }
            let mut tickets_taken: Vec<u64> = taken.iter().map(|answer| answer.ticket).collect();
            tickets_taken.sort_unstable();
            assert_eq!(tickets_taken, tickets.collect::<Vec<_>>());
            assert!(taken.iter().all(|answer| answer.status == FgStatus::Ok));
            assert_eq!(
                taken
                    .iter()
                    .filter(|answer| answer.decision.admitted)
                    .count(),
                20
            );

            // SAFETY: as above.
            let statuses = unsafe {
                [
                    fg_redis_limiter_peek_queued(limiter, b"k".as_ptr(), 1, 3_100, answers),
                    fg_redis_limiter_refund_queued(limiter, b"j".as_ptr(), 1, 1, 3_101, answers),
                ]
            };
            assert_eq!(statuses, [FgStatus::Ok; 2]);
            let mut taken = Vec::new();
            while taken.len() < 2 {
                taken.extend(next_answers(answers, &socket, 8));
            }
            taken.sort_by_key(|answer| answer.ticket);
            let remaining: Vec<_> = taken
                .iter()
                .map(|answer| answer.decision.remaining)
                .collect();
            assert_eq!(remaining, [0, 20]);
            // Nothing waits now: a take finds none.
            let mut count = 1;
            let mut room = [blank()];
            // SAFETY: live handle, writable room for one.
            let status =
                unsafe { fg_redis_answers_take(answers, room.as_mut_ptr(), 1, &mut count) };
            assert_eq!((status, count), (FgStatus::Ok, 0));
            // SAFETY: every call was answered; not used again.
            unsafe { fg_redis_answers_free(answers) };
            free(handles);
        }

        #[test]
        fn a_queue_freed_with_calls_in_flight_drops_their_answers() {
            let server = redis_common::RedisServer::shared();
            let handles = limiter(&server.url(), 20);
            let (answers, socket) = answer_queue();
            for ticket in 0..16 {
                // SAFETY: live handles, readable key.
                let status = unsafe {
                    fg_redis_limiter_check_queued(handles.1, b"k".as_ptr(), 1, 1, ticket, answers)
                };
                assert_eq!(status, FgStatus::Ok);
            }
            // The caller's end closed first, then the queue: the answers
            // still coming are dropped, and no SIGPIPE ends the process.
            drop(socket);
            // SAFETY: a live handle, not used again.
            unsafe { fg_redis_answers_free(answers) };
            let give_up = Instant::now() + Duration::from_secs(120);
            while counters(handles.1).exact < 16 {
                assert!(Instant::now() < give_up, "the calls never ended");
                std::thread::sleep(Duration::from_millis(5));
            }
            free(handles);
        }

        #[test]
        fn queued_calls_with_bad_arguments_start_nothing() {
            let handles = limiter("redis://127.0.0.1:1/", 3);
            let (answers, _socket) = answer_queue();
            // SAFETY: a live limiter; NULL or readable keys; NULL or live queues.
            let statuses = unsafe {
                [
                    fg_redis_limiter_check_queued(handles.1, b"k".as_ptr(), 1, 1, 0, ptr::null()),
                    fg_redis_limiter_check_queued(handles.1, b"k".as_ptr(), 0, 1, 0, answers),
                    fg_redis_limiter_peek_queued(ptr::null(), b"k".as_ptr(), 1, 0, answers),
                    fg_redis_answers_take(answers, ptr::null_mut(), 1, &mut 0),
                    fg_redis_answers_new(ptr::null_mut(), &mut ptr::null_mut()),
                ]
            };
            assert_eq!(
                statuses,
                [
                    FgStatus::NullPointer,
                    FgStatus::EmptyKey,
                    FgStatus::NullPointer,
                    FgStatus::NullPointer,
                    FgStatus::NullPointer
                ]
            );
            assert_eq!(counters(handles.1).failed_closed, 0);
            // SAFETY: nothing started on it; not used again.
            unsafe { fg_redis_answers_free(answers) };
            free(handles);
        }
    }
}
