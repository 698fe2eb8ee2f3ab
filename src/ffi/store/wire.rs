//! `fg_redis_wire`: a connection to a store's server whose socket the
//! caller's event loop owns, for `fg_redis_limiter_{check,peek,refund}_wire`.
//!
//! The `_queued` calls run on the store's runtime thread: the loop hands a
//! call over and is handed the answer back, two thread hand-offs that cost
//! more than a round trip to a local server. With a wire the loop connects
//! a socket of its own to [`fg_redis_wire_endpoint`], writes what
//! [`fg_redis_wire_write`] gives it and passes what it reads to
//! [`fg_redis_wire_read`]; the library encodes every call, matches every
//! reply to its call and decides (deny cache, breaker, failure policy,
//! `NOSCRIPT`), all on the caller's thread, with no thread of its own in
//! the path (see the Rust `store::wire`).

use super::super::args::{self, Out};
use super::super::handle::{boxed, create, free, unbox};
use super::super::status::{guard, Failure, FgStatus};
use super::super::store_answers::hand_over;
use super::super::store_async::FgRedisAnswer;
use super::{FgRedisLimiter, FgRedisStore, RedisLimiter, RedisStore};
use crate::keyed::check_key_len;
use std::ffi::c_char;
use std::sync::{Mutex, MutexGuard, PoisonError};

#[cfg(not(feature = "redis"))]
use super::absent::{endpoint_of, start_on, LimiterWire};
#[cfg(feature = "redis")]
use present::{endpoint_of, start_on, LimiterWire};

/// `out_flags` bit: answers wait for `fg_redis_wire_take`.
pub const FG_WIRE_ANSWERS: u32 = 1;
/// `out_flags` bit: bytes wait for `fg_redis_wire_write`.
pub const FG_WIRE_OUTPUT: u32 = 2;
/// `out_flags` bit: the connection is of no more use (a call's deadline
/// passed with its reply unread, a reply was not RESP2 or came for no
/// call): close the socket, connect another, then `fg_redis_wire_open`.
/// Every call that waited on it was answered by its failure policy.
pub const FG_WIRE_BROKEN: u32 = 4;

/// A connection to a standalone Redis server that the caller drives: its
/// socket is the caller's, the protocol the library's. Create with
/// `fg_redis_wire_new`, release with `fg_redis_wire_free`. Calls on one
/// wire are serialised (it is meant for one event loop's thread).
pub struct FgRedisWire {
    wire: Mutex<LimiterWire>,
}

impl FgRedisWire {
    fn lock(&self) -> MutexGuard<'_, LimiterWire> {
        // A call that panicked left the wire whole: each method completes
        // its change before anything that can panic.
        self.wire.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What `wire` asks of its caller: `FG_WIRE_*` bits.
fn flags_of(wire: &LimiterWire) -> u32 {
    let mut flags = 0;
    if wire.has_answers() {
        flags |= FG_WIRE_ANSWERS;
    }
    if wire.has_output() {
        flags |= FG_WIRE_OUTPUT;
    }
    if wire.is_broken() {
        flags |= FG_WIRE_BROKEN;
    }
    flags
}

/// Runs `act` on the wire behind `wire` and stores its flags after in
/// `*out_flags`.
///
/// # Safety
/// `wire` NULL or a live handle; `out_flags` NULL or writable.
unsafe fn with_flags(
    function: &'static str,
    wire: *const FgRedisWire,
    out_flags: *mut u32,
    act: impl FnOnce(&mut LimiterWire) -> Result<(), Failure>,
) -> FgStatus {
    guard(function, || {
        // SAFETY: a live handle is a boxed FgRedisWire (fg_redis_wire_new).
        let wire = unsafe { args::handle(wire, "wire") }?;
        let out_flags = Out::new(out_flags, "out_flags")?;
        let mut wire = wire.lock();
        act(&mut wire)?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_flags.write(flags_of(&wire)) };
        Ok(())
    })
}

