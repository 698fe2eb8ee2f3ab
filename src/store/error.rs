//! Why a Redis store could not be opened.

use std::fmt;

/// Why [`RedisStore::open`](crate::store::RedisStore::open) refused.
/// Nothing was started.
///
/// ```
/// use floodgate::store::{RedisStore, StoreError};
/// assert_eq!(RedisStore::open("http://x").err(), Some(StoreError::InvalidUrl));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL did not parse: `redis://host:port/db` and
    /// `redis+unix:///path` are the forms.
    InvalidUrl,
    /// The store's runtime thread could not be started.
    Thread,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreError::InvalidUrl => {
                "store URL must be redis://host:port/db or redis+unix:///path"
            }
            StoreError::Thread => "the store's runtime thread could not be started",
        })
    }
}

impl std::error::Error for StoreError {}
