//! The license-key API, as its rate-limit page describes it
//! (../shared/seeds/003): limits per source IP and per access token at
//! once, stricter on license validation and activation (a
//! [`Policy`](crate::Policy) of keyed layers; the page gives no figures),
//! and clients backing off exponentially from 1 s.

use crate::{Jitter, RetryPolicy};
use std::time::Duration;

/// The page's retry advice: 1 s, 2 s, 4 s, 8 s with equal jitter, four
/// retries; a server's `Retry-After` is honoured exactly.
///
/// ```
/// use floodgate::{presets::license_api, Jitter};
/// use std::time::Duration;
/// let policy = license_api::retry_policy().with_jitter(Jitter::None);
/// assert_eq!(policy.delay(3, None), Some(Duration::from_secs(8)));
/// assert_eq!(policy.delay(4, None), None);
/// ```
pub fn retry_policy() -> RetryPolicy {
    RetryPolicy::new(
        Duration::from_secs(1),
        2,
        4,
        Duration::from_secs(8),
        Jitter::Equal,
    )
    .expect("a valid built-in policy")
}