/// Makes a wire to `store`'s server, not yet open: connect a socket to
/// `fg_redis_wire_endpoint`, then call `fg_redis_wire_open`.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_ARGUMENT` (the store is a cluster's, or its URL asks
/// for TLS or RESP3: only its own connections speak those),
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `store` NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_wire_new(
    store: *const FgRedisStore,
    out: *mut *mut FgRedisWire,
) -> FgStatus {
    let make = || {
        // SAFETY: a live handle is a boxed RedisStore (fg_redis_store_open).
        let store = unsafe { args::handle(store.cast::<RedisStore>(), "store") }?;
        let wire = LimiterWire::new(store).ok_or_else(|| {
            Failure::new(
                FgStatus::InvalidArgument,
                "a wire needs a standalone server reached by TCP or a Unix socket, speaking RESP2"
                    .to_string(),
            )
        })?;
        Ok(boxed(FgRedisWire {
            wire: Mutex::new(wire),
        }))
    };
    // SAFETY: `out` is NULL or writable, by the contract.
    unsafe { create("fg_redis_wire_new", out, make) }
}

/// Where the wire's socket connects: a TCP host (NUL-terminated in
/// `buffer`) and `*out_port`, or a Unix socket's path in `buffer` and a
/// port of 0. `*out_len` gets the text's length; when it does not fit,
/// `FG_STATUS_BUFFER_TOO_SMALL` and the length needed.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_BUFFER_TOO_SMALL`, `FG_STATUS_INVALID_UTF8` (a path that is
/// not UTF-8), `FG_STATUS_PANIC`.
///
/// # Safety
/// `wire` NULL or a live handle; `buffer` NULL (with `capacity` 0) or
/// writable for `capacity` bytes; `out_len` and `out_port` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_wire_endpoint(
    wire: *const FgRedisWire,
    buffer: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
    out_port: *mut u16,
) -> FgStatus {
    guard("fg_redis_wire_endpoint", || {
        // SAFETY: a live handle is a boxed FgRedisWire (fg_redis_wire_new).
        let wire = unsafe { args::handle(wire, "wire") }?;
        let out_port = Out::new(out_port, "out_port")?;
        let (place, port) = endpoint_of(&wire.lock())?;
        // SAFETY: `buffer` and `out_len` as the contract says.
        unsafe { args::write_text(&place, buffer.cast(), capacity, out_len) }?;
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_port.write(port) };
        Ok(())
    })
}

/// Tells the wire that its socket is connected (again): the handshake the
/// store's URL asks for (`AUTH`, `SELECT`) waits to be written, and calls
/// that waited on an earlier socket are answered by their failure policy.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `wire` NULL or a live handle; `out_flags` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_wire_open(
    wire: *mut FgRedisWire,
    out_flags: *mut u32,
) -> FgStatus {
    let open = |wire: &mut LimiterWire| {
        wire.open();
        Ok(())
    };
    // SAFETY: this function's contract is `with_flags`'.
    unsafe { with_flags("fg_redis_wire_open", wire, out_flags, open) }
}

/// Tells the wire that its socket is closed: every call waiting on it is
/// answered by its failure policy, and calls made until the next
/// `fg_redis_wire_open` are too.
///
/// Errors: as `fg_redis_wire_open`.
///
/// # Safety
/// As `fg_redis_wire_open`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_wire_close(
    wire: *mut FgRedisWire,
    out_flags: *mut u32,
) -> FgStatus {
    let close = |wire: &mut LimiterWire| {
        wire.close();
        Ok(())
    };
    // SAFETY: this function's contract is `with_flags`'.
    unsafe { with_flags("fg_redis_wire_close", wire, out_flags, close) }
}

