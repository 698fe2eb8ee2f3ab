//! A segment's header: the words before its tables that say what they are.
//!
//! ```text
//!  word  0      magic "floodgt1"         identifies a floodgate segment
//!        1      layout version           of the tables after the header
//!        2      state                    unclaimed | setting up (pid) | ready
//!        3, 4   boot id                  the machine boot its times belong to
//!        5      size                     bytes of tables after the header
//!        6      kind                     which limiter kind (`Kind`)
//!        7-10   hash secret              every process fingerprints keys alike
//!        11-14  limits                   a quota's count, period, burst,
//!                                        lockout (ns); a window's limit,
//!                                        length (ns), 0, 0; else 0
//!        15     capacity                 keys (0 for unkeyed kinds)
//!        16     options                  kind-specific (`Description::options`)
//!        17     timeline                 the machine clock calibration its processes read
//! ```
//!
//! Every word is an atomic, so a process reading a header another is
//! still writing races nothing; the fields after `state` are written
//! before it is published ready (Release) and read after it is seen ready
//! (Acquire).

use crate::core::alloc::Shareable;
use crate::core::error::{Error, Result, SegmentMismatch};
use crate::core::quota::Quota;
use crate::sync::{AtomicU64, Ordering};
use std::time::Duration;

const MAGIC: u64 = u64::from_le_bytes(*b"floodgt1");
/// Raised whenever any kind's table layout changes, or where a key's slot
/// is (2: `u64` keys' home hash folds twice).
pub(crate) const LAYOUT_VERSION: u64 = 2;
const WORDS: usize = 32;
/// Bytes before the first table: the header, rounded to cache lines.
pub(crate) const HEADER_BYTES: usize = WORDS * 8;

const MAGIC_WORD: usize = 0;
const VERSION_WORD: usize = 1;
const STATE_WORD: usize = 2;
const BOOT_WORDS: usize = 3;
const SIZE_WORD: usize = 5;
const KIND_WORD: usize = 6;
const SECRET_WORDS: usize = 7;
const QUOTA_WORDS: usize = 11;
const CAPACITY_WORD: usize = 15;
const OPTIONS_WORD: usize = 16;
const TIMELINE_WORD: usize = 17;

/// The state word: 0 while no process has claimed the segment.
const UNCLAIMED: u64 = 0;
/// Set, with the claimer's pid below, while its tables are written.
const SETTING_UP: u64 = 1 << 62;
const READY: u64 = 1 << 63;

/// Which limiter kind a segment holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
pub(crate) enum Kind {
    Limiter = 1,
    KeyedLimiter = 2,
    SlidingWindow = 4,
    KeyedWindows = 5,
    Suspensions = 7,
    /// Plan tiers (their key types are in the options).
    Plans = 9,
    /// An in-flight cap; its max is the header's capacity.
    InFlight = 16,
    /// In-flight caps per key; the max per key is the options.
    KeyedInFlight = 17,
}

impl Kind {
    /// The code of a keyed kind of `K` keys: the kind in the low byte, the
    /// key type above it, so that a table of IP addresses and one of byte
    /// strings (both fingerprinted alike) are told apart too.
    pub(crate) fn keyed<K: crate::keyed::Key + ?Sized>(self) -> u64 {
        self as u64 | (K::SHARED_KEY << 8)
    }

    /// Whether a kind code names a keyed kind (whose table slots are
    /// 16-byte atomics).
    pub(crate) fn is_keyed(code: u64) -> bool {
        ![Kind::Limiter, Kind::SlidingWindow, Kind::InFlight]
            .map(|kind| kind as u64)
            .contains(&code)
    }
}

/// The numbers a kind is limited by, as the header's four limit words.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Limits {
    /// A token bucket's quota.
    Quota(Quota),
    /// A sliding window's limit per window of `window_ns`.
    Window { limit: u64, window_ns: u64 },
    /// A kind that limits no rate (suspensions).
    Unlimited,
}

/// What a build asks a segment to hold: checked field by field against an
/// existing segment's header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Description {
    /// A [`Kind`], as its code.
    pub(crate) kind: u64,
    pub(crate) limits: Limits,
    pub(crate) capacity: u64,
    /// Kind-specific settings that change the layout or behaviour (a keyed
    /// limiter's full-table choice and override count, say).
    pub(crate) options: u64,
}

/// What a process found in the state word.
pub(crate) enum State {
    /// Not a state floodgate writes: the file is something else.
    Foreign,
    Unclaimed,
    SettingUp {
        pid: u64,
    },
    Ready,
}

pub(crate) struct Header {
    words: [AtomicU64; WORDS],
}

// SAFETY: atomic integers only.
unsafe impl Shareable for Header {}

