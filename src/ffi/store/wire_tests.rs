//! A wire driven as an event loop drives it, over a socket of the test's
//! own, against the tests' redis-server.

use super::super::tests::{config, open, quota, whole_counters as counters};
use super::super::{
    fg_redis_limiter_free, fg_redis_limiter_new, fg_redis_store_free, FgRedisConfig,
    FG_ON_FAILURE_CLOSED,
};
use super::*;
use crate::ffi::quota::FgQuota;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::ptr;
use std::time::Duration;

/// A wire and the socket the test drives it over.
struct Driven {
    wire: *mut FgRedisWire,
    socket: TcpStream,
}

impl Driven {
    /// A wire to `store`'s server, connected and opened.
    fn connect(store: *const FgRedisStore) -> Self {
        let mut wire = ptr::null_mut();
        // SAFETY: live store, writable out.
        assert_eq!(unsafe { fg_redis_wire_new(store, &mut wire) }, FgStatus::Ok);
        let mut driven = Self {
            wire,
            socket: Self::socket(wire),
        };
        driven.open();
        driven
    }

    /// A socket connected to the wire's endpoint.
    fn socket(wire: *const FgRedisWire) -> TcpStream {
        let mut host = [0u8; 64];
        let (mut len, mut port) = (0, 0);
        // SAFETY: live wire; the buffer and outs are writable.
        let status = unsafe {
            fg_redis_wire_endpoint(wire, host.as_mut_ptr().cast(), 64, &mut len, &mut port)
        };
        assert_eq!(status, FgStatus::Ok);
        let host = std::str::from_utf8(&host[..len]).unwrap();
        let socket = TcpStream::connect((host, port)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        socket
    }

    fn open(&mut self) -> u32 {
        let mut flags = 0;
        // SAFETY: live wire, writable out.
        let status = unsafe { fg_redis_wire_open(self.wire, &mut flags) };
        assert_eq!(status, FgStatus::Ok);
        flags
    }

    /// Starts a check of `cost` for `key` with `ticket`: the flags after.
    fn check(&self, limiter: *const FgRedisLimiter, key: &[u8], cost: u64, ticket: u64) -> u32 {
        let mut flags = 0;
        // SAFETY: live handles, readable key, writable out.
        let status = unsafe {
            fg_redis_limiter_check_wire(
                limiter,
                self.wire,
                key.as_ptr(),
                key.len(),
                cost,
                ticket,
                &mut flags,
            )
        };
        assert_eq!(status, FgStatus::Ok);
        flags
    }

    /// Writes everything the wire has to send, through a small room (so
    /// that it takes several calls).
    fn flush(&mut self) {
        let mut room = [0u8; 32];
        loop {
            let mut len = 0;
            // SAFETY: live wire, writable room and out.
            let status = unsafe { fg_redis_wire_write(self.wire, room.as_mut_ptr(), 32, &mut len) };
            assert_eq!(status, FgStatus::Ok);
            self.socket.write_all(&room[..len]).unwrap();
            if len < room.len() {
                return;
            }
        }
    }

    /// Passes `bytes` to the wire: its flags after.
    fn read(&self, bytes: &[u8]) -> u32 {
        let mut flags = 0;
        // SAFETY: live wire, readable bytes, writable out.
        let status =
            unsafe { fg_redis_wire_read(self.wire, bytes.as_ptr(), bytes.len(), &mut flags) };
        assert_eq!(status, FgStatus::Ok);
        flags
    }

    /// Sends what waits and reads replies until `count` answers wait, a
    /// byte at a time (every reply arrives cut up): the answers.
    fn answers(&mut self, count: usize) -> Vec<FgRedisAnswer> {
        let mut answers = self.take();
        while answers.len() < count {
            self.flush();
            let mut byte = [0u8; 1];
            self.socket.read_exact(&mut byte).unwrap();
            let flags = self.read(&byte);
            assert_eq!(flags & FG_WIRE_BROKEN, 0);
            answers.extend(self.take());
        }
        assert_eq!(answers.len(), count);
        answers
    }

    fn take(&self) -> Vec<FgRedisAnswer> {
        let mut room = [FgRedisAnswer::new(0, Err(FgStatus::Panic)); 4];
        let mut count = 0;
        // SAFETY: live wire, room for 4 answers, writable count.
        let status = unsafe { fg_redis_wire_take(self.wire, room.as_mut_ptr(), 4, &mut count) };
        assert_eq!(status, FgStatus::Ok);
        room[..count].to_vec()
    }

    fn expire(&self) -> (u64, u32) {
        let (mut next, mut flags) = (0, 0);
        // SAFETY: live wire, writable outs.
        let status = unsafe { fg_redis_wire_expire(self.wire, &mut next, &mut flags) };
        assert_eq!(status, FgStatus::Ok);
        (next, flags)
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        // SAFETY: live, not used again.
        unsafe { fg_redis_wire_free(self.wire) };
    }
}

/// A limiter of `quota` on `store`.
fn limiter_on(
    store: *const FgRedisStore,
    quota: &FgQuota,
    config: &FgRedisConfig,
) -> *mut FgRedisLimiter {
    let mut limiter = ptr::null_mut();
    // SAFETY: live store, readable structs, writable out.
    let status = unsafe { fg_redis_limiter_new(store, quota, config, &mut limiter) };
    assert_eq!(status, FgStatus::Ok);
    limiter
}

fn summary(answers: &[FgRedisAnswer]) -> Vec<(u64, FgStatus, bool, u64)> {
    answers
        .iter()
        .map(|a| {
            (
                a.ticket,
                a.status,
                a.decision.admitted,
                a.decision.remaining,
            )
        })
        .collect()
}

#[test]
fn pipelined_checks_on_a_wire_decide_in_order_and_survive_a_script_flush() {
    let server = super::super::redis_common::RedisServer::shared();
    // Database 1: the wire's handshake selects it.
    let (status, store) = open(&format!("{}1", server.url()));
    assert_eq!(status, FgStatus::Ok);
    let prefix = format!("wire:{}:", std::process::id());
    let limiter = limiter_on(store, &quota(3), &config(prefix.as_bytes()));
    let mut driven = Driven::connect(store);

    for ticket in 0..4 {
        assert_ne!(driven.check(limiter, b"k", 1, ticket) & FG_WIRE_OUTPUT, 0);
    }
    assert_eq!(
        summary(&driven.answers(4)),
        [
            (0, FgStatus::Ok, true, 2),
            (1, FgStatus::Ok, true, 1),
            (2, FgStatus::Ok, true, 0),
            (3, FgStatus::Ok, false, 0),
        ]
    );
    // Denied until a token is back: the deny cache answers with nothing sent.
    assert_eq!(driven.check(limiter, b"k", 1, 4), FG_WIRE_ANSWERS);
    assert_eq!(summary(&driven.take()), [(4, FgStatus::Ok, false, 0)]);
    // The bucket is in database 1, as the blocking calls see it.
    let mut client = server.client();
    let key = format!("{prefix}k");
    let in_db: (i64, i64) = redis::pipe()
        .cmd("EXISTS")
        .arg(&key)
        .cmd("SELECT")
        .arg(1)
        .ignore()
        .cmd("EXISTS")
        .arg(&key)
        .query(&mut client)
        .unwrap();
    assert_eq!(in_db, (0, 1));

    // After SCRIPT FLUSH the call is sent again with the source.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut client)
        .unwrap();
    driven.check(limiter, b"other", 1, 5);
    driven.check(limiter, b"other", 1, 6);
    assert_eq!(
        summary(&driven.answers(2)),
        [(5, FgStatus::Ok, true, 2), (6, FgStatus::Ok, true, 1)]
    );
    let seen = counters(limiter);
    assert_eq!((seen.exact, seen.cached, seen.errors), (6, 1, 0));
    drop(driven);
    // SAFETY: live handles, not used again.
    unsafe {
        fg_redis_limiter_free(limiter);
        fg_redis_store_free(store);
    }
}

#[test]
fn a_deadline_passed_breaks_the_wire_and_the_failure_policy_answers() {
    let server = super::super::redis_common::RedisServer::start();
    let (status, store) = open(&server.url());
    assert_eq!(status, FgStatus::Ok);
    let quick = FgRedisConfig {
        // Long enough for a call under valgrind; the pause is longer still.
        deadline_ns: 400_000_000,
        on_failure: FG_ON_FAILURE_CLOSED,
        ..config(b"")
    };
    // 30 a day: nothing refills while the test runs, however slowly.
    let daily = FgQuota::from_quota(&crate::Quota::per_day(30).unwrap());
    let limiter = limiter_on(store, &daily, &quick);
    let mut driven = Driven::connect(store);
    driven.check(limiter, b"k", 1, 1);
    assert_eq!(summary(&driven.answers(1)), [(1, FgStatus::Ok, true, 29)]);
    let (next, flags) = driven.expire();
    assert_eq!((next, flags), (u64::MAX, 0));

    server.pause(Duration::from_millis(1_500));
    driven.check(limiter, b"k", 1, 2);
    driven.check(limiter, b"k", 1, 3);
    driven.flush();
    let (next, flags) = driven.expire();
    assert!(next > 0 && next <= 400_000_000, "{next}");
    assert_eq!(flags, 0);
    std::thread::sleep(Duration::from_millis(450));
    let (next, flags) = driven.expire();
    assert_eq!((next, flags), (u64::MAX, FG_WIRE_ANSWERS | FG_WIRE_BROKEN));
    let answers = driven.take();
    // Both were behind the reply that did not come: failed closed.
    assert_eq!(
        summary(&answers),
        [(2, FgStatus::Ok, false, 0), (3, FgStatus::Ok, false, 0)]
    );
    let seen = counters(limiter);
    assert_eq!((seen.timeouts, seen.failed_closed), (2, 2));

    // The caller closes its socket; until it opens another, a call is
    // answered by the policy.
    let mut flags = 0;
    // SAFETY: live wire, writable out.
    let status = unsafe { fg_redis_wire_close(driven.wire, &mut flags) };
    assert_eq!(status, FgStatus::Ok);
    assert_eq!(flags, 0);
    assert_eq!(driven.check(limiter, b"k", 1, 4), FG_WIRE_ANSWERS);
    assert_eq!(summary(&driven.take()), [(4, FgStatus::Ok, false, 0)]);
    assert_eq!(counters(limiter).errors, 1);

    // A new socket once the server answers again: exact again. The two
    // calls that timed out were sent, and the server runs them when the
    // pause ends (charged with no one to read their replies: denying more,
    // never admitting more) unless their socket closed first.
    std::thread::sleep(Duration::from_millis(1_100));
    driven.socket = Driven::socket(driven.wire);
    assert_eq!(driven.open(), 0);
    driven.check(limiter, b"k", 1, 5);
    let [answer] = driven.answers(1)[..] else {
        unreachable!("one answer taken")
    };
    assert_eq!((answer.ticket, answer.status), (5, FgStatus::Ok));
    assert!(answer.decision.admitted);
    assert!(
        [26, 28].contains(&answer.decision.remaining),
        "{}",
        answer.decision.remaining
    );
    drop(driven);
    // SAFETY: live handles, not used again.
    unsafe {
        fg_redis_limiter_free(limiter);
        fg_redis_store_free(store);
    }
}

#[test]
fn bad_arguments_and_replies_are_refused() {
    let server = super::super::redis_common::RedisServer::shared();
    let (_, store) = open(&server.url());
    let (_, elsewhere) = open("redis://127.0.0.1:1/");
    let limiter = limiter_on(elsewhere, &quota(3), &config(b""));
    let driven = Driven::connect(store);
    let mut flags = 0;

    // SAFETY: a limiter of another store, live handles, readable key.
    let status = unsafe {
        fg_redis_limiter_check_wire(limiter, driven.wire, b"k".as_ptr(), 1, 1, 1, &mut flags)
    };
    assert_eq!(status, FgStatus::InvalidArgument);
    for (key, len, expected) in [
        (ptr::null(), 1, FgStatus::NullPointer),
        (b"k".as_ptr(), 0, FgStatus::EmptyKey),
    ] {
        // SAFETY: what is refused is the key; the rest is live.
        let status = unsafe {
            fg_redis_limiter_check_wire(limiter, driven.wire, key, len, 1, 1, &mut flags)
        };
        assert_eq!(status, expected);
    }
    // SAFETY: NULL handles are what is refused.
    let status = unsafe { fg_redis_wire_read(ptr::null_mut(), ptr::null(), 0, &mut flags) };
    assert_eq!(status, FgStatus::NullPointer);
    let mut too_small = [0u8; 4];
    let (mut len, mut port) = (0, 0);
    // SAFETY: live wire; a buffer of 4 bytes, said to be 4.
    let status = unsafe {
        fg_redis_wire_endpoint(
            driven.wire,
            too_small.as_mut_ptr().cast(),
            4,
            &mut len,
            &mut port,
        )
    };
    assert_eq!((status, len), (FgStatus::BufferTooSmall, "127.0.0.1".len()));
    assert!(driven.take().is_empty());

    // A cluster's store has no wire.
    let url = c"redis://127.0.0.1:1/";
    let mut cluster = ptr::null_mut();
    let urls = [url.as_ptr()];
    // SAFETY: one readable URL, writable out.
    let status =
        unsafe { super::super::fg_redis_store_open_cluster(urls.as_ptr(), 1, &mut cluster) };
    assert_eq!(status, FgStatus::Ok);
    let mut wire = ptr::null_mut();
    // SAFETY: live store, writable out.
    let status = unsafe { fg_redis_wire_new(cluster, &mut wire) };
    assert_eq!(status, FgStatus::InvalidArgument);
    assert!(wire.is_null());

    // A reply for no call, or bytes that are no reply, break the wire.
    for bytes in [&b"+OK\r\n"[..], b"?what\r\n"] {
        let mut driven = Driven::connect(store);
        assert_eq!(driven.read(bytes), FG_WIRE_BROKEN);
        assert_eq!(driven.open(), 0);
    }
    drop(driven);
    // SAFETY: live handles, not used again.
    unsafe {
        fg_redis_limiter_free(limiter);
        fg_redis_store_free(cluster);
        fg_redis_store_free(elsewhere);
        fg_redis_store_free(store);
    }
}