/// Moves up to `capacity` bytes to send into `room`, and their count to
/// `*out_len`; call again while it fills the room.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `wire` NULL or a live handle; `room` NULL (with `capacity` 0) or
/// writable for `capacity` bytes; `out_len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_wire_write(
    wire: *mut FgRedisWire,
    room: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> FgStatus {
    guard("fg_redis_wire_write", || {
        // SAFETY: a live handle is a boxed FgRedisWire (fg_redis_wire_new).
        let wire = unsafe { args::handle(wire, "wire") }?;
        let out_len = Out::new(out_len, "out_len")?;
        // SAFETY: writable for `capacity` bytes, by the contract.
        let room = unsafe { args::bytes_mut(room, capacity, "room") }?;
        let written = wire.lock().write(room);
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_len.write(written) };
        Ok(())
    })
}

/// Passes the wire `len` bytes read from its socket: each whole reply
/// answers its call (take the answers with `fg_redis_wire_take`).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `wire` NULL or a live handle; `bytes` NULL (with `len` 0) or readable
/// for `len` bytes; `out_flags` NULL or writable. The limiters of the calls
/// waiting live (see `fg_redis_limiter_check_wire`).
#[no_mangle]
pub unsafe extern "C" fn fg_redis_wire_read(
    wire: *mut FgRedisWire,
    bytes: *const u8,
    len: usize,
    out_flags: *mut u32,
) -> FgStatus {
    let read = |wire: &mut LimiterWire| {
        // SAFETY: readable for `len` bytes, by the contract.
        let bytes = unsafe { args::bytes(bytes, len, "bytes") }?;
        wire.read(bytes);
        Ok(())
    };
    // SAFETY: this function's contract is `with_flags`'.
    unsafe { with_flags("fg_redis_wire_read", wire, out_flags, read) }
}

/// Answers the calls whose deadline has passed, which breaks the wire
/// (`FG_WIRE_BROKEN`: every later reply was behind theirs); otherwise
/// stores in `*out_next_ns` the nanoseconds until the next call's deadline
/// (`UINT64_MAX` when none waits), when to call again.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `wire` NULL or a live handle; `out_next_ns` and `out_flags` NULL or
/// writable. The limiters of the calls waiting live.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_wire_expire(
    wire: *mut FgRedisWire,
    out_next_ns: *mut u64,
    out_flags: *mut u32,
) -> FgStatus {
    let expire = |wire: &mut LimiterWire| {
        let out_next_ns = Out::new(out_next_ns, "out_next_ns")?;
        let next = wire.expire().map_or(u64::MAX, |left| {
            u64::try_from(left.as_nanos()).unwrap_or(u64::MAX)
        });
        // SAFETY: checked non-NULL and aligned; writable by the contract.
        unsafe { out_next_ns.write(next) };
        Ok(())
    };
    // SAFETY: this function's contract is `with_flags`'.
    unsafe { with_flags("fg_redis_wire_expire", wire, out_flags, expire) }
}

/// Moves up to `capacity` answers, oldest first, to `out`, and their
/// number to `*out_count`: each call's once, with its ticket.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `wire` NULL or a live handle; `out` NULL or writable for `capacity`
/// answers; `out_count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_wire_take(
    wire: *mut FgRedisWire,
    out: *mut FgRedisAnswer,
    capacity: usize,
    out_count: *mut usize,
) -> FgStatus {
    guard("fg_redis_wire_take", || {
        // SAFETY: a live handle is a boxed FgRedisWire (fg_redis_wire_new).
        let wire = unsafe { args::handle(wire, "wire") }?;
        let mut wire = wire.lock();
        // SAFETY: `out` and `out_count` as the contract says.
        unsafe { hand_over(out, capacity, out_count, |room| wire.take(room)) }
    })
}

/// Frees a wire; NULL is a no-op. Calls still waiting get no answer.
///
/// # Safety
/// `wire` NULL or a live handle, not used again.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_wire_free(wire: *mut FgRedisWire) {
    // SAFETY: by this function's contract.
    unsafe { free("fg_redis_wire_free", wire, unbox) };
}

/// What a call on a wire asks of its limiter.
#[derive(Clone, Copy)]
// Read only where a limiter can exist: with `redis`.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(super) enum Asked {
    Check(u64),
    Peek,
    Refund(u64),
}

