//! Keys: what a keyed limiter accepts, and the identity a slot stores for each.
//!
//! * `u64` keys are stored whole: two keys share a bucket only if they are
//!   equal. Their home slot comes from two multiply-folds of the key, the
//!   first under the limiter's secret.
//! * Byte keys (`str`, `[u8]`) and IP addresses are stored as a 128-bit
//!   fingerprint: SipHash-1-3 with 128-bit output under a 128-bit key drawn
//!   from std's `RandomState` (seeded from the OS) when the limiter is built.
//!   SipHash is a pseudo-random function, so without the key an attacker
//!   can neither predict slots nor find colliding keys faster than by luck:
//!   two distinct keys get the same fingerprint, and so share a bucket, with
//!   probability about 2^-128, and share even the 64-bit half that a slot's
//!   CAS compares (see `pair.rs`) with probability about 2^-64 per pair.
//!   The home slot comes from the low half, the tag from the high half, so
//!   neighbours in a probe window are no likelier to share a tag.

use crate::core::error::{Error, Result};
use siphasher::sip128::SipHasher13;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest byte-string key accepted, in bytes. Longer keys are refused
/// with [`Error::KeyTooLong`], which bounds the hashing work one request
/// can cause.
pub const MAX_KEY_LEN: usize = 4096;

/// A kind of key a [`KeyedLimiter`](crate::KeyedLimiter) can be keyed by:
/// `u64`, `str`, `[u8]`, [`IpAddr`], [`Ipv4Addr`] and [`Ipv6Addr`].
///
/// [`Answer`](Key::Answer) is what a call with such a key returns: the
/// value itself for keys that are always valid (`u64`, IP addresses), and a
/// [`Result`] for byte strings, which may be empty or too long.
///
/// # One answer shape for keyed calls
///
/// Every keyed kind ([`KeyedLimiter`](crate::KeyedLimiter),
/// [`KeyedWindows`](crate::KeyedWindows), [`KeyedInFlight`](crate::KeyedInFlight),
/// [`Suspensions`](crate::Suspensions)) answers the same way:
///
/// * a refusal is data in the answer, never an error: a
///   [`Decision`](crate::Decision)'s [`Outcome`](crate::Outcome), a
///   suspension's `Some(Decision)`, an
///   [`Acquisition::Refused`](crate::Acquisition::Refused);
/// * `Err(`[`Error`]`)` means the call changed nothing: a bad byte key, or,
///   for a call that may insert a key or takes input to validate, a full
///   table ([`Error::TableFull`]) or a bad argument;
/// * a call that can fail only by its key returns
///   [`Answer`](Key::Answer)`<T>`; a call that can fail otherwise returns
///   [`Result`]`<T>` for every key type. No call returns a nested `Result`.
///
/// ```
/// use floodgate::{Error, KeyedLimiter, Quota};
///
/// let ids = KeyedLimiter::<u64>::builder(Quota::per_second(5)?).build()?;
/// let decision = ids.check(&42, 1); // a Decision
/// assert!(decision.is_admitted());
///
/// let tokens = KeyedLimiter::<str>::builder(Quota::per_second(5)?).build()?;
/// assert!(tokens.check("sk_live_abc", 1)?.is_admitted()); // a Result<Decision>
/// assert_eq!(tokens.check("", 1), Err(Error::EmptyKey));
/// # Ok::<(), floodgate::Error>(())
/// ```
pub trait Key: sealed::Sealed {
    /// What a call keyed by this type returns around its value `T`.
    type Answer<T>;
    /// The key type as a shared segment's header records it: `u64` 1, byte
    /// strings (`str` and `[u8]`, which hash alike) 2, `IpAddr` 3,
    /// `Ipv4Addr` 4, `Ipv6Addr` 5.
    #[doc(hidden)]
    const SHARED_KEY: u64;
    /// How a slot stores this key.
    #[doc(hidden)]
    type Stored: StoredKey;
    /// Validates the key and hands its stored form to `then`.
    #[doc(hidden)]
    fn with_stored<T>(
        &self,
        hasher: &KeyHasher,
        then: impl FnOnce(Self::Stored) -> T,
    ) -> Self::Answer<T>;
    /// An answer as a `Result`: `Ok` around a plain value.
    #[doc(hidden)]
    fn answered<T>(answer: Self::Answer<T>) -> Result<T>;
    /// One `Result` out of a fallible operation's answer.
    #[doc(hidden)]
    fn into_result<T>(answer: Self::Answer<Result<T>>) -> Result<T> {
        Self::answered(answer)?
    }
    /// The value in `answer`, unless it is an invalid key's error.
    #[doc(hidden)]
    fn value_of<T>(answer: &Self::Answer<T>) -> Option<&T>;
    /// `answer` with its value passed through `then`; an error stays itself.
    #[doc(hidden)]
    fn map_answer<T, U>(answer: Self::Answer<T>, then: impl FnOnce(T) -> U) -> Self::Answer<U>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for str {}
    impl Sealed for [u8] {}
    impl Sealed for std::net::IpAddr {}
    impl Sealed for std::net::Ipv4Addr {}
    impl Sealed for std::net::Ipv6Addr {}
}

