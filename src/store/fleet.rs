//! How many hosts share a fleet's limits right now, counted in Redis, and
//! one host's share of a limit among them.
//!
//! Each store that joins a fleet keeps an entry in the sorted set
//! `floodgate:fleet:<name>`: its member id, scored by when it expires in
//! the server's microseconds. Every [`HEARTBEAT`] the store's runtime
//! thread runs one script that reads the server's `TIME`, drops the
//! expired entries, pushes this store's expiry [`MISSED_BEATS`] heartbeats
//! ahead, and returns the live count, which is cached in an atomic: a
//! decision taken while Redis is away reads the last count without I/O.
//! Host clocks never enter it.

use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use crate::keyed::KeyHasher;
use crate::store::connection::RedisStore;
use crate::sync::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How often a member refreshes its entry and reads the count.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);
/// Heartbeats a member may miss before its entry expires.
pub(crate) const MISSED_BEATS: u32 = 3;
/// The fleet limiters join when their builder names none.
pub(crate) const DEFAULT_FLEET: &str = "default";
/// How long a leaving member waits for Redis to drop its entry; past it
/// the entry expires on its own.
const LEAVE_DEADLINE: Duration = Duration::from_millis(500);

/// One script: expire, refresh this member (`ARGV[1]`) to `ARGV[2]`
/// microseconds ahead, count. The set expires with its last member.
const BEAT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
return redis.call('ZCARD', KEYS[1])
";

/// The hosts sharing a fleet's limits, as one store counts them: what
/// [`OnFailure::Local`](crate::store::OnFailure::Local) divides a limit
/// by. Got from [`RedisStore::fleet`]; clones share one membership, which
/// ends (its entry removed, best effort) when the last clone, and every
/// limiter using it, is dropped.
///
/// # Staleness
///
/// A store refreshes its entry every second and the entry lives three
/// seconds. A host that dies without leaving stops counting once its
/// entry has expired and another member has beaten since: at most
/// 4 seconds (plus one call's deadline) after its last heartbeat. A host
/// that leaves (its fleet dropped) is removed at once, and the others read
/// it at their next heartbeat, within a second. A new host is counted by
/// the others within a second of its first heartbeat. While Redis is away
/// the count stays as last read; until a store's first heartbeat answers,
/// its fleet counts 1.
///
/// Dropping the last handle outside an async runtime waits up to half a
/// second for Redis to remove the entry (inside one, the removal is
/// spawned on the store's runtime thread).
///
/// ```
/// use floodgate::store::RedisStore;
/// // Nothing answers on port 1: the heartbeat fails, the fleet counts this host alone.
/// let store = RedisStore::open("redis://127.0.0.1:1/")?;
/// let fleet = store.fleet("checkout");
/// assert_eq!(fleet.size(), 1);
/// assert_eq!(fleet.name(), "checkout");
/// assert!(fleet.member().contains(&format!(":{}:", std::process::id())));
/// # Ok::<(), floodgate::store::StoreError>(())
/// ```
#[derive(Clone)]
pub struct Fleet {
    member: Arc<Member>,
}

/// A store's entry in one fleet, and the heartbeat keeping it alive.
pub(crate) struct Member {
    store: RedisStore,
    name: String,
    key: String,
    id: String,
    /// The live count last read; 0 before the first heartbeat answered.
    size: Arc<AtomicU64>,
    /// Taken only by `Drop`.
    heartbeat: Option<JoinHandle<()>>,
}

impl RedisStore {
    /// This store's membership of the fleet `name` (its entries live in
    /// the Redis key `floodgate:fleet:<name>`): joined on the first call,
    /// shared by later ones while any handle lives. Each store is one
    /// member, so a process should keep one store per server. The
    /// heartbeat runs on the store's runtime thread; nothing waits for it.
    pub fn fleet(&self, name: &str) -> Fleet {
        // Every write leaves a whole map: a poisoned lock holds a valid one.
        let mut fleets = self
            .fleets()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(member) = fleets.get(name).and_then(Weak::upgrade) {
            return Fleet { member };
        }
        fleets.retain(|_, member| member.strong_count() > 0);
        let member = Arc::new(Member::join(self, name));
        fleets.insert(name.to_owned(), Arc::downgrade(&member));
        Fleet { member }
    }
}

impl Fleet {
    /// How many members the fleet had at the last heartbeat that Redis
    /// answered, this one included (at least 1). Reads an atomic.
    pub fn size(&self) -> u32 {
        // Relaxed: a lone count; nothing else is published with it.
        let live = self.member.size.load(Ordering::Relaxed);
        u32::try_from(live).unwrap_or(u32::MAX).max(1)
    }

    /// The fleet's name.
    pub fn name(&self) -> &str {
        &self.member.name
    }

    /// This store's member id in the fleet's sorted set: host name,
    /// process id and a random part, so every store is its own member.
    pub fn member(&self) -> &str {
        &self.member.id
    }
}

