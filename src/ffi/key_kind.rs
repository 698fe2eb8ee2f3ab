//! How a C call names a key, and the one table of each key kind that sits
//! behind a keyed handle (`FG_KEY_U64`, `FG_KEY_BYTES`, `FG_KEY_IP`).

use super::args;
use super::keyed::{
    FG_FULL_TABLE_ADMIT, FG_FULL_TABLE_DENY, FG_FULL_TABLE_OVERFLOW, FG_KEY_BYTES, FG_KEY_IP,
    FG_KEY_U64,
};
use super::status::{Failure, FgStatus};
use crate::core::decision::Decision;
use crate::core::error::Error;
use crate::core::quota::Quota;
use crate::keyed::FullTable;
use crate::policy::{Layer, LayerKey};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A handle's table, by key kind: `U` for `u64` keys, `B` for byte keys and
/// `I` for IP addresses (each kind its own monomorphic table, so a check
/// dispatches once on the kind and then runs the typed code).
pub(crate) enum ByKeyKind<U, B, I> {
    U64(U),
    Bytes(B),
    Ip(I),
}

/// Runs `$call` on whichever table `$tables` holds, bound to `$table`.
macro_rules! each_kind {
    ($tables:expr, |$table:ident| $call:expr) => {
        match $tables {
            $crate::ffi::key_kind::ByKeyKind::U64($table) => $call,
            $crate::ffi::key_kind::ByKeyKind::Bytes($table) => $call,
            $crate::ffi::key_kind::ByKeyKind::Ip($table) => $call,
        }
    };
}
pub(crate) use each_kind;

/// Builds the table for the `key_kind` a C caller passed in `$field`
/// (`$build` sees the key type as `$key`), or returns
/// `FG_STATUS_INVALID_ARGUMENT` from the enclosing function for a value that
/// is no `FG_KEY_*` constant.
macro_rules! new_by_key_kind {
    ($key_kind:expr, $field:literal, |$key:ident| $build:expr) => {
        match $crate::ffi::key_kind::KeyKind::from_c($key_kind, $field)? {
            $crate::ffi::key_kind::KeyKind::U64 => {
                type $key = u64;
                $crate::ffi::key_kind::ByKeyKind::U64($build)
            }
            $crate::ffi::key_kind::KeyKind::Bytes => {
                type $key = [u8];
                $crate::ffi::key_kind::ByKeyKind::Bytes($build)
            }
            $crate::ffi::key_kind::KeyKind::Ip => {
                type $key = std::net::IpAddr;
                $crate::ffi::key_kind::ByKeyKind::Ip($build)
            }
        }
    };
}
pub(crate) use new_by_key_kind;

/// An `FG_KEY_*` value, checked.
pub(crate) enum KeyKind {
    U64,
    Bytes,
    Ip,
}

impl KeyKind {
    pub(crate) fn from_c(key_kind: u32, field: &'static str) -> Result<Self, Failure> {
        match key_kind {
            FG_KEY_U64 => Ok(KeyKind::U64),
            FG_KEY_BYTES => Ok(KeyKind::Bytes),
            FG_KEY_IP => Ok(KeyKind::Ip),
            other => Err(args::unknown_constant(field, other)),
        }
    }
}

/// `config->on_full`, an `FG_FULL_TABLE_*` value, as the [`FullTable`] it names.
pub(crate) fn full_table(on_full: u32) -> Result<FullTable, Failure> {
    match on_full {
        FG_FULL_TABLE_DENY => Ok(FullTable::Deny),
        FG_FULL_TABLE_ADMIT => Ok(FullTable::Admit),
        FG_FULL_TABLE_OVERFLOW => Ok(FullTable::Overflow),
        other => Err(args::unknown_constant("config->on_full", other)),
    }
}

/// Keyed tables of any key kind are a policy layer: each call goes to the
/// typed table's own [`Layer`] implementation, which checks the key's kind.
impl<U: Layer, B: Layer, I: Layer> Layer for ByKeyKind<U, B, I> {
    fn check_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> crate::Result<Decision> {
        each_kind!(self, |table| table.check_at(key, cost, now_ns))
    }

    fn probe_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> crate::Result<Decision> {
        each_kind!(self, |table| table.probe_at(key, cost, now_ns))
    }

    fn refund_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> crate::Result<()> {
        each_kind!(self, |table| table.refund_at(key, cost, now_ns))
    }

