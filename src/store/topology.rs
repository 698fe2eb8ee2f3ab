//! Which Redis Cluster master a key lives on, as far as the store last
//! learned: the failure domain a limiter's breakers are scoped by, so that
//! a dead master opens the breaker of its own slots and no other.
//!
//! The cluster client routes every call itself (and follows MOVED and
//! ASK); this map names the domain a failure is counted in, and which
//! slots moved, for the one move the client does not notice by itself (a
//! master that stopped answering was replaced, see `connection.rs`). It is
//! learned from `CLUSTER SLOTS` when the store connects and again after a
//! failure, so a stale map costs at most a misattributed failure or two:
//! after a failover a master's slots move whole to its replica, and the
//! breaker of the old master's slots closes on the first probe the
//! replica answers.

use redis::Value;
use std::sync::RwLock;

/// Hash slots in a Redis Cluster.
const SLOTS: u16 = 16_384;

/// The domain of a key whose master is not known: every key of a
/// standalone server, and a cluster's keys until its map is learned.
pub(crate) const UNKNOWN: usize = 0;

/// The cluster slot of `key`, as Redis computes it: CRC16 (XMODEM) of the
/// key's hash tag, the bytes between its first `{` and the next `}` when
/// there are any, else of the whole key. The `redis` crate computes the
/// same to route a call but does not expose the number.
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tag = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16::State::<crc16::XMODEM>::calculate(tag.unwrap_or(key)) % SLOTS
}

/// The slot → master map of one cluster.
pub(crate) struct Topology {
    owners: RwLock<Owners>,
}

struct Owners {
    /// Every master seen, by node id: master `i` is domain `i + 1`, for
    /// good, so a refresh never hands one master's breaker to another.
    masters: Vec<Vec<u8>>,
    /// The domain of each slot; empty until first learned.
    by_slot: Vec<usize>,
}

/// A master as `CLUSTER SLOTS` names it.
struct Master {
    /// Its node id, or its address from servers that send none.
    id: Vec<u8>,
    host: String,
    port: u16,
}

/// A slot that moved to another master, and a master it is not on: asked
/// for a key of that slot, that master answers MOVED, which makes the
/// cluster client learn the new map too.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Moved {
    pub(crate) slot: u16,
    pub(crate) elsewhere: (String, u16),
}

impl Topology {
    pub(crate) fn new() -> Self {
        Self {
            owners: RwLock::new(Owners {
                masters: Vec::new(),
                by_slot: Vec::new(),
            }),
        }
    }

    /// The domain of `slot`: its master's, or [`UNKNOWN`].
    pub(crate) fn domain(&self, slot: u16) -> usize {
        // Every write leaves a whole map: a poisoned lock holds a valid one.
        let owners = self.owners.read().unwrap_or_else(|p| p.into_inner());
        owners
            .by_slot
            .get(usize::from(slot))
            .copied()
            .unwrap_or(UNKNOWN)
    }

    /// Learns the map from a `CLUSTER SLOTS` reply (a reply of another
    /// shape changes nothing); a slot that a known master served and
    /// another serves now, if any.
    pub(crate) fn learn(&self, reply: &Value) -> Option<Moved> {
        let Value::Array(entries) = reply else {
            return None;
        };
        let ranges = entries.iter().map(slot_range).collect::<Option<Vec<_>>>()?;
        let mut owners = self.owners.write().unwrap_or_else(|p| p.into_inner());
        let mut by_slot = vec![UNKNOWN; usize::from(SLOTS)];
        for (first, last, master) in &ranges {
            let domain = match owners.masters.iter().position(|m| *m == master.id) {
                Some(index) => index + 1,
                None => {
                    owners.masters.push(master.id.clone());
                    owners.masters.len()
                }
            };
            by_slot[*first..=*last].fill(domain);
        }
        let moved = (0..by_slot.len()).find(|&s| {
            let before = owners.by_slot.get(s).copied().unwrap_or(UNKNOWN);
            before != UNKNOWN && before != by_slot[s]
        });
        owners.by_slot = by_slot;
        let slot = moved?;
        let owner = &ranges
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))?
            .2;
        let elsewhere = ranges.iter().find(|(_, _, m)| m.id != owner.id)?;
        Some(Moved {
            slot: u16::try_from(slot).ok()?,
            elsewhere: (elsewhere.2.host.clone(), elsewhere.2.port),
        })
    }
}

