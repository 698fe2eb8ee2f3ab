//! Keyed limits as layers: a [`LayerKey`] of the right kind picks the key.

use super::layer::{Layer, LayerKey};
use crate::core::clock::Clock;
use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::keyed::{check_key_len, Key, KeyedLimiter};
use crate::window::keyed::KeyedWindows;
use std::net::IpAddr;

/// A key type a [`LayerKey`] can present.
pub trait LayerKeyKind: Key {
    /// Hands the key `layer_key` carries to `then`, or
    /// [`Error::LayerKeyMismatch`] (or the key's own error) when it carries
    /// another kind.
    fn with_layer_key<T>(layer_key: LayerKey<'_>, then: impl FnOnce(&Self) -> T) -> Result<T>;

    /// The [`LayerKey`] that presents this key.
    fn layer_key(&self) -> LayerKey<'_>;
}

/// Key types held by value in one [`LayerKey`] variant, whose keyed calls
/// cannot fail: `u64` ids and IP addresses.
macro_rules! copied_key_kind {
    ($key:ty, $variant:ident) => {
        impl LayerKeyKind for $key {
            #[inline]
            fn with_layer_key<T>(
                layer_key: LayerKey<'_>,
                then: impl FnOnce(&Self) -> T,
            ) -> Result<T> {
                match layer_key {
                    LayerKey::$variant(key) => Ok(then(&key)),
                    _ => Err(Error::LayerKeyMismatch),
                }
            }

            #[inline]
            fn layer_key(&self) -> LayerKey<'_> {
                LayerKey::$variant(*self)
            }
        }
    };
}

copied_key_kind!(u64, Id);
copied_key_kind!(IpAddr, Ip);

impl LayerKeyKind for [u8] {
    #[inline]
    fn with_layer_key<T>(layer_key: LayerKey<'_>, then: impl FnOnce(&Self) -> T) -> Result<T> {
        let bytes = match layer_key {
            LayerKey::Bytes(bytes) => bytes,
            LayerKey::Str(text) => text.as_bytes(),
            _ => return Err(Error::LayerKeyMismatch),
        };
        check_key_len(bytes).map(|()| then(bytes))
    }

    #[inline]
    fn layer_key(&self) -> LayerKey<'_> {
        LayerKey::Bytes(self)
    }
}

impl LayerKeyKind for str {
    #[inline]
    fn with_layer_key<T>(layer_key: LayerKey<'_>, then: impl FnOnce(&Self) -> T) -> Result<T> {
        let text = match layer_key {
            LayerKey::Str(text) => text,
            LayerKey::Bytes(bytes) => {
                std::str::from_utf8(bytes).map_err(|_| Error::LayerKeyMismatch)?
            }
            _ => return Err(Error::LayerKeyMismatch),
        };
        check_key_len(text.as_bytes()).map(|()| then(text))
    }

    #[inline]
    fn layer_key(&self) -> LayerKey<'_> {
        LayerKey::Str(self)
    }
}

/// The keyed limits, each asked through its own keyed `*_at` methods.
macro_rules! keyed_layer {
    ($limit:ident $(is $is_shared:ident)?, $($bound:tt)+) => {
        impl<K: LayerKeyKind + ?Sized, C: $($bound)+> Layer for $limit<K, C> {
            #[inline]
            fn check_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision> {
                K::with_layer_key(key, |key| K::answered($limit::check_at(self, key, cost, now_ns)))
                    .and_then(|decision| decision)
            }

            #[inline]
            fn probe_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision> {
                K::with_layer_key(key, |key| K::answered($limit::probe_at(self, key, cost, now_ns)))
                    .and_then(|decision| decision)
            }

            #[inline]
            fn refund_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()> {
                K::with_layer_key(key, |key| {
                    K::answered($limit::refund_at(self, key, cost, now_ns)).map(|_| ())
                })?
            }

            $(fn is_shared(&self) -> bool {
                $limit::$is_shared(self)
            })?
        }
    };
}

keyed_layer!(KeyedLimiter is is_shared, Clock);
keyed_layer!(KeyedWindows is is_shared, Clock + Clone);
