//! `fg_redis_answers`: where the `_queued` Redis calls leave their answers,
//! with a socket that becomes readable when answers wait, for an event loop
//! to watch among its other sockets (Node wraps it in a `net.Socket`).
//!
//! The `_async` calls hand their answers to a notifier thread that calls
//! the caller's `done`; a callback into an event loop from another thread
//! then waits for the loop to run it (koffi's does). Here nothing calls
//! back: the store's runtime pushes the answer and, when the queue was
//! empty, writes one byte to its end of a socket pair. The loop wakes on
//! the caller's end like on any socket, and takes every answer queued.
//! One thread hand-off fewer, and no thread waits on the loop.
//!
//! Whoever takes answers reads the bytes (the loop's socket does) before
//! taking: a push that finds the queue empty writes a new byte, so answers
//! never wait without a readable byte after them.

use super::handle::{boxed, create, free, unbox};
use super::status::{guard, Failure, FgStatus};
use super::store::FgRedisLimiter;
use super::store_async::{begin, AnswerTo, Call, FgRedisAnswer};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

/// A queue of answers to `_queued` calls and the socket that tells of them.
pub struct FgRedisAnswers {
    queue: Arc<AnswerQueue>,
}

/// The queue a started call keeps until it answers (the handle may be
/// freed first: the answer is then dropped).
// Pushed to only where a limiter can exist: with `redis`.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct AnswerQueue {
    answers: Mutex<Vec<FgRedisAnswer>>,
    /// The library's end of the socket pair: written, never read.
    signal: OwnedFd,
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
impl AnswerQueue {
    /// Queues `answer`, and writes a byte if the queue was empty.
    pub(crate) fn push(&self, answer: FgRedisAnswer) {
        let was_empty = {
            // A poisoned lock still holds a whole Vec: nothing panics while holding it.
            let mut answers = self
                .answers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            answers.push(answer);
            answers.len() == 1
        };
        if was_empty {
            // SAFETY: `signal` is an open socket this queue owns; one byte
            // is read from a live buffer. MSG_DONTWAIT: a full buffer
            // (EAGAIN) already holds unread bytes; MSG_NOSIGNAL: a caller's
            // end closed (EPIPE) raises no SIGPIPE. Either way the answer
            // waits in the queue for a take.
            unsafe {
                libc::send(
                    self.signal.as_raw_fd(),
                    b"!".as_ptr().cast(),
                    1,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
        }
    }

    /// Removes up to `capacity` answers, oldest first.
    fn take(&self, capacity: usize) -> Vec<FgRedisAnswer> {
        let mut answers = self
            .answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = answers.len().min(capacity);
        answers.drain(..count).collect()
    }
}

impl FgRedisAnswers {
    /// The queue a started call answers into.
    pub(crate) fn queue(&self) -> Arc<AnswerQueue> {
        Arc::clone(&self.queue)
    }
}

/// A connected pair of stream sockets, both close-on-exec (the library's
/// end is written with MSG_DONTWAIT, never waiting).
fn socket_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut ends = [0; 2];
    // SAFETY: `ends` is writable for the two descriptors socketpair returns.
    let made = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            ends.as_mut_ptr(),
        )
    };
    if made != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: socketpair succeeded: both are open descriptors no one else owns.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
    Ok((ours, theirs))
}

/// Makes an answer queue for the `_queued` calls: `*out` gets its handle
/// and `*out_fd` the caller's end of a stream socket that receives a byte
/// when answers wait. The caller owns that descriptor (and closes it after
/// `fg_redis_answers_free`); it reads the bytes, then calls
/// `fg_redis_answers_take` until it takes fewer than it had room for.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STORE_THREAD` (the socket pair could not be made),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `out_fd` and `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_answers_new(
    out_fd: *mut libc::c_int,
    out: *mut *mut FgRedisAnswers,
) -> FgStatus {
    let make = || {
        let out_fd = super::args::Out::new(out_fd, "out_fd")?;
        let (signal, theirs) = socket_pair().map_err(|error| {
            Failure::new(
                FgStatus::StoreThread,
                format!("the answer socket could not be made: {error}"),
            )
        })?;
        let queue = Arc::new(AnswerQueue {
            answers: Mutex::new(Vec::new()),
            signal,
        });
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_fd.write(theirs.into_raw_fd()) };
        Ok(boxed(FgRedisAnswers { queue }))
    };
    // SAFETY: `out` is NULL or writable, by the contract.
    unsafe { create("fg_redis_answers_new", out, make) }
}