/// A key whose slot is `slot`: a hash tag of a small number.
pub(crate) fn key_in(slot: u16) -> Option<Vec<u8>> {
    (0u32..1 << 20)
        .map(|n| format!("{{{n}}}").into_bytes())
        .find(|key| self::slot(key) == slot)
}

/// One entry of `CLUSTER SLOTS`: `[first, last, [host, port, id, ...], replicas...]`,
/// as the first and last slot and the master.
fn slot_range(range: &Value) -> Option<(usize, usize, Master)> {
    let Value::Array(fields) = range else {
        return None;
    };
    let bound = |value: &Value| match value {
        Value::Int(slot) => usize::try_from(*slot)
            .ok()
            .filter(|&s| s < usize::from(SLOTS)),
        _ => None,
    };
    let (first, last) = (bound(fields.first()?)?, bound(fields.get(1)?)?);
    let Value::Array(master) = fields.get(2)? else {
        return None;
    };
    let (Some(Value::BulkString(host)), Some(Value::Int(port))) = (master.first(), master.get(1))
    else {
        return None;
    };
    let (host, port) = (
        String::from_utf8(host.clone()).ok()?,
        u16::try_from(*port).ok()?,
    );
    let id = match master.get(2) {
        Some(Value::BulkString(id)) => id.clone(),
        _ => format!("{host}:{port}").into_bytes(),
    };
    (first <= last).then_some((first, last, Master { id, host, port }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_hash_tag_as_redis_computes_them() {
        // Figures from the Redis Cluster specification and CLUSTER KEYSLOT.
        assert_eq!(slot(b"123456789"), 0x31C3);
        assert_eq!(slot(b"foo"), 12_182);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_ne!(slot(b"foo{}{bar}"), slot(b"bar"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
        assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
    }

    fn range(first: i64, last: i64, id: &str) -> Value {
        Value::Array(vec![
            Value::Int(first),
            Value::Int(last),
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(7000 + i64::from(id.as_bytes()[0] - b'a')),
                Value::BulkString(id.as_bytes().to_vec()),
            ]),
        ])
    }

    #[test]
    fn a_master_keeps_its_domain_across_refreshes() {
        let topology = Topology::new();
        assert_eq!(topology.domain(5), UNKNOWN);
        let first = topology.learn(&Value::Array(vec![
            range(0, 99, "a"),
            range(100, 16_383, "b"),
        ]));
        assert_eq!(first, None); // nothing moved: nothing was known
        assert_eq!(key_in(99).map(|key| slot(&key)), Some(99));
        assert_eq!((topology.domain(99), topology.domain(100)), (1, 2));
        // Slots 0..=99 failed over to "c"; "b" keeps domain 2, and is
        // where the cluster client is sent to learn of it.
        let moved = topology.learn(&Value::Array(vec![
            range(100, 16_383, "b"),
            range(0, 99, "c"),
        ]));
        assert_eq!(
            moved,
            Some(Moved {
                slot: 0,
                elsewhere: ("127.0.0.1".to_owned(), 7001)
            })
        );
        assert_eq!((topology.domain(0), topology.domain(16_383)), (3, 2));
        // A reply of another shape changes nothing.
        assert_eq!(topology.learn(&Value::Int(1)), None);
        topology.learn(&Value::Array(vec![range(0, 99, "a"), Value::Int(1)]));
        assert_eq!(topology.domain(0), 3);
    }
}
