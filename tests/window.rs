//! The sliding-window counter against an exact sliding log, plus its
//! behaviour on the GenieOS per-workspace numbers.

use floodgate::{
    Error, KeyedWindows, ManualClock, Outcome, SlidingWindow, MAX_WINDOW, MAX_WINDOW_LIMIT,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

const SECOND: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * SECOND;

/// SplitMix64: a tiny deterministic generator for workloads.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An exponential gap with the given mean, in ns (Poisson arrivals).
    fn gap(&mut self, mean_ns: f64) -> u64 {
        let uniform = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (-(1.0 - uniform).ln() * mean_ns) as u64 + 1
    }
}

/// Every admission with its time: the exact answer the counter estimates.
struct SlidingLog {
    admitted: VecDeque<u64>,
    window_ns: u64,
}

impl SlidingLog {
    fn count_at(&mut self, now: u64) -> u64 {
        while self
            .admitted
            .front()
            .is_some_and(|&t| t + self.window_ns <= now)
        {
            self.admitted.pop_front();
        }
        self.admitted.len() as u64
    }
}

#[derive(Default, Debug)]
struct Replay {
    requests: u64,
    /// The counter admitted what the exact log, fed the counter's own
    /// admissions, would have denied; and the reverse.
    over_admitted: u64,
    under_admitted: u64,
    /// Admissions of the counter, and of an exact sliding-log limiter run
    /// on its own over the same arrivals.
    admitted: u64,
    exact_admitted: u64,
    /// The most admissions the counter let into one sliding interval.
    peak_in_interval: u64,
}

impl Replay {
    fn disagreement(&self) -> f64 {
        (self.over_admitted + self.under_admitted) as f64 / self.requests as f64
    }

    fn throughput_vs_exact(&self) -> f64 {
        self.admitted as f64 / self.exact_admitted as f64
    }
}

/// Replays `arrivals` (ns timestamps, ascending, cost 1) through a counter,
/// comparing each decision with the exact log fed the same admissions, and
/// checking the documented over-admission bound at every admission.
fn replay(limit: u64, arrivals: impl Iterator<Item = u64>) -> Replay {
    let window = SlidingWindow::builder(limit, Duration::from_nanos(MINUTE))
        .build()
        .unwrap();
    let mut log = SlidingLog {
        admitted: VecDeque::new(),
        window_ns: MINUTE,
    };
    let mut exact = SlidingLog {
        admitted: VecDeque::new(),
        window_ns: MINUTE,
    };
    let mut per_window: Vec<u64> = Vec::new();
    let mut result = Replay::default();
    for now in arrivals {
        result.requests += 1;
        if exact.count_at(now) < limit {
            exact.admitted.push_back(now);
            result.exact_admitted += 1;
        }
        let exact_admits = log.count_at(now) < limit;
        let decision = window.check_at(1, now);
        match (decision.is_admitted(), exact_admits) {
            (true, false) => result.over_admitted += 1,
            (false, true) => result.under_admitted += 1,
            _ => {}
        }
        if decision.is_admitted() {
            result.admitted += 1;
            log.admitted.push_back(now);
            let index = (now / MINUTE) as usize;
            if per_window.len() <= index {
                per_window.resize(index + 1, 0);
            }
            per_window[index] += 1;
            assert!(
                per_window[index] <= limit,
                "a fixed window exceeded the limit"
            );
            // limit + previous * elapsed / W, compared multiplied by W.
            let previous = index.checked_sub(1).map_or(0, |i| per_window[i]);
            let in_interval = log.count_at(now);
            result.peak_in_interval = result.peak_in_interval.max(in_interval);
            let bound = u128::from(limit) * u128::from(MINUTE)
                + u128::from(previous) * u128::from(now % MINUTE);
            assert!(u128::from(in_interval) * u128::from(MINUTE) <= bound);
            assert!(in_interval < 2 * limit);
        }
    }
    result
}

fn poisson(seed: u64, per_minute: f64, minutes: u64) -> impl Iterator<Item = u64> {
    let mut rng = Rng(seed);
    let mean = MINUTE as f64 / per_minute;
    let mut now = 0;
    std::iter::from_fn(move || {
        now += rng.gap(mean);
        (now < minutes * MINUTE).then_some(now)
    })
}

/// Bursts: 10 s at `peak` requests per second, then a random pause of 0 to
/// 80 s.
fn bursty(seed: u64, peak_per_second: f64, minutes: u64) -> impl Iterator<Item = u64> {
    let mut rng = Rng(seed);
    let mean = SECOND as f64 / peak_per_second;
    let mut now = 0;
    let mut burst_end = 10 * SECOND;
    std::iter::from_fn(move || {
        now += rng.gap(mean);
        if now >= burst_end {
            now = burst_end + rng.next() % (80 * SECOND);
            burst_end = now + 10 * SECOND;
        }
        (now < minutes * MINUTE).then_some(now)
    })
}

