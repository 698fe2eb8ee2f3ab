//! Which Redis Cluster master a key lives on, as far as the store last
//! learned: the failure domain a limiter's breakers are scoped by, so that
//! a dead master opens the breaker of its own slots and no other.
//!
//! The cluster client routes every call itself (and follows MOVED and
//! ASK); this map only names the domain a failure is counted in. It is
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

    /// Learns the map from a `CLUSTER SLOTS` reply; a reply of another
    /// shape changes nothing.
    pub(crate) fn learn(&self, reply: &Value) {
        let Value::Array(ranges) = reply else {
            return;
        };
        let mut owners = self.owners.write().unwrap_or_else(|p| p.into_inner());
        let mut by_slot = vec![UNKNOWN; usize::from(SLOTS)];
        for range in ranges {
            let Some((first, last, master)) = slot_range(range) else {
                return;
            };
            let domain = match owners.masters.iter().position(|m| *m == master) {
                Some(index) => index + 1,
                None => {
                    owners.masters.push(master);
                    owners.masters.len()
                }
            };
            by_slot[first..=last].fill(domain);
        }
        owners.by_slot = by_slot;
    }
}

/// One entry of `CLUSTER SLOTS`: `[first, last, [ip, port, id, ...], replicas...]`,
/// as the first and last slot and the master's identity (its node id, or
/// its address from servers that send none).
fn slot_range(range: &Value) -> Option<(usize, usize, Vec<u8>)> {
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
    let identity = match (master.first(), master.get(1), master.get(2)) {
        (_, _, Some(Value::BulkString(id))) => id.clone(),
        (Some(Value::BulkString(ip)), Some(Value::Int(port)), _) => {
            [ip.as_slice(), b":", port.to_string().as_bytes()].concat()
        }
        _ => return None,
    };
    (first <= last).then_some((first, last, identity))
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
                Value::Int(7000),
                Value::BulkString(id.as_bytes().to_vec()),
            ]),
        ])
    }

    #[test]
    fn a_master_keeps_its_domain_across_refreshes() {
        let topology = Topology::new();
        assert_eq!(topology.domain(5), UNKNOWN);
        topology.learn(&Value::Array(vec![
            range(0, 99, "a"),
            range(100, 16_383, "b"),
        ]));
        assert_eq!((topology.domain(99), topology.domain(100)), (1, 2));
        // Slots 0..=99 failed over to "c"; "b" keeps domain 2.
        topology.learn(&Value::Array(vec![
            range(100, 16_383, "b"),
            range(0, 99, "c"),
        ]));
        assert_eq!((topology.domain(0), topology.domain(16_383)), (3, 2));
        // A reply of another shape changes nothing.
        topology.learn(&Value::Int(1));
        topology.learn(&Value::Array(vec![Value::Int(1)]));
        assert_eq!(topology.domain(0), 3);
    }
}
