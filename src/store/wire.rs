//! A connection to a standalone Redis server that the caller's event loop
//! drives: the loop owns the socket, this owns the protocol.
//!
//! A Node check through the store's runtime crosses two threads one after
//! the other (the loop hands the call over, the runtime's thread writes,
//! reads and hands the answer back), and on a local server those hand-offs
//! cost more than the round trip. Here the loop writes what [`write`]
//! gives it and feeds what it reads to [`read`]; the script calls, their
//! order, `NOSCRIPT`, the handshake and the deadlines are decided here,
//! and every reply goes to the call that waits for it, which makes its
//! answer (the limiter's decision, the failure policy's when Redis gave
//! none). Nothing here blocks, spawns or reads a socket.
//!
//! Replies come back in the order the calls went out, so a call whose
//! deadline passes leaves every later reply behind it: the wire then
//! breaks, answering every call still waiting with its failure policy,
//! and the loop closes the socket and opens another (a reply read after
//! its deadline would otherwise be matched to no one, or to the wrong
//! call). A reply that is not RESP2, or comes with no call waiting,
//! breaks it too.
//!
//! [`write`]: Wire::write
//! [`read`]: Wire::read

use crate::store::connection::{Failure, RedisStore};
use crate::store::script::Call;
use redis::{ConnectionAddr, ProtocolVersion, ServerErrorKind, Value};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The most bytes read and not yet a whole reply: the store's scripts
/// reply with a few integers, so more is no reply of theirs.
const MAX_PARTIAL_REPLY: usize = 1 << 20;
/// The most elements an array reply may claim.
const MAX_ELEMENTS: u64 = 1 << 20;

/// Where a wire's socket connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Tcp(String, u16),
    Unix(PathBuf),
}

/// A call waiting on a wire for its reply, and what it answers with.
pub(crate) trait Waiter {
    /// What the caller takes once the call is answered.
    type Answer;
    /// The answer, from Redis's reply or the reason there is none.
    fn answer(self, reply: Result<Value, Failure>) -> Self::Answer;
}

/// One reply awaited, in the order sent.
enum Awaited<W> {
    /// A handshake command's (`AUTH`, `SELECT`): anything but `+OK` breaks.
    Handshake,
    Call {
        call: Call,
        /// Whether the call went as `EVAL` of the source (after `NOSCRIPT`).
        by_source: bool,
        deadline: Instant,
        waiter: W,
    },
}

/// The protocol state of one caller-driven connection to the server of a
/// store: see the [module docs](self).
pub(crate) struct Wire<W: Waiter> {
    store: RedisStore,
    endpoint: Endpoint,
    /// `AUTH` and `SELECT` as the store's URL asks, packed.
    handshake: Vec<Vec<u8>>,
    /// Whether a connection is open and unbroken.
    open: bool,
    broken: bool,
    output: Vec<u8>,
    /// Bytes read that are not yet a whole reply.
    input: Vec<u8>,
    awaited: VecDeque<Awaited<W>>,
    answers: Vec<W::Answer>,
}

impl<W: Waiter> Wire<W> {
    /// A wire to `store`'s server, closed; `None` when the store is a
    /// cluster's, or its server is reached over TLS or speaks RESP3, which
    /// only the store's own connections do.
    pub(crate) fn new(store: &RedisStore) -> Option<Self> {
        let info = store.server()?;
        let endpoint = match info.addr() {
            ConnectionAddr::Tcp(host, port) => Endpoint::Tcp(host.clone(), *port),
            ConnectionAddr::Unix(path) => Endpoint::Unix(path.clone()),
            _ => return None,
        };
        let settings = info.redis_settings();
        if settings.protocol() != ProtocolVersion::RESP2 {
            return None;
        }
        let mut handshake = Vec::new();
        if let Some(password) = settings.password() {
            let mut auth = redis::cmd("AUTH");
            if let Some(username) = settings.username() {
                auth.arg(username);
            }
            handshake.push(auth.arg(password).get_packed_command());
        }
        if settings.db() != 0 {
            handshake.push(redis::cmd("SELECT").arg(settings.db()).get_packed_command());
        }
        Some(Self {
            store: store.clone(),
            endpoint,
            handshake,
            open: false,
            broken: false,
            output: Vec::new(),
            input: Vec::new(),
            awaited: VecDeque::new(),
            answers: Vec::new(),
        })
    }

    /// Where the caller connects the wire's socket.
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether `store` is the one this wire's calls go to.
    pub(crate) fn serves(&self, store: &RedisStore) -> bool {
        self.store.is(store)
    }