impl Member {
    /// Joins `name`: starts the heartbeat, whose first beat is now.
    fn join(store: &RedisStore, name: &str) -> Self {
        let key = format!("floodgate:fleet:{name}");
        let id = format!(
            "{}:{}:{:016x}",
            host_name(),
            std::process::id(),
            KeyHasher::random_secret()[0]
        );
        let size = Arc::new(AtomicU64::new(0));
        let ttl_us = HEARTBEAT.as_micros() * u128::from(MISSED_BEATS);
        let mut beat = redis::cmd("EVAL");
        beat.arg(BEAT).arg(1).arg(&key).arg(&id).arg(ttl_us as u64);
        // The task holds the store, not the member: dropping the last
        // handle aborts it, which releases the store.
        let (task_store, task_size) = (store.clone(), Arc::clone(&size));
        let heartbeat = store.handle().spawn(async move {
            let mut ticks = tokio::time::interval(HEARTBEAT);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // A heartbeat Redis does not answer keeps the last count.
                if let Ok(live) = task_store.query::<u64>(&beat, HEARTBEAT).await {
                    // Relaxed: see `Fleet::size`.
                    task_size.store(live, Ordering::Relaxed);
                }
            }
        });
        Self {
            store: store.clone(),
            name: name.to_owned(),
            key,
            id,
            size,
            heartbeat: Some(heartbeat),
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let heartbeat = self.heartbeat.take();
        let mut leave = redis::cmd("ZREM");
        leave.arg(&self.key).arg(&self.id);
        let store = self.store.clone();
        let removal = async move {
            // Once the heartbeat has ended, no beat of it can follow the
            // removal on the connection and add the entry back.
            if let Some(heartbeat) = heartbeat {
                heartbeat.abort();
                let _ = heartbeat.await;
            }
            // Best effort: an entry left behind expires within MISSED_BEATS.
            let _ = store.query::<u64>(&leave, LEAVE_DEADLINE).await;
        };
        // Inside an async runtime nothing may block: the removal runs
        // while the store's runtime lives.
        if tokio::runtime::Handle::try_current().is_ok() {
            self.store.handle().spawn(removal);
        } else {
            self.store.block_on(removal);
        }
    }
}

/// The host's name, for people reading the set; `?` when it has none.
fn host_name() -> String {
    let mut name = [0u8; 256];
    // SAFETY: gethostname(2) writes at most `name.len()` bytes into the
    // buffer, which lives for the call; the length passed is its size.
    let status = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) };
    let end = name
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(name.len());
    match status {
        0 if end > 0 => String::from_utf8_lossy(&name[..end]).into_owned(),
        _ => "?".to_owned(),
    }
}

/// One member's share of `quota` in a fleet of `members`: the rate divided
/// exactly (the period multiplied by `members`), the burst divided and
/// rounded down but at least 1, the lockout kept. With a burst below the
/// fleet size, the fleet together admits a burst of `members`.
/// [`Error::PeriodTooLong`] when the period times `members` passes 2^64 ns,
/// or the engine's error for a share it cannot hold.
pub(crate) fn share(quota: &Quota, members: u32) -> Result<Quota> {
    let period = quota
        .period()
        .checked_mul(members)
        .ok_or(Error::PeriodTooLong)?;
    Quota::per_period(quota.count(), period, divide(quota.burst(), members))?
        .with_lockout(quota.lockout())
}

/// One member's share of a `whole` count (a burst, a window's limit, an
/// in-flight cap) in a fleet of `members`: rounded down, at least 1.
pub(crate) fn divide(whole: u64, members: u32) -> u64 {
    (whole / u64::from(members.max(1))).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_divides_the_rate_exactly_and_the_burst_rounding_down() {
        let quota = Quota::per_second(30).unwrap().with_burst(61).unwrap();
        let third = share(&quota, 3).unwrap();
        assert_eq!(
            (third.count(), third.period(), third.burst()),
            (30, Duration::from_secs(3), 20)
        );
        assert_eq!(third.emission_interval(), Duration::from_millis(100));
        assert_eq!(share(&quota, 100).unwrap().burst(), 1);
        assert_eq!(share(&quota, 1).unwrap(), quota);
    }

    #[test]
    fn a_share_keeps_the_lockout() {
        let quota = Quota::per_second(10)
            .unwrap()
            .with_lockout(Duration::from_secs(5))
            .unwrap();
        assert_eq!(share(&quota, 4).unwrap().lockout(), Duration::from_secs(5));
    }

    #[test]
    fn a_share_whose_period_overflows_is_refused() {
        let quota = Quota::per_period(1, Duration::from_secs(1 << 28), 1).unwrap();
        assert_eq!(share(&quota, u32::MAX), Err(Error::PeriodTooLong));
    }
}