/// A key as its slot stores it.
#[doc(hidden)]
pub trait StoredKey: Copy {
    /// Whether the key has a second half kept outside the 16-byte pair.
    const HAS_EXTRA: bool;
    /// 64 uniformly spread bits that choose the home slot.
    fn home(self) -> u64;
    /// The half stored beside the bucket word and compared by every CAS.
    fn tag(self) -> u64;
    /// The other half (0 when there is none).
    fn extra(self) -> u64;
}

/// A `u64` key and its home hash.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Exact {
    key: u64,
    home: u64,
}

impl StoredKey for Exact {
    const HAS_EXTRA: bool = false;
    #[inline]
    fn home(self) -> u64 {
        self.home
    }
    #[inline]
    fn tag(self) -> u64 {
        self.key
    }
    #[inline]
    fn extra(self) -> u64 {
        0
    }
}

/// A byte key's 128-bit fingerprint.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Fingerprint {
    high: u64,
    low: u64,
}

impl StoredKey for Fingerprint {
    const HAS_EXTRA: bool = true;
    #[inline]
    fn home(self) -> u64 {
        self.low
    }
    #[inline]
    fn tag(self) -> u64 {
        self.high
    }
    #[inline]
    fn extra(self) -> u64 {
        self.low
    }
}

/// The per-limiter secret that turns keys into slots and fingerprints.
#[doc(hidden)]
pub struct KeyHasher {
    salt: u64,
    multiplier: u64,
    sip: SipHasher13,
}

impl KeyHasher {
    /// A hasher keyed by 256 fresh random bits.
    pub(crate) fn random() -> Self {
        Self::from_secret(Self::random_secret())
    }

    /// 256 fresh random bits to key a hasher with.
    pub(crate) fn random_secret() -> [u64; 4] {
        // Loom replays each execution and needs the same slots every time.
        #[cfg(loom)]
        let secret: [u64; 4] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344, 3, 4];
        // RandomState is SipHash-1-3 under OS-random keys: hashing four
        // distinct inputs yields four unpredictable words.
        #[cfg(not(loom))]
        let secret: [u64; 4] = {
            use std::hash::BuildHasher;
            let state = std::collections::hash_map::RandomState::new();
            std::array::from_fn(|i| state.hash_one(i))
        };
        secret
    }

    /// The hasher `secret` keys: every process keyed alike hashes alike.
    pub(crate) fn from_secret(secret: [u64; 4]) -> Self {
        Self {
            salt: secret[0],
            multiplier: secret[1] | 1,
            sip: SipHasher13::new_with_keys(secret[2], secret[3]),
        }
    }

    #[inline]
    fn exact(&self, key: u64) -> Exact {
        // One keyed fold maps a structured key set (sequential ids, strides)
        // onto a lattice whose two 32-bit halves, which pick a key's two
        // buckets, move together: at 80% load about one secret in thirty
        // left keys with both buckets full. A second fold mixes the halves.
        Exact {
            key,
            home: folded_multiply(folded_multiply(key ^ self.salt, self.multiplier), SPREAD),
        }
    }

    #[inline]
    fn fingerprint(&self, bytes: &[u8]) -> Fingerprint {
        let hash = self.sip.hash(bytes);
        Fingerprint {
            high: hash.h1,
            low: hash.h2,
        }
    }

    pub(crate) fn checked_fingerprint(&self, bytes: &[u8]) -> Result<Fingerprint> {
        check_key_len(bytes)?;
        Ok(self.fingerprint(bytes))
    }
}

/// The odd multiplier of the unkeyed second fold (pi's first fractional bits).
const SPREAD: u64 = 0x243f_6a88_85a3_08d3;

/// The 128-bit product of `a` and `b`, its halves XORed together.
#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// The rule every byte key obeys: not empty, at most [`MAX_KEY_LEN`] bytes.
pub(crate) fn check_key_len(bytes: &[u8]) -> Result<()> {
    match bytes.len() {
        0 => Err(Error::EmptyKey),
        len if len > MAX_KEY_LEN => Err(Error::KeyTooLong),
        _ => Ok(()),
    }
}

/// The answer methods of a key kind that cannot be invalid: its answer is
/// the value itself.
macro_rules! plain_answers {
    () => {
        fn answered<T>(answer: T) -> Result<T> {
            Ok(answer)
        }
        #[inline]
        fn value_of<T>(answer: &T) -> Option<&T> {
            Some(answer)
        }
        #[inline]
        fn map_answer<T, U>(answer: T, then: impl FnOnce(T) -> U) -> U {
            then(answer)
        }
    };
}

/// The answer methods of a key kind that may be invalid (empty, too long):
/// its answer is a `Result`.
macro_rules! fallible_answers {
    () => {
        fn answered<T>(answer: Result<T>) -> Result<T> {
            answer
        }
        #[inline]
        fn value_of<T>(answer: &Result<T>) -> Option<&T> {
            answer.as_ref().ok()
        }
        #[inline]
        fn map_answer<T, U>(answer: Result<T>, then: impl FnOnce(T) -> U) -> Result<U> {
            answer.map(then)
        }
    };
}