    /// A new connection is open: the handshake goes first. Calls still
    /// waiting on an earlier one are answered as failed.
    pub(crate) fn open(&mut self) {
        self.close();
        self.open = true;
        for command in &self.handshake {
            self.output.extend_from_slice(command);
            self.awaited.push_back(Awaited::Handshake);
        }
    }

    /// The connection is gone: every call waiting is answered as failed
    /// (timed out if its deadline passed), and nothing is sent until
    /// [`open`](Self::open).
    pub(crate) fn close(&mut self) {
        let now = Instant::now();
        for awaited in self.awaited.drain(..) {
            if let Awaited::Call {
                deadline, waiter, ..
            } = awaited
            {
                let failure = if deadline <= now {
                    Failure::Timeout
                } else {
                    Failure::Redis
                };
                self.answers.push(waiter.answer(Err(failure)));
            }
        }
        self.open = false;
        self.broken = false;
        self.output.clear();
        self.input.clear();
    }

    /// Sends `call` of the store's GCRA script for `waiter`, which waits
    /// at most `deadline`; on a wire not open, it is answered as failed.
    pub(crate) fn send(&mut self, call: Call, deadline: Duration, waiter: W) {
        if !self.open {
            self.answers.push(waiter.answer(Err(Failure::Redis)));
            return;
        }
        self.store
            .gcra()
            .by_hash(&call)
            .write_packed_command(&mut self.output);
        self.awaited.push_back(Awaited::Call {
            call,
            by_source: false,
            deadline: Instant::now() + deadline,
            waiter,
        });
    }

    /// Moves up to `room.len()` bytes to send into `room`; their count.
    pub(crate) fn write(&mut self, room: &mut [u8]) -> usize {
        let count = room.len().min(self.output.len());
        room[..count].copy_from_slice(&self.output[..count]);
        self.output.drain(..count);
        count
    }

    /// Takes `bytes` read from the socket: each whole reply answers the
    /// call it belongs to (a `NOSCRIPT` sends the call again as `EVAL`).
    pub(crate) fn read(&mut self, bytes: &[u8]) {
        if !self.open {
            return;
        }
        self.input.extend_from_slice(bytes);
        let mut at = 0;
        loop {
            let end = match reply_len(&self.input[at..]) {
                Ok(Some(end)) => end,
                Ok(None) if self.input.len() - at <= MAX_PARTIAL_REPLY => break,
                Ok(None) | Err(()) => return self.fail(),
            };
            let reply = decode(&self.input[at..at + end]);
            at += end;
            let (Ok(reply), Some(awaited)) = (reply, self.awaited.pop_front()) else {
                return self.fail();
            };
            if !self.answer(awaited, reply) {
                return self.fail();
            }
        }
        self.input.drain(..at);
    }

    /// Gives `reply` to `awaited`; false when it breaks the wire.
    fn answer(&mut self, awaited: Awaited<W>, reply: Value) -> bool {
        match awaited {
            Awaited::Handshake => matches!(reply, Value::Okay),
            Awaited::Call {
                call,
                by_source: false,
                deadline,
                waiter,
            } if is_missing_script(&reply) => {
                self.store
                    .gcra()
                    .by_source(&call)
                    .write_packed_command(&mut self.output);
                self.awaited.push_back(Awaited::Call {
                    call,
                    by_source: true,
                    deadline,
                    waiter,
                });
                true
            }
            Awaited::Call { waiter, .. } => {
                self.answers.push(waiter.answer(Ok(reply)));
                true
            }
        }
    }

    /// Breaks the wire: every call waiting is answered as failed, and the
    /// caller is to close the socket.
    fn fail(&mut self) {
        self.close();
        self.broken = true;
    }

    /// Breaks the wire if a call's deadline has passed (its reply holds
    /// up every later one); else how long until the next deadline, `None`
    /// when no call waits.
    pub(crate) fn expire(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let next = self
            .awaited
            .iter()
            .filter_map(|awaited| match awaited {
                Awaited::Call { deadline, .. } => Some(*deadline),
                Awaited::Handshake => None,
            })
            .min()?;
        if next <= now {
            self.fail();
            return None;
        }
        Some(next - now)
    }

    /// Whether answers wait for [`take`](Self::take).
    pub(crate) fn has_answers(&self) -> bool {
        !self.answers.is_empty()
    }

    /// Whether bytes wait for [`write`](Self::write).
    pub(crate) fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Whether the connection is of no more use: the caller closes the
    /// socket, and calls [`open`](Self::open) once another is connected.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Removes up to `capacity` answers, oldest first.
    pub(crate) fn take(&mut self, capacity: usize) -> std::vec::Drain<'_, W::Answer> {
        let count = capacity.min(self.answers.len());
        self.answers.drain(..count)
    }

    /// Answers a call made with no reply to wait for (a cached denial,
    /// the breaker open), in turn with the others.
    pub(crate) fn answered(&mut self, answer: W::Answer) {
        self.answers.push(answer);
    }
}