    /// The typed table's answer: a policy over a shared table must read the
    /// machine's clock, as every other process charging it does.
    fn is_shared(&self) -> bool {
        each_kind!(self, |table| table.is_shared())
    }
}

/// A key as a C call passes it.
#[derive(Clone, Copy)]
pub(crate) enum CKey<'a> {
    Id(u64),
    Bytes(&'a [u8]),
}

/// An IP address from its 4 or 16 network-order bytes.
pub(crate) fn ip_from_bytes(bytes: &[u8], name: &'static str) -> Result<IpAddr, Failure> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return Ok(IpAddr::V6(Ipv6Addr::from(v6)));
    }
    Err(Failure::new(
        FgStatus::InvalidLength,
        format!(
            "`{name}` is {} bytes; an IP address key is 4 or 16",
            bytes.len()
        ),
    ))
}

/// What a keyed call answers, as one `Result`: `u64` and IP keys answer plain
/// values, byte keys a `Result`.
pub(crate) trait Answered<T> {
    fn answered(self) -> Result<T, Failure>;
}

impl Answered<Decision> for Decision {
    fn answered(self) -> Result<Decision, Failure> {
        Ok(self)
    }
}

impl Answered<Quota> for Quota {
    fn answered(self) -> Result<Quota, Failure> {
        Ok(self)
    }
}

impl Answered<Option<Decision>> for Option<Decision> {
    fn answered(self) -> Result<Option<Decision>, Failure> {
        Ok(self)
    }
}

impl Answered<u64> for u64 {
    fn answered(self) -> Result<u64, Failure> {
        Ok(self)
    }
}

impl Answered<()> for () {
    fn answered(self) -> Result<(), Failure> {
        Ok(())
    }
}

impl<T> Answered<T> for Result<T, Error> {
    fn answered(self) -> Result<T, Failure> {
        Ok(self?)
    }
}

/// Runs `$body` with `$table` the typed table behind a [`ByKeyKind`] and
/// `$key` a reference to the key in that table's type, or fails with
/// `FG_STATUS_KEY_KIND_MISMATCH`.
macro_rules! with_key {
    ($tables:expr, $ckey:expr, |$table:ident, $key:ident| $body:expr) => {
        match ($tables, $ckey) {
            ($crate::ffi::key_kind::ByKeyKind::U64($table), CKey::Id(id)) => {
                let $key = &id;
                Answered::answered($body)
            }
            ($crate::ffi::key_kind::ByKeyKind::Bytes($table), CKey::Bytes(bytes)) => {
                let $key = bytes;
                Answered::answered($body)
            }
            ($crate::ffi::key_kind::ByKeyKind::Ip($table), CKey::Bytes(bytes)) => {
                let $key = &ip_from_bytes(bytes, "key")?;
                Answered::answered($body)
            }
            (_, key) => Err(kind_mismatch(key)),
        }
    };
}
pub(crate) use with_key;

#[cold]
#[inline(never)]
pub(crate) fn kind_mismatch(key: CKey<'_>) -> Failure {
    let (given, wanted) = match key {
        CKey::Id(_) => ("a u64 key", "*_bytes"),
        CKey::Bytes(_) => ("a byte key", "*_u64"),
    };
    Failure::new(
        FgStatus::KeyKindMismatch,
        format!("{given} for a limiter of another key kind (use the {wanted} functions)"),
    )
}

/// A key exactly as an export received it, read (a byte key's pointer
/// dereferenced) only inside the export's guard, after its handle checks.
/// The per-request exports (checks, acquire, release) hand it to their
/// shared body inside a closure (`|| Id(key)`): each closure is its own type,
/// so each export gets its own inlined copy of that body and of its guard.
#[derive(Clone, Copy)]
pub(crate) enum RawKey {
    /// A `*_u64` function's `key`.
    Id(u64),
    /// A `*_bytes` function's `key` and `key_len`.
    Bytes(*const u8, usize),
}

impl RawKey {
    /// # Safety
    /// A `Bytes` pointer must be NULL or readable for its length.
    #[inline(always)]
    pub(crate) unsafe fn read<'a>(self) -> Result<CKey<'a>, Failure> {
        match self {
            RawKey::Id(id) => Ok(CKey::Id(id)),
            // SAFETY: the caller's contract is `bytes`'.
            RawKey::Bytes(key, len) => Ok(CKey::Bytes(unsafe { args::bytes(key, len, "key") }?)),
        }
    }
}