/// Under the limit, decisions of the counter and of an exact log fed the
/// same admissions; the rates the module docs quote, measured on seeded
/// workloads, each bound the measured rate rounded up.
#[test]
fn below_the_limit_decisions_agree_with_an_exact_log() {
    let cases = [
        ("poisson 0.5x", replay(600, poisson(1, 300.0, 600)), 0.0),
        ("poisson 0.8x", replay(600, poisson(2, 480.0, 600)), 0.0005),
        ("poisson 0.9x", replay(600, poisson(3, 540.0, 600)), 0.004),
    ];
    report_and_check(&cases, |replay| replay.disagreement());
}

/// Overloaded, decisions differ in timing (each admits as its own state
/// frees room), so what matters is how much each lets through: throughput
/// against an exact sliding-log limiter, and the fullest sliding interval
/// (the module docs quote these; each bound is the measured peak rounded up).
#[test]
fn overloaded_throughput_and_peaks_stay_within_the_documented_bounds() {
    let cases = [
        ("poisson 1.5x", replay(600, poisson(4, 900.0, 300)), 620),
        ("poisson 3x", replay(600, poisson(5, 1_800.0, 200)), 610),
        ("bursty 30/s", replay(600, bursty(6, 30.0, 300)), 900),
        ("bursty 100/s", replay(600, bursty(7, 100.0, 200)), 1_110),
    ];
    let cases = cases.map(|(name, replay, peak)| (name, replay, peak as f64));
    report_and_check(&cases, |replay| replay.peak_in_interval as f64);
    for (name, measured, _) in &cases {
        let ratio = measured.throughput_vs_exact();
        assert!((0.97..=1.01).contains(&ratio), "{name}: throughput {ratio}");
    }
}

fn report_and_check(cases: &[(&str, Replay, f64)], metric: impl Fn(&Replay) -> f64) {
    for (name, measured, _) in cases {
        println!(
            "{name}: {} requests; decisions differ {:.4}% ({} over, {} under); \
             throughput {:.4}x exact; peak {} in a sliding minute",
            measured.requests,
            100.0 * measured.disagreement(),
            measured.over_admitted,
            measured.under_admitted,
            measured.throughput_vs_exact(),
            measured.peak_in_interval,
        );
    }
    for (name, measured, bound) in cases {
        assert!(measured.requests > 50_000, "{name}: workload too small");
        assert!(
            metric(measured) <= *bound,
            "{name}: {measured:?} beyond {bound}"
        );
    }
}

/// The adversarial worst case of the module docs: the previous window's
/// requests all at its end, then the current window's all at its end.
#[test]
fn worst_case_over_admission_is_below_twice_the_limit() {
    let limit = 600;
    let window = SlidingWindow::builder(limit, Duration::from_nanos(MINUTE))
        .build()
        .unwrap();
    let end_of_first = MINUTE - 1;
    assert!(window.check_at(limit, end_of_first).is_admitted());
    let end_of_second = 2 * MINUTE - 1;
    // 1 ns before the end, the first window's 600 weigh 600 * 1 / W: 0.00...
    let again = window.check_at(0, end_of_second).remaining();
    assert_eq!(again, limit - 1);
    assert!(window.check_at(again, end_of_second).is_admitted());
    // 1,199 admitted within 60 s + 1 ns: under 2 x limit, as documented.
    assert_eq!(limit + again, 2 * limit - 1);
}