fn is_missing_script(reply: &Value) -> bool {
    matches!(reply, Value::ServerError(error) if error.kind() == Some(ServerErrorKind::NoScript))
}

/// The length of the RESP2 reply that `bytes` begins with: `Ok(None)`
/// while it is not all there, `Err` when the bytes are no RESP2 reply.
fn reply_len(bytes: &[u8]) -> Result<Option<usize>, ()> {
    let mut at = 0;
    // Replies still to read: the one asked for, and the elements of every
    // array begun.
    let mut owed: u64 = 1;
    while owed > 0 {
        let Some(line) = bytes[at..].windows(2).position(|pair| pair == b"\r\n") else {
            return Ok(None);
        };
        let (kind, text) = (bytes[at], &bytes[at + 1..at + line]);
        at += line + 2;
        owed -= 1;
        match kind {
            b'+' | b'-' | b':' => {}
            b'$' => match length(text)? {
                None => {}
                Some(len) => {
                    at = usize::try_from(len)
                        .ok()
                        .and_then(|len| at.checked_add(len)?.checked_add(2))
                        .ok_or(())?;
                    if at > bytes.len() {
                        return Ok(None);
                    }
                    if &bytes[at - 2..at] != b"\r\n" {
                        return Err(());
                    }
                }
            },
            b'*' => match length(text)? {
                Some(elements) if elements > MAX_ELEMENTS => return Err(()),
                Some(elements) => owed += elements,
                None => {}
            },
            _ => return Err(()),
        }
    }
    Ok(Some(at))
}

/// The value of `whole`, one whole reply. The replies of calls that went
/// well, an array of integers or `+OK`, are read here; the crate's parser,
/// which sets up a buffered decoder for each value, reads the rest (errors).
fn decode(whole: &[u8]) -> redis::RedisResult<Value> {
    if whole == b"+OK\r\n" {
        return Ok(Value::Okay);
    }
    integers(whole).map_or_else(|| redis::parse_redis_value(whole), Ok)
}

/// `whole` as an array of integers, if it is one.
fn integers(whole: &[u8]) -> Option<Value> {
    let mut lines = whole.strip_prefix(b"*")?.split(|&byte| byte == b'\n');
    let count: usize = number(lines.next()?)?;
    let mut elements = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        elements.push(Value::Int(number(lines.next()?.strip_prefix(b":")?)?));
    }
    Some(Value::Array(elements))
}

/// A decimal number in a line that ends in `\r`.
fn number<T: std::str::FromStr>(line: &[u8]) -> Option<T> {
    let digits = line.strip_suffix(b"\r")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A bulk string's or an array's length: `None` for -1 (a nil).
fn length(text: &[u8]) -> Result<Option<u64>, ()> {
    if text == b"-1" {
        return Ok(None);
    }
    let text = std::str::from_utf8(text).map_err(|_| ())?;
    text.parse().map(Some).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_whole_only_once_every_element_is_there() {
        let reply = b"*3\r\n:0\r\n$3\r\nabc\r\n*-1\r\n";
        for cut in 0..reply.len() {
            assert_eq!(reply_len(&reply[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(reply_len(reply), Ok(Some(reply.len())));
        let mut two = reply.to_vec();
        two.extend_from_slice(b"+OK\r\n");
        assert_eq!(reply_len(&two), Ok(Some(reply.len())));
        assert_eq!(reply_len(b"-NOSCRIPT No matching script\r\n"), Ok(Some(30)));
        assert_eq!(reply_len(b"$-1\r\n"), Ok(Some(5)));
    }

    #[test]
    fn replies_read_here_are_the_values_the_crate_reads() {
        for whole in [
            &b"*3\r\n:0\r\n:-12\r\n:340\r\n"[..],
            b"*0\r\n",
            b"+OK\r\n",
            b"-NOSCRIPT No matching script\r\n",
            b"*2\r\n:1\r\n$1\r\nx\r\n",
            b":7\r\n",
        ] {
            assert_eq!(
                decode(whole).unwrap(),
                redis::parse_redis_value(whole).unwrap(),
                "{:?}",
                String::from_utf8_lossy(whole)
            );
        }
    }

    #[test]
    fn bytes_that_are_no_resp2_reply_are_refused() {
        for bad in [
            &b"?\r\n"[..],
            b"$x\r\n",
            b"$3\r\nabcd\r\n",
            b"*99999999999\r\n",
            b"$18446744073709551615\r\n",
            b"*-2\r\n",
        ] {
            assert_eq!(
                reply_len(bad),
                Err(()),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
