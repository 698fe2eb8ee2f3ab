//! One limit a [`Policy`](super::Policy) consults, and the key it is asked about.

use crate::core::clock::Clock;
use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::limiter::Limiter;
use crate::window::SlidingWindow;
use std::net::IpAddr;
use std::sync::Arc;

/// The key a request presents to one layer: nothing for a global limit, an
/// id, bytes (an API key, a token) or an IP address.
///
/// ```
/// use floodgate::LayerKey;
/// use std::net::{IpAddr, Ipv4Addr};
/// assert!(matches!(LayerKey::from("gos_live_1"), LayerKey::Str("gos_live_1")));
/// assert!(matches!(LayerKey::from(&b"raw"[..]), LayerKey::Bytes(b"raw")));
/// assert!(matches!(LayerKey::from(7u64), LayerKey::Id(7)));
/// assert!(matches!(LayerKey::from(IpAddr::V4(Ipv4Addr::LOCALHOST)), LayerKey::Ip(_)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerKey<'a> {
    /// For a layer that limits everything together.
    Unkeyed,
    /// A numeric id (workspace 42).
    Id(u64),
    /// Bytes: an API key, an access token, an endpoint name.
    Bytes(&'a [u8]),
    /// Text: the same as its UTF-8 bytes, without re-checking the encoding
    /// for layers keyed by `str`.
    Str(&'a str),
    /// A source address.
    Ip(IpAddr),
}

impl From<u64> for LayerKey<'_> {
    fn from(id: u64) -> Self {
        LayerKey::Id(id)
    }
}

impl<'a> From<&'a str> for LayerKey<'a> {
    fn from(key: &'a str) -> Self {
        LayerKey::Str(key)
    }
}

impl<'a> From<&'a [u8]> for LayerKey<'a> {
    fn from(key: &'a [u8]) -> Self {
        LayerKey::Bytes(key)
    }
}

impl From<IpAddr> for LayerKey<'_> {
    fn from(address: IpAddr) -> Self {
        LayerKey::Ip(address)
    }
}

/// A limit that can take part in a layered check. Every method gets the
/// policy's timestamp, so all layers of one check share one "now".
///
/// Implemented for [`Limiter`], [`SlidingWindow`], [`KeyedLimiter`] and
/// [`KeyedWindows`](crate::KeyedWindows), and for `Arc`s of them, so an
/// application can keep a handle to a layer (to reconfigure it) while the
/// policy uses it.
///
/// [`KeyedLimiter`]: crate::KeyedLimiter
pub trait Layer: Send + Sync {
    /// Decides `cost` for `key` at `now_ns`, charging it when admitted; a
    /// key of the wrong kind, or an invalid one, is an error that charges
    /// nothing.
    fn check_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision>;

    /// What [`check_at`](Self::check_at) would decide, charging nothing.
    fn probe_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision>;

    /// Gives back `cost` charged by an admitted [`check_at`](Self::check_at).
    fn refund_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()>;

    /// Whether the layer keeps its state in a shared segment (built
    /// `.shared(..)`): a policy over such a layer reads the machine's
    /// clock, [`MonotonicClock::system`](crate::MonotonicClock::system), so
    /// that every worker process charges it on one timeline.
    fn is_shared(&self) -> bool {
        false
    }
}

/// Unkeyed layers take only [`LayerKey::Unkeyed`], so a request whose keys
/// are listed in the wrong order fails loudly instead of limiting the wrong thing.
fn unkeyed(key: LayerKey<'_>) -> Result<()> {
    match key {
        LayerKey::Unkeyed => Ok(()),
        _ => Err(Error::LayerKeyMismatch),
    }
}

/// The unkeyed limits, each asked through its own `*_at` methods.
macro_rules! unkeyed_layer {
    ($limit:ident $(is $is_shared:ident)?) => {
        impl<C: Clock> Layer for $limit<C> {
            fn check_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision> {
                unkeyed(key).map(|()| $limit::check_at(self, cost, now_ns))
            }

            fn probe_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision> {
                unkeyed(key).map(|()| $limit::probe_at(self, cost, now_ns))
            }

            fn refund_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()> {
                unkeyed(key).map(|()| {
                    $limit::refund_at(self, cost, now_ns);
                })
            }

            $(fn is_shared(&self) -> bool {
                $limit::$is_shared(self)
            })?
        }
    };
}

unkeyed_layer!(Limiter is is_shared);
unkeyed_layer!(SlidingWindow is is_shared);

impl<L: Layer + ?Sized> Layer for Arc<L> {
    fn check_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision> {
        (**self).check_at(key, cost, now_ns)
    }

    fn probe_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision> {
        (**self).probe_at(key, cost, now_ns)
    }

    fn refund_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()> {
        (**self).refund_at(key, cost, now_ns)
    }

    fn is_shared(&self) -> bool {
        (**self).is_shared()
    }
}

/// A [`Layer`] as a layered check asks it: the key by reference and the
/// decision written into a slot the caller keeps. Through `dyn`, a key by
/// value is copied for each call and a returned `Result<Decision>` copied
/// out of its return slot, each a store-to-load stall on the hot path; here
/// the caller reads the decision where the layer wrote it.
pub(crate) trait AnswerInto: Send + Sync {
    /// [`Layer::check_at`], its decision written to `into`.
    fn check_into(
        &self,
        key: &LayerKey<'_>,
        cost: u64,
        now_ns: u64,
        into: &mut Decision,
    ) -> Result<()>;

    /// [`Layer::probe_at`], its decision written to `into`.
    fn probe_into(
        &self,
        key: &LayerKey<'_>,
        cost: u64,
        now_ns: u64,
        into: &mut Decision,
    ) -> Result<()>;

    /// [`Layer::refund_at`].
    fn refund(&self, key: &LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()>;

    /// [`Layer::is_shared`].
    fn in_shared_memory(&self) -> bool;
}

impl<L: Layer + ?Sized> AnswerInto for L {
    #[inline]
    fn check_into(
        &self,
        key: &LayerKey<'_>,
        cost: u64,
        now_ns: u64,
        into: &mut Decision,
    ) -> Result<()> {
        *into = self.check_at(*key, cost, now_ns)?;
        Ok(())
    }

    #[inline]
    fn probe_into(
        &self,
        key: &LayerKey<'_>,
        cost: u64,
        now_ns: u64,
        into: &mut Decision,
    ) -> Result<()> {
        *into = self.probe_at(*key, cost, now_ns)?;
        Ok(())
    }

    fn in_shared_memory(&self) -> bool {
        self.is_shared()
    }

    #[inline]
    fn refund(&self, key: &LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()> {
        self.refund_at(*key, cost, now_ns)
    }
}