/// The body of the `_wire` exports: every argument checked before
/// anything is sent.
///
/// # Safety
/// As `fg_redis_limiter_check_wire`.
unsafe fn begin(
    function: &'static str,
    limiter: *const FgRedisLimiter,
    wire: *mut FgRedisWire,
    (key, key_len): (*const u8, usize),
    asked: Asked,
    ticket: u64,
    out_flags: *mut u32,
) -> FgStatus {
    let start = |wire: &mut LimiterWire| {
        // SAFETY: a live handle is a boxed RedisLimiter (fg_redis_limiter_new).
        let limiter = unsafe { args::handle(limiter.cast::<RedisLimiter>(), "limiter") }?;
        // SAFETY: readable for key_len bytes, by the contract.
        let key = unsafe { args::bytes(key, key_len, "key") }?;
        check_key_len(key)?;
        start_on(limiter, wire, key, asked, ticket)
    };
    // SAFETY: this function's contract is `with_flags`'.
    unsafe { with_flags(function, wire, out_flags, start) }
}

/// Starts deciding a request of `cost` units for `key` (1 to
/// `FG_MAX_KEY_LEN` bytes) on `wire`, as `fg_redis_limiter_check` would
/// (deadline, deny cache, breaker and `on_failure` alike), and returns
/// without waiting: the answer, with `ticket`, comes from
/// `fg_redis_wire_take` once `fg_redis_wire_read` got its reply (or at
/// once, with no call sent, for a cached denial or an open breaker; or
/// when the wire breaks or closes). `*out_flags` says what the wire asks
/// next (`FG_WIRE_OUTPUT`: write the call). On a wire not open the call is
/// answered by the failure policy. A call that returns an error started
/// nothing. The key is copied.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_LENGTH`, `FG_STATUS_EMPTY_KEY`,
/// `FG_STATUS_KEY_TOO_LONG`, `FG_STATUS_INVALID_ARGUMENT` (the limiter's
/// store is not the wire's), `FG_STATUS_PANIC`.
///
/// # Safety
/// `limiter` NULL or a live handle, live until this call is answered (its
/// answer waits for `fg_redis_wire_take`) or the wire is freed; `wire` NULL
/// or a live handle; `key` NULL or readable for `key_len` bytes (only
/// during the call); `out_flags` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_check_wire(
    limiter: *const FgRedisLimiter,
    wire: *mut FgRedisWire,
    key: *const u8,
    key_len: usize,
    cost: u64,
    ticket: u64,
    out_flags: *mut u32,
) -> FgStatus {
    // SAFETY: this function's contract is `begin`'s.
    unsafe {
        begin(
            "fg_redis_limiter_check_wire",
            limiter,
            wire,
            (key, key_len),
            Asked::Check(cost),
            ticket,
            out_flags,
        )
    }
}

/// `fg_redis_limiter_peek` on `wire`, as `fg_redis_limiter_check_wire`.
///
/// Errors: as `fg_redis_limiter_check_wire`.
///
/// # Safety
/// As `fg_redis_limiter_check_wire`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_peek_wire(
    limiter: *const FgRedisLimiter,
    wire: *mut FgRedisWire,
    key: *const u8,
    key_len: usize,
    ticket: u64,
    out_flags: *mut u32,
) -> FgStatus {
    // SAFETY: this function's contract is `begin`'s.
    unsafe {
        begin(
            "fg_redis_limiter_peek_wire",
            limiter,
            wire,
            (key, key_len),
            Asked::Peek,
            ticket,
            out_flags,
        )
    }
}

