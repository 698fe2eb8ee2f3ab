//! The machine's timeline: the CPU's counter (TSC), scaled to nanoseconds
//! by one calibration that every process on the machine reads.
//!
//! Processes that share a limiter must agree on "now". `CLOCK_MONOTONIC`
//! does, but costs some 27 ns a read here; the TSC costs 11, and is one
//! counter for the whole machine (quanta uses it only where it is
//! invariant), but each process's own calibration differs from the next
//! by some parts per million: after a day, milliseconds apart. So the
//! calibration is made once per boot and kept in `/dev/shm`; every process
//! scales the counter with it, and they read one timeline, within the
//! counter's own agreement between cores.
//!
//! The file is written whole under a name of the writer's own, then linked
//! to [`PATH`]: a link never replaces a file, so of two processes
//! calibrating at once, one wins and both use the winner's. A file from
//! another boot (a `/dev/shm` that outlived one) or one that cannot be
//! read or written leaves every process on `CLOCK_MONOTONIC`, which also
//! agrees across processes, only slower.

use std::sync::OnceLock;
use std::time::Duration;

/// Where the calibration lives.
const PATH: &str = "/dev/shm/floodgate.timeline";
const MAGIC: u64 = u64::from_le_bytes(*b"fgclock1");
/// How long the counter is measured against `CLOCK_MONOTONIC`: reads a few
/// hundred ns apart at each end make the scale good to some 10 ppm.
const CALIBRATION: Duration = Duration::from_millis(50);

/// How to turn a raw counter reading into nanoseconds on the machine's
/// timeline: `ns_origin + (raw - raw_origin) * ns_per_2_32 / 2^32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Calibration {
    raw_origin: u64,
    ns_origin: u64,
    ns_per_2_32: u64,
}

impl Calibration {
    /// Nanoseconds on the machine's timeline at counter reading `raw`.
    #[inline]
    pub(crate) fn ns_at(&self, raw: u64) -> u64 {
        let since = raw.wrapping_sub(self.raw_origin);
        let scaled = (u128::from(since) * u128::from(self.ns_per_2_32)) >> 32;
        self.ns_origin.wrapping_add(scaled as u64)
    }

    /// A word that differs between calibrations, recorded in each segment's
    /// header so that processes on different timelines never share one.
    pub(crate) fn identity(&self) -> u64 {
        self.raw_origin ^ self.ns_origin.rotate_left(21) ^ self.ns_per_2_32.rotate_left(42)
    }
}

/// The machine's calibration, read or made once per process; `None` where
/// there is none to share (the process then reads `CLOCK_MONOTONIC`).
pub(crate) fn machine(counter: &quanta::Clock) -> Option<Calibration> {
    static MACHINE: OnceLock<Option<Calibration>> = OnceLock::new();
    *MACHINE.get_or_init(|| read().or_else(|| publish(calibrate(counter))))
}

/// The calibration in [`PATH`], if it is this boot's.
fn read() -> Option<Calibration> {
    let bytes = std::fs::read(PATH).ok()?;
    let words: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap_or_default()))
        .collect();
    let boot = super::process::boot_id();
    match words[..] {
        [MAGIC, boot_0, boot_1, raw_origin, ns_origin, ns_per_2_32]
            if [boot_0, boot_1] == boot && ns_per_2_32 != 0 =>
        {
            Some(Calibration {
                raw_origin,
                ns_origin,
                ns_per_2_32,
            })
        }
        _ => None,
    }
}

/// Writes `calibration` to [`PATH`] unless another process has; returns
/// whichever is there, or `None` if neither can be had.
fn publish(calibration: Calibration) -> Option<Calibration> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let boot = super::process::boot_id();
    let words = [
        MAGIC,
        boot[0],
        boot[1],
        calibration.raw_origin,
        calibration.ns_origin,
        calibration.ns_per_2_32,
    ];
    let draft = format!("{PATH}.{}", super::process::id());
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        // Every user's processes read it; only its writer wrote it.
        .mode(0o644)
        .open(&draft)
        .and_then(|mut file| file.write_all(&words.map(u64::to_le_bytes).concat()));
    let linked = written.and_then(|()| std::fs::hard_link(&draft, PATH));
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => Some(calibration),
        // Another process linked first (or the file is from another boot,
        // which no process will use): theirs, if it is this boot's.
        Err(_) => read(),
    }
}

/// Measures the counter against `CLOCK_MONOTONIC` over [`CALIBRATION`].
fn calibrate(counter: &quanta::Clock) -> Calibration {
    let (raw_origin, ns_origin) = paired_reading(counter);
    std::thread::sleep(CALIBRATION);
    let (raw_end, ns_end) = paired_reading(counter);
    let raw_span = raw_end.wrapping_sub(raw_origin).max(1);
    let ns_span = ns_end.saturating_sub(ns_origin);
    Calibration {
        raw_origin,
        ns_origin,
        ns_per_2_32: ((u128::from(ns_span) << 32) / u128::from(raw_span)) as u64,
    }
}

/// A counter reading and a `CLOCK_MONOTONIC` reading taken as close
/// together as eight tries allow (the pair with the shortest bracket).
fn paired_reading(counter: &quanta::Clock) -> (u64, u64) {
    (0..8)
        .map(|_| {
            let before = counter.raw();
            let ns = crate::core::clock::system_now_ns();
            let after = counter.raw();
            (after.wrapping_sub(before), before / 2 + after / 2, ns)
        })
        .min_by_key(|&(bracket, ..)| bracket)
        .map(|(_, raw, ns)| (raw, ns))
        .unwrap_or_default()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_machine_timeline_keeps_step_with_clock_monotonic() {
        let counter = quanta::Clock::new();
        let Some(calibration) = machine(&counter) else {
            return; // no /dev/shm here: CLOCK_MONOTONIC is the timeline
        };
        let ours = calibration.ns_at(counter.raw());
        let system = crate::core::clock::system_now_ns();
        // The scale is good to some 10 ppm: allow 20 ppm of the time since
        // the calibration was made (an earlier run may have made it), plus
        // a millisecond for the reads themselves.
        let apart = ours.abs_diff(system);
        let allowed = 1_000_000 + system.saturating_sub(calibration.ns_origin) / 50_000;
        assert!(apart < allowed, "{apart} ns apart, {allowed} allowed");
        assert_eq!(machine(&counter), Some(calibration));
    }
}
