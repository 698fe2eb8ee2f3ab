//! Which limit a decision came from, as `X-RateLimit-Scope` names it.

use std::fmt;

/// The layer a limit applies to: what `X-RateLimit-Scope` reports so a
/// client knows which layer pushed back.
///
/// Copy and two words wide; a user-given name is a `&'static str` (names
/// come from configuration read once; `Box::leak` a runtime one).
///
/// ```
/// use floodgate::Scope;
/// assert_eq!(Scope::Workspace.as_str(), "workspace");
/// assert_eq!(Scope::Named("license-activation").to_string(), "license-activation");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Scope {
    /// Per API key (GenieOS's token bucket).
    Key,
    /// Per workspace, across its keys (GenieOS's sliding window).
    Workspace,
    /// Per source IP address.
    Ip,
    /// Per endpoint or resource (license validation, activation).
    Endpoint,
    /// Per API access token.
    Token,
    /// Any other layer, by name.
    Named(&'static str),
}

impl Scope {
    /// The name headers and bodies use.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::Key => "key",
            Scope::Workspace => "workspace",
            Scope::Ip => "ip",
            Scope::Endpoint => "endpoint",
            Scope::Token => "token",
            Scope::Named(name) => name,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