impl Key for u64 {
    const SHARED_KEY: u64 = 1;
    type Answer<T> = T;
    type Stored = Exact;
    // Always: with a check's closure this body is the whole check, which a
    // caller as large as a C ABI export would otherwise call out of line
    // (see `KeyedLimiter::check_at`).
    #[inline(always)]
    fn with_stored<T>(&self, hasher: &KeyHasher, then: impl FnOnce(Exact) -> T) -> T {
        then(hasher.exact(*self))
    }
    plain_answers!();
}

impl Key for [u8] {
    const SHARED_KEY: u64 = 2;
    type Answer<T> = Result<T>;
    type Stored = Fingerprint;
    #[inline]
    fn with_stored<T>(&self, hasher: &KeyHasher, then: impl FnOnce(Fingerprint) -> T) -> Result<T> {
        hasher.checked_fingerprint(self).map(then)
    }
    fallible_answers!();
}

impl Key for str {
    const SHARED_KEY: u64 = 2;
    type Answer<T> = Result<T>;
    type Stored = Fingerprint;
    #[inline]
    fn with_stored<T>(&self, hasher: &KeyHasher, then: impl FnOnce(Fingerprint) -> T) -> Result<T> {
        hasher.checked_fingerprint(self.as_bytes()).map(then)
    }
    fallible_answers!();
}

/// IPv4 and IPv6 addresses hash their 4 or 16 octets: inputs of different
/// lengths, so an IPv4 address and an IPv6 one never share a fingerprint
/// except by the 2^-128 chance. `::ffff:1.2.3.4` and `1.2.3.4` are distinct
/// keys; use [`IpAddr::to_canonical`] first to merge them.
impl Key for IpAddr {
    const SHARED_KEY: u64 = 3;
    type Answer<T> = T;
    type Stored = Fingerprint;
    #[inline]
    fn with_stored<T>(&self, hasher: &KeyHasher, then: impl FnOnce(Fingerprint) -> T) -> T {
        match self {
            IpAddr::V4(v4) => v4.with_stored(hasher, then),
            IpAddr::V6(v6) => v6.with_stored(hasher, then),
        }
    }
    plain_answers!();
}

impl Key for Ipv4Addr {
    const SHARED_KEY: u64 = 4;
    type Answer<T> = T;
    type Stored = Fingerprint;
    #[inline]
    fn with_stored<T>(&self, hasher: &KeyHasher, then: impl FnOnce(Fingerprint) -> T) -> T {
        then(hasher.fingerprint(&self.octets()))
    }
    plain_answers!();
}

impl Key for Ipv6Addr {
    const SHARED_KEY: u64 = 5;
    type Answer<T> = T;
    type Stored = Fingerprint;
    #[inline]
    fn with_stored<T>(&self, hasher: &KeyHasher, then: impl FnOnce(Fingerprint) -> T) -> T {
        then(hasher.fingerprint(&self.octets()))
    }
    plain_answers!();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn byte_keys_are_validated() {
        let hasher = KeyHasher::random();
        assert_eq!("".with_stored(&hasher, |_| ()), Err(Error::EmptyKey));
        let long = vec![b'k'; MAX_KEY_LEN + 1];
        assert_eq!(
            long[..].with_stored(&hasher, |_| ()),
            Err(Error::KeyTooLong)
        );
        assert!(long[..MAX_KEY_LEN].with_stored(&hasher, |_| ()).is_ok());
    }

    #[test]
    fn str_and_bytes_fingerprint_alike_and_distinct_keys_differ() {
        let hasher = KeyHasher::random();
        let a = "api-key-1"
            .with_stored(&hasher, |f| (f.tag(), f.extra()))
            .unwrap();
        let b = b"api-key-1"[..]
            .with_stored(&hasher, |f| (f.tag(), f.extra()))
            .unwrap();
        let c = "api-key-2"
            .with_stored(&hasher, |f| (f.tag(), f.extra()))
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn u64_keys_are_stored_whole() {
        let hasher = KeyHasher::random();
        assert_eq!(7u64.with_stored(&hasher, |e| e.tag()), 7);
        const { assert!(!Exact::HAS_EXTRA && Fingerprint::HAS_EXTRA) };
    }

    #[test]
    fn ipv4_and_mapped_ipv6_are_distinct_keys() {
        let hasher = KeyHasher::random();
        let v4: IpAddr = "1.2.3.4".parse().unwrap();
        let mapped: IpAddr = "::ffff:1.2.3.4".parse().unwrap();
        let tag = |ip: &IpAddr| ip.with_stored(&hasher, |f| f.tag());
        assert_ne!(tag(&v4), tag(&mapped));
        assert_eq!(tag(&v4), tag(&mapped.to_canonical()));
    }

    #[test]
    fn two_limiters_hash_differently() {
        let one = KeyHasher::random();
        let two = KeyHasher::random();
        let home = |h: &KeyHasher| 99u64.with_stored(h, |e| e.home());
        assert_ne!(home(&one), home(&two));
    }
}
