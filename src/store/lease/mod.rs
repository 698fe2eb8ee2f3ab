//! Leases: fleet-wide limits checked locally, in nanoseconds, funded by
//! tokens taken from the Redis bucket ahead of time.
//!
//! [`LeasedLimiter`] and [`LeasedLayers`] keep the same buckets in Redis,
//! under the same script and keys, as [`RedisLimiter`](crate::store::RedisLimiter)
//! and [`RedisLayers`](crate::store::RedisLayers); what changes is when a
//! host asks.
//!
//! # How
//!
//! * A **lease** is one script call that charges a key's bucket for up to
//!   `c` requests at once: the most that fit now (at least one, like
//!   redis_rate's `allowAtMost`), decided and written as a check of that
//!   many. The host puts the tokens in the key's local bucket
//!   (`bucket.rs`: one atomic word).
//! * A **check** takes its cost from that word by one compare-and-swap: no
//!   I/O, no lock, and for a key seen before no allocation (`table.rs`).
//!   The take that leaves fewer than the low-water mark (25% of the last
//!   lease unless set) claims the refill and queues it (`queue.rs`: a push
//!   on a lock-free stack, no system call); a pump on the store's runtime
//!   thread sends the queued refills every few milliseconds (a sixteenth
//!   of the lease time, at most 5 ms) while checks go on: a steady key
//!   never waits. A check finding the bucket empty sends a refill still
//!   queued itself, or waits for the one in flight.
//! * A lease's **size** (`size.rs`) is this host's rate for the key, as
//!   measured over the last lease, times the lease time (500 ms unless
//!   set), at least 1 and at most `burst / (2 x N)` for a fleet of `N`
//!   hosts, so the hosts together never hold more than half a burst. `N`
//!   is the live size of the limiter's heartbeat [`Fleet`](crate::store::Fleet)
//!   ([`fleet`](LeasedLimiterBuilder::fleet), the store's `"default"`
//!   unless set), read from its cached count as each lease is sized, or a
//!   fixed [`fleet_size`](LeasedLimiterBuilder::fleet_size). The count lags
//!   a host joining by up to a heartbeat (a second), and a host counts
//!   itself alone until its own first heartbeat answers: meanwhile the
//!   hosts may hold more than half a burst between them (never more than
//!   Redis granted: admissions are bounded all the same).
//! * A denied lease (nothing fits) is remembered: checks are denied
//!   locally until the instant the lease fits, when the next check asks;
//!   it then gets every token that has fit since (up to its size), so
//!   asking a little late loses nothing.
//! * **At the limit**, a host asking as soon as a token fits would get a
//!   token a call (measured: 1.6 calls per admission, 3 hosts x 2 threads
//!   on one key). So once a key's lease call fell short (granted less than
//!   asked, or nothing), its next call asks for a worthwhile lease: its
//!   size, at most the fleet's share (`1 / N`) of what the quota drains
//!   in a lease time. When fewer fit, the script **reserves** them, if
//!   they fit within a lease time: it charges them now, as debt past the
//!   burst, and answers when they fit. The host denies the key locally
//!   until then and funds the bucket from the reservation at the first
//!   check after it, with no call. Hosts asking later queue behind it (the
//!   debt they see includes it), so the hosts of a fleet at its limit take
//!   turns, each a worthwhile lease a call: about `admitted / c` calls
//!   (measured: 0.036 calls per admission, `c` = 33). Reserved tokens are
//!   spent only once the fleet's bucket fits them, as an exact check then
//!   would admit them, so they over-admit nothing (`tests/lease_model.rs`
//!   checks it with a fleet held at its limit); a check that asked is
//!   denied meanwhile, though a token or two may have fit, which costs
//!   nothing at the limit (they are part of the reservation) and delays a
//!   burst near it by less than a lease time. A reservation the key does
//!   not come back for is given back by the idle sweep. A key under its
//!   limit costs one call per lease. A quota with a lockout reserves
//!   nothing and takes any lease that fits: a denied lease call is charged
//!   its lockout, once per call, not by the checks denied locally after it.
//!
//! # What is exact
//!
//! **No over-admission.** A token is spent locally only after the script
//! debited it from the fleet's GCRA bucket, and at most once (the CAS that
//! takes it). Admissions are therefore at most the script's net charges,
//! and from any moment a key's bucket was full the fleet admits at most
//! `burst + rate x elapsed`, as one exact limiter would. Tokens are spent
//! after they were charged, though (before their lease expires: two lease
//! times after the grant that last topped their bucket up, or later while
//! the fleet's debt from it lasts), so a window that starts while hosts
//! hold tokens may admit those too: at most `burst + rate x elapsed` plus
//! the tokens the fleet held or had on their way then (granted, or being
//! given back), held tokens being under `1.25 x burst / 2` by default (see
//! stranded tokens below for one host's share; `tests/lease_model.rs`
//! checks the window bound).
//!
//! **Under-admission** comes from tokens charged but not spent. In steady
//! state a host holds at most one lease of a key, and leases are sized to
//! be spent, so the fleet admits within a few percent of the bound
//! (`tests/redis_lease.rs` measures it; the target is 5%).
//!
//! **Stranded tokens** are those debited from Redis and neither spent nor
//! given back: the holdings of a host that died, or a give-back that
//! failed. A host holds at most a lease (granted or reserved) and what was
//! left of the last one when it landed (under the low-water mark); with a
//! lease call in flight it holds less than the low-water mark, and the
//! call may still be granted after it died. Either way a dead host strands fewer than a
//! lease plus the low-water mark of one: `1.25 x burst / (2 x N)` tokens
//! of a key by default. They are not lost: they are debt in the key's
//! bucket, drained at the quota's rate like any other, so a dead host
//! delays its keys' admissions by at most that many emission intervals,
//! once (`tests/lease_model.rs` checks the bound and the recovery).
//!
//! **Give-backs.** Unspent tokens go back to Redis (a refund) when a key
//! goes idle (its bucket unchanged for a lease time: an idle sweep runs on
//! the store's runtime every lease time), when a grant does not fit the
//! local word, and when the limiter is dropped: its buckets are closed
//! and drained, and a grant landing on a closed bucket is given back as it
//! lands (if the process still runs). A refund lowers the fleet's debt by
//! its size, which undoes a grant exactly only while the debt that grant
//! left has not drained: so a give-back returns at most the last grant's
//! size, and only before that debt drains. Tokens past that are dropped:
//! their charge has drained, or is draining, on its own.
//!
//! # Decision metadata
//!
//! A local decision's remaining and reset come from the fleet's bucket as
//! this host's last lease call for the key saw it, drained at the quota's
//! rate since, with this host's unspent tokens counted as free. Other
//! hosts' admissions since that call are not in them: they are stale by at
//! most the time since this host's last lease call for the key (about one
//! lease time for a steady key). A local denial's retry-after is the
//! fleet's own answer to the denied lease call, counted down locally from
//! the call's sending and rounded up to the bucket's millisecond: it ends
//! at most the call's one-way latency early and at most 1 ms late. When
//! the call reserved tokens, the wait is counted from the reply instead
//! (the tokens are spent from its end, which must not be early): it ends
//! at most the call's one-way latency and 1 ms late.
//!
//! # Failures
//!
//! A lease call that fails or misses its deadline goes through the
//! limiter's breaker and counters as every store call does. Tokens already
//! granted stay valid until they expire; a check that finds none then gets
//! the limiter's [`OnFailure`](crate::store::OnFailure) answer.
//!
//! # Layers
//!
//! [`LeasedLayers`] holds a lease per layer and key (each a call of its
//! own on its own key). A check takes from every layer's bucket in order;
//! when one cannot give, the tokens taken from the layers before it go back
//! into their buckets, so a denied request charges no layer.

mod bucket;
mod counters;
mod engine;
mod layers;
mod limiter;
mod queue;
mod settings;
mod size;
mod table;

#[doc(hidden)] // For the model test and the loom models: the parts a lease check is made of.
pub use bucket::{LeaseBucket, Snapshot, Take, MAX_LEASE};
pub use counters::LeaseCounters;
pub use layers::{LeasedLayers, LeasedLayersBuilder};
pub use limiter::{LeasedLimiter, LeasedLimiterBuilder};
#[doc(hidden)]
pub use size::Sizing;