#[test]
fn genieos_workspace_600_per_minute() {
    let clock = ManualClock::starting_at(7 * MINUTE);
    let workspace = SlidingWindow::builder(600, Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .unwrap();
    for i in 0..600 {
        let decision = workspace.check(1);
        assert!(decision.is_admitted(), "request {i}");
        assert_eq!(decision.limit(), 600);
    }
    let denied = workspace.check(1);
    assert_eq!(denied.outcome(), Outcome::Denied);
    assert_eq!(denied.remaining(), 0);
    assert_eq!(denied.retry_after(), Some(Duration::from_millis(60_100)));
    clock.advance(Duration::from_millis(60_100));
    assert!(workspace.check(1).is_admitted());
    assert!(!workspace.check(1).is_admitted());
    // "Spread, don't batch": 500 a minute, evenly spaced, always fits.
    for i in 0..5_000 {
        clock.advance(Duration::from_millis(120));
        assert!(workspace.check(1).is_admitted(), "spread request {i}");
    }
}

#[test]
fn denied_retry_after_is_exact_and_never_zero() {
    let window = SlidingWindow::builder(7, Duration::from_millis(1_000))
        .build()
        .unwrap();
    let mut rng = Rng(99);
    let mut now = 0;
    for _ in 0..20_000 {
        now += rng.next() % (SECOND / 5);
        let cost = 1 + rng.next() % 7;
        let decision = window.check_at(cost, now);
        if let Some(wait) = decision.retry_after() {
            let wait = wait.as_nanos() as u64;
            assert!(wait >= 1);
            assert!(window.peek_at(now + wait - 1).remaining() < cost);
            assert!(window.peek_at(now + wait).remaining() >= cost);
        }
    }
}

#[test]
fn reset_after_is_when_the_estimate_is_back_to_zero() {
    let window = SlidingWindow::builder(10, Duration::from_nanos(MINUTE))
        .build()
        .unwrap();
    let decision = window.check_at(3, MINUTE / 4);
    assert_eq!(decision.reset_after_ns(), 2 * MINUTE - MINUTE / 4);
    assert_eq!(window.peek_at(2 * MINUTE - 1).remaining(), 9);
    assert_eq!(window.peek_at(2 * MINUTE).remaining(), 10);
    assert_eq!(window.peek_at(2 * MINUTE).reset_after(), Duration::ZERO);
}

#[test]
fn reconfigure_keeps_counts_and_refuses_bad_limits() {
    let window = SlidingWindow::builder(600, Duration::from_nanos(MINUTE))
        .build()
        .unwrap();
    assert!(window.check_at(500, 0).is_admitted());
    window.reconfigure(100).unwrap();
    let denied = window.check_at(1, 0);
    assert_eq!(denied.outcome(), Outcome::Denied);
    assert_eq!(denied.limit(), 100);
    // 500 counted against 100: in the next window, once their weight is
    // down to 99, that is 401/500 of the way in.
    assert_eq!(denied.retry_after_ns(), MINUTE + MINUTE / 500 * 401);
    assert_eq!(
        window.reconfigure(MAX_WINDOW_LIMIT + 1),
        Err(Error::LimitTooLarge)
    );
    assert_eq!(window.limit(), 100);
}

#[test]
fn a_keys_bad_limit_is_refused_without_adding_the_key() {
    let windows: KeyedWindows<u64, _> =
        KeyedWindows::<u64>::builder(600, Duration::from_nanos(MINUTE))
            .capacity(1)
            .clock(ManualClock::new())
            .build()
            .unwrap();
    assert_eq!(windows.set_limit(&7, 0), Err(Error::ZeroLimit));
    assert_eq!(
        windows.set_limit(&7, MAX_WINDOW_LIMIT + 1),
        Err(Error::LimitTooLarge)
    );
    assert!(windows.is_empty());
    // The one slot is still free for a key with a good limit.
    windows.set_limit(&8, 1_800).unwrap();
    assert_eq!(windows.peek(&8).limit(), 1_800);
    assert_eq!(windows.set_limit(&9, 5), Err(Error::TableFull));
}

#[test]
fn refuses_bad_configuration() {
    let clock = ManualClock::new();
    let too_long = MAX_WINDOW + Duration::from_nanos(1);
    assert_eq!(
        SlidingWindow::builder(1, too_long)
            .clock(clock.clone())
            .build()
            .err(),
        Some(Error::WindowTooLong)
    );
    assert!(SlidingWindow::builder(MAX_WINDOW_LIMIT, MAX_WINDOW)
        .clock(clock)
        .build()
        .is_ok());
}

#[test]
fn the_largest_window_and_limit_do_not_overflow() {
    let window = SlidingWindow::builder(MAX_WINDOW_LIMIT, MAX_WINDOW)
        .build()
        .unwrap();
    let late = u64::MAX - 1;
    assert!(window.check_at(MAX_WINDOW_LIMIT, late).is_admitted());
    let denied = window.check_at(MAX_WINDOW_LIMIT, late);
    assert_eq!(denied.outcome(), Outcome::Denied);
    assert!(denied.retry_after_ns() > 0);
}

#[test]
fn threads_together_never_exceed_the_limit() {
    let clock = ManualClock::starting_at(MINUTE);
    let window = Arc::new(
        SlidingWindow::builder(1_000, Duration::from_secs(60))
            .clock(clock)
            .build()
            .unwrap(),
    );
    let admitted: u64 = (0..4)
        .map(|_| {
            let window = window.clone();
            std::thread::spawn(move || {
                (0..1_000).filter(|_| window.check(1).is_admitted()).count() as u64
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .sum();
    assert_eq!(admitted, 1_000);
    assert_eq!(window.peek().remaining(), 0);
}

/// Admissions of `check` over `rounds` runs of `per_run` checks, the runs
/// alternating between `now` and `now - stale`: a stale timestamp must read
/// as the counter's own time, never as a fresh window.
fn admitted_alternating(
    now: u64,
    stale: u64,
    rounds: u64,
    per_run: u64,
    mut check: impl FnMut(u64) -> bool,
) -> u64 {
    let mut admitted = 0;
    for round in 0..rounds {
        let at = if round % 2 == 0 { now } else { now - stale };
        admitted += (0..per_run).filter(|_| check(at)).count() as u64;
    }
    admitted
}

/// Measured before the fix: 50 of 50 admitted, every check one switch.
#[test]
fn alternating_a_timestamp_ten_windows_behind_admits_only_the_limit() {
    let window_len = Duration::from_millis(100);
    let now = 10 * SECOND;
    let window = SlidingWindow::builder(10, window_len)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let sliding = admitted_alternating(now, SECOND, 50, 1, |at| {
        window.check_at(1, at).is_admitted()
    });
    let keyed: KeyedWindows<u64, _> = KeyedWindows::<u64>::builder(10, window_len)
        .capacity(10)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let by_key = admitted_alternating(now, SECOND, 50, 1, |at| {
        keyed.check_at(&7, 1, at).is_admitted()
    });
    assert_eq!([sliding, by_key], [10, 10]);
}

/// Measured before the fix: 2,400, a full 600 on every switch.
#[test]
fn a_timestamp_two_minutes_stale_on_600_a_minute_admits_only_the_limit() {
    let minute = Duration::from_secs(60);
    let now = 10 * MINUTE;
    let window = SlidingWindow::builder(600, minute)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let sliding = admitted_alternating(now, 2 * MINUTE, 4, 700, |at| {
        window.check_at(1, at).is_admitted()
    });
    let keyed: KeyedWindows<str, _> = KeyedWindows::<str>::builder(600, minute)
        .capacity(10)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let by_key = admitted_alternating(now, 2 * MINUTE, 4, 700, |at| {
        keyed.check_at("ws_1", 1, at).unwrap().is_admitted()
    });
    assert_eq!([sliding, by_key], [600, 600]);
}

/// A counter left idle for more than 2^20 windows (12 days of 1 s windows)
/// must open a fresh window, not read its old counts as ahead of now.
const LONG_IDLE_WINDOWS: u64 = (1 << 20) + 5;
const MICROSECOND: u64 = 1_000;

/// How much of `limit` a counter grants `check` at `idle_until`, after it
/// was filled at 0 and, if `busy`, after other checks every 2^16 windows.
fn admitted_after_long_idle(
    limit: u64,
    mut check: impl FnMut(u64, u64) -> bool,
    mut busy: impl FnMut(u64),
) -> u64 {
    assert!(check(limit, 0));
    let idle_until = LONG_IDLE_WINDOWS * MICROSECOND;
    let every = (1 << 16) * MICROSECOND;
    for at in (every..idle_until).step_by(every as usize) {
        busy(at);
    }
    (0..limit + 1).filter(|_| check(1, idle_until)).count() as u64
}

/// Measured before the fix: 0 of 3, the counter stuck denying until now
/// reached its old window again.
#[test]
fn a_counter_idle_for_over_2_pow_20_windows_admits_its_full_limit_again() {
    let window_len = Duration::from_nanos(MICROSECOND);
    let window = SlidingWindow::builder(3, window_len)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let sliding = admitted_after_long_idle(
        3,
        |cost, at| window.check_at(cost, at).is_admitted(),
        |_| {},
    );
    let alone: KeyedWindows<u64, _> = KeyedWindows::<u64>::builder(3, window_len)
        .capacity(10)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let by_key_alone = admitted_after_long_idle(
        3,
        |cost, at| alone.check_at(&1, cost, at).is_admitted(),
        |_| {},
    );
    let shared: KeyedWindows<u64, _> = KeyedWindows::<u64>::builder(3, window_len)
        .capacity(10)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let by_key_among_busy = admitted_after_long_idle(
        3,
        |cost, at| shared.check_at(&1, cost, at).is_admitted(),
        |at| {
            shared.check_at(&2, 1, at);
        },
    );
    assert_eq!([sliding, by_key_alone, by_key_among_busy], [3, 3, 3]);
}