/// `fg_redis_limiter_refund` on `wire`, as `fg_redis_limiter_check_wire`.
///
/// Errors: as `fg_redis_limiter_check_wire`.
///
/// # Safety
/// As `fg_redis_limiter_check_wire`.
#[no_mangle]
pub unsafe extern "C" fn fg_redis_limiter_refund_wire(
    limiter: *const FgRedisLimiter,
    wire: *mut FgRedisWire,
    key: *const u8,
    key_len: usize,
    amount: u64,
    ticket: u64,
    out_flags: *mut u32,
) -> FgStatus {
    // SAFETY: this function's contract is `begin`'s.
    unsafe {
        begin(
            "fg_redis_limiter_refund_wire",
            limiter,
            wire,
            (key, key_len),
            Asked::Refund(amount),
            ticket,
            out_flags,
        )
    }
}

/// The wire and its calls, with `redis`.
#[cfg(feature = "redis")]
mod present {
    use super::super::super::decision::{FgDecision, FG_SCOPE_SINGLE};
    use super::super::super::status::{Failure, FgStatus};
    use super::super::super::store_async::FgRedisAnswer;
    use super::Asked;
    use crate::store::wire::{self, Endpoint, Waiter};
    use crate::store::{Op, RedisLimiter, Sent, Started};

    /// The wire as the exports see it: its calls are limiters' calls.
    pub(in crate::ffi) type LimiterWire = wire::Wire<LimiterCall>;

    /// A limiter's call waiting on a wire.
    pub(in crate::ffi) struct LimiterCall {
        /// Live until the call is answered (the exports' contract); not
        /// read when the call is dropped unanswered.
        limiter: *const RedisLimiter,
        key: Vec<u8>,
        op: Op,
        ticket: u64,
        sent: Sent,
    }

    impl Waiter for LimiterCall {
        type Answer = FgRedisAnswer;

        fn answer(self, reply: Result<redis::Value, crate::store::Failure>) -> FgRedisAnswer {
            // SAFETY: the limiter is live until its call is answered, which
            // this is (the exports' contract).
            let limiter = unsafe { &*self.limiter };
            let decided = limiter.finish(&self.key, self.op, self.sent, reply);
            FgRedisAnswer::new(
                self.ticket,
                decided
                    .map(|decision| FgDecision::new(&decision, FG_SCOPE_SINGLE))
                    .map_err(FgStatus::from),
            )
        }
    }

    /// Where `wire`'s socket connects, as text and a port (0 for a Unix
    /// socket's path).
    pub(super) fn endpoint_of(wire: &LimiterWire) -> Result<(String, u16), Failure> {
        match wire.endpoint() {
            Endpoint::Tcp(host, port) => Ok((host.clone(), *port)),
            Endpoint::Unix(path) => {
                path.to_str()
                    .map(|path| (path.to_string(), 0))
                    .ok_or_else(|| {
                        Failure::new(
                            FgStatus::InvalidUtf8,
                            "the store's Unix socket path is not UTF-8".to_string(),
                        )
                    })
            }
        }
    }

    /// Starts `asked` of `limiter` for `key` on `wire`.
    pub(super) fn start_on(
        limiter: &RedisLimiter,
        wire: &mut LimiterWire,
        key: &[u8],
        asked: Asked,
        ticket: u64,
    ) -> Result<(), Failure> {
        if !wire.serves(limiter.store()) {
            return Err(Failure::new(
                FgStatus::InvalidArgument,
                "the limiter's store is not the wire's".to_string(),
            ));
        }
        let op = match asked {
            Asked::Check(cost) => Op::Check(cost),
            Asked::Peek => Op::Check(0),
            Asked::Refund(amount) => Op::Refund(amount),
        };
        match limiter.start(key, op)? {
            Started::Answered(decision) => wire.answered(FgRedisAnswer::new(
                ticket,
                Ok(FgDecision::new(&decision, FG_SCOPE_SINGLE)),
            )),
            Started::Sent {
                call,
                deadline,
                sent,
            } => wire.send(
                call,
                deadline,
                LimiterCall {
                    limiter,
                    key: key.to_vec(),
                    op,
                    ticket,
                    sent,
                },
            ),
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "redis"))]
#[path = "wire_tests.rs"]
mod tests;
