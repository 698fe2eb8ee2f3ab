//! Property tests: random checks on a clock that jumps backwards and
//! forwards, by a few windows or by millions (across the 2^22-window wrap of
//! the stored index), through a `SlidingWindow` and a `KeyedWindows`,
//! against a plain log of what each counter admitted on the real timeline.
//! A counter only knows the timestamps it is given, so its real time is the
//! latest of them: a check stamped earlier happened then, not at its stale
//! timestamp.
//!
//! However stale the timestamps, the log must keep the bounds the module
//! docs state for the counter: at most `limit` in any fixed window, and at
//! most `limit + previous * e / W` in any sliding interval of length `W`
//! ending `e` ns into a fixed window whose predecessor holds `previous`.
//! And however long a counter sat idle, it then admits its whole limit,
//! except in the documented aliasing case.

use floodgate::{KeyedWindows, ManualClock, SlidingWindow};
use proptest::prelude::*;
use std::time::Duration;

/// The window index is kept modulo this many windows (src/window/word.rs):
/// runs start next to a multiple of it, so they cross the wrap.
const INDEX_MODULUS: u64 = 1 << 22;

const WINDOWS_NS: [u64; 4] = [7, 1_000, 100_000_000, 60_000_000_000];
const KEYS: u64 = 3;

#[derive(Debug, Clone)]
enum Step {
    /// The clock moves forward this many ns (saturating).
    Forward(u64),
    /// The clock is set back this many ns: a lagging core, or a request
    /// stamped when it was queued.
    Back(u64),
    /// A check of `cost` (0 peeks; above the limit cannot fit) for `key`.
    Check { key: u64, cost: u64 },
}

/// A long stretch of windows: around a multiple of 2^20 (where a signed
/// reading of the stored index flips, and where it wraps), or any up to
/// three wraps.
fn long_windows() -> impl Strategy<Value = u64> {
    prop_oneof![
        (1..=12u64, 0..=6u64).prop_map(|(k, d)| (k << 20) + d - 3),
        2..3 * INDEX_MODULUS,
    ]
}

/// `windows` whole windows plus a random part of one, in ns.
fn windows_ns(windows: impl Strategy<Value = u64>, window_ns: u64) -> impl Strategy<Value = u64> {
    (windows, 0..window_ns).prop_map(move |(n, e)| n * window_ns + e)
}

fn steps(limit: u64, window_ns: u64) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        4 => (0..=window_ns / 4).prop_map(Step::Forward),
        2 => (0..=3 * window_ns).prop_map(Step::Forward),
        1 => windows_ns(long_windows(), window_ns).prop_map(Step::Forward),
        2 => (0..=3 * window_ns).prop_map(Step::Back),
        2 => (0..=40 * window_ns).prop_map(Step::Back),
        1 => windows_ns(long_windows(), window_ns).prop_map(Step::Back),
        16 => (0..KEYS, 0..=limit + 1).prop_map(|(key, cost)| Step::Check { key, cost }),
    ];
    prop::collection::vec(step, 1..200)
}

/// Limit, window length, start time and steps.
fn runs() -> impl Strategy<Value = (u64, u64, u64, Vec<Step>)> {
    (1..=12u64, prop::sample::select(&WINDOWS_NS[..])).prop_flat_map(|(limit, window_ns)| {
        let start_window = prop_oneof![
            (1..=3u64, 0..=50u64).prop_map(|(wraps, before)| wraps * INDEX_MODULUS - before),
            INDEX_MODULUS..8 * INDEX_MODULUS,
        ];
        let start = (start_window, 0..window_ns).prop_map(move |(w, e)| w * window_ns + e);
        (Just(limit), Just(window_ns), start, steps(limit, window_ns))
    })
}

/// One counter's admissions, each at the real time it happened.
struct RealLog {
    limit: u64,
    window_ns: u64,
    /// The latest timestamp the counter was given.
    latest: u64,
    /// (real time, cost), real times ascending.
    admitted: Vec<(u64, u64)>,
}

impl RealLog {
    fn new(limit: u64, window_ns: u64) -> Self {
        Self {
            limit,
            window_ns,
            latest: 0,
            admitted: Vec::new(),
        }
    }

    /// Records a check stamped `now_ns` and, if it was admitted, checks the
    /// documented bounds on the sliding interval and the fixed window it
    /// ends in. Intervals ending between admissions hold no more than these.
    fn record(&mut self, now_ns: u64, cost: u64, admitted: bool) -> Result<(), TestCaseError> {
        self.latest = self.latest.max(now_ns);
        if !admitted || cost == 0 {
            return Ok(());
        }
        let real = self.latest;
        self.admitted.push((real, cost));
        let w = self.window_ns;
        let index = real / w;
        let (mut current, mut previous, mut sliding) = (0, 0, 0);
        // Real times ascend: only the last two fixed windows matter.
        for &(t, cost) in self.admitted.iter().rev() {
            if t / w + 1 < index {
                break;
            }
            if t / w == index {
                current += cost;
            } else {
                previous += cost;
            }
            if real - t < w {
                sliding += cost;
            }
        }
        prop_assert!(
            current <= self.limit,
            "{current} in the fixed window of {real}, limit {}",
            self.limit
        );
        let bound =
            u128::from(self.limit) * u128::from(w) + u128::from(previous) * u128::from(real % w);
        prop_assert!(
            u128::from(sliding) * u128::from(w) <= bound,
            "{sliding} in the window ending {real}, limit {}, previous {previous}",
            self.limit
        );
        Ok(())
    }
}