impl Header {
    pub(crate) fn state(&self) -> State {
        // Acquire: a ready state makes the header and tables written
        // before it visible.
        match self.words[STATE_WORD].load(Ordering::Acquire) {
            UNCLAIMED => State::Unclaimed,
            READY => State::Ready,
            claimed
                if claimed & SETTING_UP != 0 && claimed & !SETTING_UP <= u64::from(u32::MAX) =>
            {
                State::SettingUp {
                    pid: claimed & !SETTING_UP,
                }
            }
            _ => State::Foreign,
        }
    }

    /// Claims the right to set the segment up, from `from` (unclaimed, or
    /// a dead claimer's, or ready from an earlier boot); whether it won.
    pub(crate) fn claim(&self, from: &State, pid: u32) -> bool {
        let from = match from {
            State::Foreign => return false,
            State::Unclaimed => UNCLAIMED,
            State::SettingUp { pid } => SETTING_UP | pid,
            State::Ready => READY,
        };
        // Acquire: whatever the previous claimer wrote is seen before we
        // overwrite it. Relaxed on failure: the loser reads the state anew.
        self.words[STATE_WORD]
            .compare_exchange(
                from,
                SETTING_UP | u64::from(pid),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Writes every field for `description` and its tables' size; the
    /// claimer calls it before writing the tables.
    pub(crate) fn write(
        &self,
        description: &Description,
        size: usize,
        secret: [u64; 4],
        boot: [u64; 2],
    ) {
        let set = |word: usize, value: u64| {
            // Relaxed: published by the Release in `publish`.
            self.words[word].store(value, Ordering::Relaxed);
        };
        set(MAGIC_WORD, MAGIC);
        set(VERSION_WORD, LAYOUT_VERSION);
        set(BOOT_WORDS, boot[0]);
        set(BOOT_WORDS + 1, boot[1]);
        set(SIZE_WORD, size as u64);
        set(KIND_WORD, description.kind);
        for (i, word) in secret.into_iter().enumerate() {
            set(SECRET_WORDS + i, word);
        }
        for (i, word) in limit_fields(&description.limits).into_iter().enumerate() {
            set(QUOTA_WORDS + i, word.1);
        }
        set(CAPACITY_WORD, description.capacity);
        set(OPTIONS_WORD, description.options);
        set(TIMELINE_WORD, crate::core::clock::machine_timeline());
    }

    /// Marks the segment ready for every opener.
    pub(crate) fn publish(&self) {
        // Release: the header and tables written before are visible to an
        // opener that sees the segment ready.
        self.words[STATE_WORD].store(READY, Ordering::Release);
    }

    /// The error for a file whose state word floodgate never writes.
    pub(crate) fn not_a_segment(&self) -> Error {
        Error::SegmentMismatch(SegmentMismatch {
            field: "magic",
            in_segment: self.get(MAGIC_WORD),
            requested: MAGIC,
        })
    }

    fn get(&self, word: usize) -> u64 {
        // Relaxed: read after `state` returned ready (Acquire).
        self.words[word].load(Ordering::Relaxed)
    }

    pub(crate) fn boot(&self) -> [u64; 2] {
        [self.get(BOOT_WORDS), self.get(BOOT_WORDS + 1)]
    }

    pub(crate) fn secret(&self) -> [u64; 4] {
        std::array::from_fn(|i| self.get(SECRET_WORDS + i))
    }

    /// The first field of a ready header that differs from `description`
    /// and a table size of `size`.
    pub(crate) fn check(&self, description: &Description, size: usize) -> Result<()> {
        let mut expected = vec![
            ("magic", MAGIC_WORD, MAGIC),
            ("layout version", VERSION_WORD, LAYOUT_VERSION),
            ("kind", KIND_WORD, description.kind),
        ];
        expected.extend(
            limit_fields(&description.limits)
                .into_iter()
                .enumerate()
                .map(|(i, (field, value))| (field, QUOTA_WORDS + i, value)),
        );
        expected.extend([
            ("capacity", CAPACITY_WORD, description.capacity),
            ("options", OPTIONS_WORD, description.options),
            (
                "timeline",
                TIMELINE_WORD,
                crate::core::clock::machine_timeline(),
            ),
            ("size", SIZE_WORD, size as u64),
        ]);
        for (field, word, requested) in expected {
            let in_segment = self.get(word);
            if in_segment != requested {
                return Err(Error::SegmentMismatch(SegmentMismatch {
                    field,
                    in_segment,
                    requested,
                }));
            }
        }
        Ok(())
    }
}

/// Limits as the header stores them, each word with its field's name.
fn limit_fields(limits: &Limits) -> [(&'static str, u64); 4] {
    let nanos = |duration: Duration| u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    match limits {
        Limits::Quota(quota) => [
            ("quota count", quota.count()),
            ("quota period (ns)", quota.period_ns()),
            ("quota burst", quota.burst()),
            ("quota lockout (ns)", nanos(quota.lockout())),
        ],
        Limits::Window { limit, window_ns } => [
            ("window limit", *limit),
            ("window (ns)", *window_ns),
            ("unused", 0),
            ("unused", 0),
        ],
        Limits::Unlimited => [("unused", 0); 4],
    }
}
