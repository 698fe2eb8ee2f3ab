//! Keyed limiting: one GCRA bucket per key in a lock-free, fixed-size table.
//!
//! * `key.rs`: the key kinds and how they are stored (exact `u64`, or a
//!   128-bit SipHash-1-3 fingerprint under a per-limiter random key).
//! * `pair.rs`: a slot = (key tag, bucket word) as one 16-byte atomic.
//! * `table.rs`: contiguous slots in 16-slot buckets, two candidate buckets
//!   per key, and the claim / prove-unique / publish protocol that inserts
//!   and reclaims.
//! * `hints.rs`: a byte of hash per slot, so lookups visit one slot, not 16.
//! * `overrides.rs`: per-key quotas in a side table, found by generation.
//! * `limiter.rs` and `builder.rs`: the public [`KeyedLimiter`].
//!
//! # The slot
//!
//! ```text
//!  127                64 63                                      0
//! [ tag: u64 key, or    | word: the core StateWord               ]
//! [ fingerprint high    | [generation:2 | live:1 | tat:61]       ]
//! ```
//!
//! plus, for byte keys, the fingerprint's low half in a parallel array: 16
//! bytes per slot for `u64` keys, 24 for byte keys. The word is exactly the
//! single limiter's word, decided by `gcra::evaluate` / `refund` / `convert`;
//! the keyed table adds meanings only for words no bucket can be (marks:
//! not live with a non-zero `tat`, see `state.rs`) and gives the generation
//! field a split: 0-1 name the default quota, 2-3 a per-key quota.
//!
//! # Why a check never charges another key
//!
//! A check reads `(tag, word)`, decides, and CASes the whole pair from that
//! value. The CAS succeeds only if the slot holds the same tag, so a slot
//! that was reclaimed and given to another key, even one whose word has the
//! very same bits (two full buckets), makes it fail. For `u64` keys the tag
//! is the key: the guarantee is exact. For byte keys it is 64 bits of a keyed
//! PRF, so a stale check could only hit a key sharing its tag: probability
//! about 2^-64 per pair of keys, and only inside that race. The loom model
//! `tests/loom_keyed.rs` checks both races (two keys into one slot, a
//! reclaim racing a check of the old key) with every interleaving.
//!
//! # Reclamation
//!
//! A bucket with zero debt at the prober's time is full, indistinguishable
//! from no bucket. A new key's lookup, after finding the key absent, takes
//! the first `Empty` or `Free` slot of its emptier candidate bucket or, when
//! it has none, the first such full default-quota bucket (so idle keys keep
//! their slots while there is room), by CAS of the whole pair, so the old
//! key's checks fail and find it absent (then full, correctly). Keys with
//! their own quota are never reclaimed. Reuse in place keeps every search
//! correct: a slot never returns to `Empty`, so `Empty` still ends the
//! search of a bucket.
//!
//! # One bucket per key
//!
//! See `table.rs`: a new key's slot is claimed `Pending`, then both
//! candidate buckets are scanned again (after a `SeqCst` fence) for another
//! claim or bucket of the same key; the claim earliest in the key's window
//! wins and the others give up. Lookups pass over pending claims, so checks
//! of a live key never wait for an insertion. The loom model races two
//! insertions of one key and checks that one bucket takes both charges.
//!
//! # Quotas
//!
//! The default quota lives in a `QuotaRing` (generations 0 and 1);
//! [`KeyedLimiter::reconfigure`] installs the new one in the other generation
//! and sweeps every slot's word across with `gcra::convert` (O(capacity),
//! off the check path). Per-key quotas live in `overrides.rs`' side table,
//! keyed by slot index, consulted only for words of generation 2 or 3, so
//! keys without one never pay for it.
//!
//! A change of any one quota source (the default, or one key's override)
//! alternates between two generations. A check that read a word, then was
//! delayed across *two* changes of that same source, could find the word
//! bit-identical again and store one charge in the older quota's units: the
//! single limiter's ring has the same window after four reconfigurations.
//! Quota changes are administrative and serialized, so this needs a check
//! preempted for two whole quota changes of its own key.

mod builder;
mod hints;
mod key;
mod limiter;
mod overrides;
mod pair;
mod table;

pub(crate) use builder::DEFAULT_CAPACITY;
pub use builder::{FullTable, KeyedLimiterBuilder, MAX_KEYED_CAPACITY};
pub(crate) use key::{check_key_len, KeyHasher, StoredKey};
pub use key::{Key, MAX_KEY_LEN};
pub use limiter::KeyedLimiter;
pub(crate) use pair::{AtomicPair, PairBits};