/// Runs `steps` from `start`, deciding each check with `check(key, cost,
/// now)`, and returns each key's log.
fn replay(
    limit: u64,
    window_ns: u64,
    start: u64,
    steps: &[Step],
    keys: u64,
    mut check: impl FnMut(u64, u64, u64) -> bool,
) -> Result<Vec<RealLog>, TestCaseError> {
    let mut logs: Vec<RealLog> = (0..keys).map(|_| RealLog::new(limit, window_ns)).collect();
    let mut now = start;
    for step in steps {
        match *step {
            Step::Forward(ns) => now = now.saturating_add(ns),
            Step::Back(ns) => now = now.saturating_sub(ns),
            Step::Check { key, cost } => {
                let key = key % keys;
                let admitted = check(key, cost, now);
                logs[key as usize].record(now, cost, admitted)?;
            }
        }
    }
    Ok(logs)
}

/// After `steps`, key 0 idles `idle` windows past its latest timestamp's
/// window, then asks for its whole limit: admitted unless the window its
/// counts were last charged in is a whole number of index wraps, or one
/// window more, before (the documented aliasing, which only denies).
fn idle_then_full_limit(
    limit: u64,
    window_ns: u64,
    start: u64,
    steps: &[Step],
    keys: u64,
    idle: (u64, u64),
    mut check: impl FnMut(u64, u64, u64) -> bool,
) -> Result<(), TestCaseError> {
    let logs = replay(limit, window_ns, start, steps, keys, &mut check)?;
    let log = &logs[0];
    let latest = log.latest.max(start);
    let (windows, elapsed) = idle;
    let Some(then) = (latest / window_ns + windows)
        .checked_mul(window_ns)
        .and_then(|t| t.checked_add(elapsed))
    else {
        return Ok(());
    };
    let aliased = log
        .admitted
        .last()
        .is_some_and(|&(t, _)| (then / window_ns - t / window_ns) % INDEX_MODULUS <= 1);
    let admitted = check(0, limit, then);
    prop_assert!(
        admitted || aliased,
        "idle {windows} windows, then {limit} denied"
    );
    Ok(())
}

fn sliding_window(limit: u64, window_ns: u64) -> SlidingWindow<ManualClock> {
    SlidingWindow::builder(limit, Duration::from_nanos(window_ns))
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

fn keyed_windows(limit: u64, window_ns: u64) -> KeyedWindows<u64, ManualClock> {
    KeyedWindows::<u64>::builder(limit, Duration::from_nanos(window_ns))
        .capacity(KEYS as usize)
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_sliding_window_never_admits_beyond_its_bound_on_the_real_timeline(
        (limit, window_ns, start, steps) in runs()
    ) {
        let window = sliding_window(limit, window_ns);
        replay(limit, window_ns, start, &steps, 1, |_, cost, now| {
            window.check_at(cost, now).is_admitted()
        })?;
    }

    #[test]
    fn keyed_windows_never_admit_beyond_their_bound_on_the_real_timeline(
        (limit, window_ns, start, steps) in runs()
    ) {
        let windows = keyed_windows(limit, window_ns);
        replay(limit, window_ns, start, &steps, KEYS, |key, cost, now| {
            windows.check_at(&key, cost, now).is_admitted()
        })?;
    }

    #[test]
    fn a_sliding_window_idle_for_any_time_admits_its_whole_limit(
        (limit, window_ns, start, steps) in runs(),
        idle in (prop_oneof![2..64u64, long_windows()], 0..1_000u64),
    ) {
        let window = sliding_window(limit, window_ns);
        let idle = (idle.0, idle.1 % window_ns);
        idle_then_full_limit(limit, window_ns, start, &steps, 1, idle, |_, cost, now| {
            window.check_at(cost, now).is_admitted()
        })?;
    }

    #[test]
    fn a_key_idle_for_any_time_admits_its_whole_limit(
        (limit, window_ns, start, steps) in runs(),
        idle in (prop_oneof![2..64u64, long_windows()], 0..1_000u64),
    ) {
        let windows = keyed_windows(limit, window_ns);
        let idle = (idle.0, idle.1 % window_ns);
        idle_then_full_limit(limit, window_ns, start, &steps, KEYS, idle, |key, cost, now| {
            windows.check_at(&key, cost, now).is_admitted()
        })?;
    }
}

/// A denial in the next window must move the counter's time there: checks
/// stamped in the window before then charge the window they really happen
/// in, not one the counter forgets a window early. Found by hand; the random
/// runs above rarely build it.
#[test]
fn a_denial_moves_the_window_so_stale_checks_charge_the_real_one() {
    use Step::{Back, Check, Forward};
    let check = |cost| Check { key: 0, cost };
    // Limit 10 per 100 ns: 1 at 0; 10 denied at 199 (the 1 still weighs
    // 0.01); 9 stamped 0 but happening at 199; 9 at 199; 1 at 200; 8 at 298.
    let steps = [
        check(1),
        Forward(199),
        check(10),
        Back(199),
        check(9),
        Forward(199),
        check(9),
        Forward(1),
        check(1),
        Forward(98),
        check(8),
    ];
    let window_len = Duration::from_nanos(100);
    let window = SlidingWindow::builder(10, window_len)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    replay(10, 100, 0, &steps, 1, |_, cost, now| {
        window.check_at(cost, now).is_admitted()
    })
    .unwrap();
    let windows: KeyedWindows<u64, _> = KeyedWindows::<u64>::builder(10, window_len)
        .capacity(1)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    replay(10, 100, 0, &steps, 1, |key, cost, now| {
        windows.check_at(&key, cost, now).is_admitted()
    })
    .unwrap();
}