/// Moves up to `capacity` waiting answers, oldest first, to `out`, and
/// their number to `*out_count` (0 when none wait).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `answers` NULL or a live handle; `out` NULL or writable for `capacity`
/// answers; `out_count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_answers_take(
    answers: *const FgRedisAnswers,
    out: *mut FgRedisAnswer,
    capacity: usize,
    out_count: *mut usize,
) -> FgStatus {
    guard("fg_redis_answers_take", || {
        // SAFETY: a live handle is a boxed FgRedisAnswers (fg_redis_answers_new).
        let answers = unsafe { super::args::handle(answers, "answers") }?;
        // SAFETY: `out` and `out_count` as the contract says.
        unsafe { hand_over(out, capacity, out_count, |room| answers.queue.take(room)) }
    })
}

/// The body of every export that hands answers over (`fg_redis_answers_take`,
/// `fg_redis_wire_take`): checks `out` and `out_count`, then moves what
/// `take(capacity)` gives (at most `capacity` answers are written) into
/// `out` and their number into `*out_count`. Nothing is taken when an
/// argument is refused.
///
/// # Safety
/// `out` NULL or writable for `capacity` answers; `out_count` NULL or writable.
pub(crate) unsafe fn hand_over<I: IntoIterator<Item = FgRedisAnswer>>(
    out: *mut FgRedisAnswer,
    capacity: usize,
    out_count: *mut usize,
    take: impl FnOnce(usize) -> I,
) -> Result<(), Failure> {
    let out_count = super::args::Out::new(out_count, "out_count")?;
    let out = super::args::Out::new(out, "out")?;
    let mut taken = 0;
    for answer in take(capacity).into_iter().take(capacity) {
        // SAFETY: taken < capacity, and `out` is writable for `capacity`
        // answers (checked non-NULL and aligned above).
        unsafe { out.at(taken).write(answer) };
        taken += 1;
    }
    // SAFETY: checked non-NULL and aligned; writable by the contract.
    unsafe { out_count.write(taken) };
    Ok(())
}

/// Frees an answer queue; NULL is a no-op. Calls still running answer
/// into nothing. The caller's descriptor stays open until it closes it.
///
/// # Safety
/// `answers` NULL or a live handle, not used again.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_answers_free(answers: *mut FgRedisAnswers) {
    // SAFETY: by this function's contract.
    unsafe { free("fg_redis_answers_free", answers, unbox) };
}

/// `fg_redis_limiter_check_async` answered into `answers` instead of
/// through a `done`: the answer, with `ticket`, waits there for
/// `fg_redis_answers_take`.
///
/// Errors: as `fg_redis_limiter_check_async` (`answers` for `done`).
///
/// # Safety
/// `limiter` NULL or a live handle, live until this call's answer is
/// taken; `key` NULL or readable for `key_len` bytes (only during the
/// call); `answers` NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_check_queued(
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    cost: u64,
    ticket: u64,
    answers: *const FgRedisAnswers,
) -> FgStatus {
    // SAFETY: this function's contract is `begin`'s.
    unsafe {
        begin(
            "fg_redis_limiter_check_queued",
            limiter,
            key,
            key_len,
            Call::Check(cost),
            ticket,
            AnswerTo::Queue(answers),
        )
    }
}

/// `fg_redis_limiter_peek_async` answered into `answers`.
///
/// Errors: as `fg_redis_limiter_check_queued`.
///
/// # Safety
/// As `fg_redis_limiter_check_queued`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_peek_queued(
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    ticket: u64,
    answers: *const FgRedisAnswers,
) -> FgStatus {
    // SAFETY: this function's contract is `begin`'s.
    unsafe {
        begin(
            "fg_redis_limiter_peek_queued",
            limiter,
            key,
            key_len,
            Call::Peek,
            ticket,
            AnswerTo::Queue(answers),
        )
    }
}

/// `fg_redis_limiter_refund_async` answered into `answers`.
///
/// Errors: as `fg_redis_limiter_check_queued`.
///
/// # Safety
/// As `fg_redis_limiter_check_queued`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_refund_queued(
    limiter: *const FgRedisLimiter,
    key: *const u8,
    key_len: usize,
    amount: u64,
    ticket: u64,
    answers: *const FgRedisAnswers,
) -> FgStatus {
    // SAFETY: this function's contract is `begin`'s.
    unsafe {
        begin(
            "fg_redis_limiter_refund_queued",
            limiter,
            key,
            key_len,
            Call::Refund(amount),
            ticket,
            AnswerTo::Queue(answers),
        )
    }
}
