//! The sliding-window arithmetic on one [`WindowWord`], as pure functions the
//! counter runs inside its CAS loop.
//!
//! With window length `W`, a view at `e` ns into the current window estimates
//! the requests of the last `W` ns as `current + previous * (W - e) / W`: the
//! previous window's count weighted by how much of it the sliding interval
//! still overlaps. A request of `cost` is admitted when the estimate plus the
//! cost is at most the limit. Everything is compared multiplied by `W`, in
//! 128-bit integers, so no fraction is ever rounded.
//!
//! A check is decided at a [`Position`]: its own timestamp, or, when that is
//! behind the latest window the counter has been given, the start of that
//! window, where the previous count weighs the most it does anywhere in it.
//! Waits count from the caller's timestamp, saturating at `u64::MAX` ns.

use super::word::{View, WindowWord};
use crate::core::decision::{Decision, Outcome};

/// A window decision and, when it changes the word, the word to store (the
/// GCRA's counterpart is `core::gcra::Evaluation`).
pub(crate) struct Estimate {
    pub(crate) decision: Decision,
    pub(crate) next: Option<WindowWord>,
}

/// Where in time a check is decided: the window and the ns elapsed in it.
pub(crate) struct Position {
    index: u64,
    elapsed: u64,
    /// Ns from the caller's timestamp to this position: nonzero only for a
    /// timestamp behind the counter's latest window.
    ahead_of_now: u64,
}

impl Position {
    /// Where a check stamped `now_ns` is decided by a counter whose latest
    /// window (`ns / window_ns` of the latest timestamp given) is `latest`.
    pub(crate) fn new(now_ns: u64, window_ns: u64, latest: u64) -> Self {
        let index = now_ns / window_ns;
        if index >= latest {
            Self {
                index,
                elapsed: now_ns % window_ns,
                ahead_of_now: 0,
            }
        } else {
            Self {
                index: latest,
                elapsed: 0,
                // `latest` is the window of a u64 timestamp: its start fits.
                ahead_of_now: latest * window_ns - now_ns,
            }
        }
    }
}

/// The estimate times `W`: `current * W + previous * (W - elapsed)`.
fn scaled_estimate(previous: u64, current: u64, window_ns: u64, elapsed: u64) -> u128 {
    u128::from(current) * u128::from(window_ns)
        + u128::from(previous) * u128::from(window_ns - elapsed)
}

/// Decides a request of `cost` at `at` against a `limit` per `window_ns`
/// (`1 <= limit <= MAX_COUNT`, `1 <= window_ns <= 2^62`), on a word not in a
/// window after `at`'s. A cost of 0 peeks. Only a charge changes the word.
pub(crate) fn evaluate(
    word: WindowWord,
    limit: u64,
    window_ns: u64,
    at: &Position,
    cost: u64,
) -> Estimate {
    let view = word.view(at.index);
    let capacity = u128::from(limit) * u128::from(window_ns);
    let used = scaled_estimate(view.previous, view.current, window_ns, at.elapsed);
    if cost > limit {
        return Estimate {
            decision: report(
                Outcome::CannotFit,
                limit,
                window_ns,
                &view,
                at,
                view.current,
                0,
            ),
            next: None,
        };
    }
    let need = u128::from(cost) * u128::from(window_ns);
    if used + need <= capacity {
        // The estimate includes `current`, so current + cost <= limit <= MAX_COUNT.
        let charged = view.current + cost;
        Estimate {
            decision: report(Outcome::Admitted, limit, window_ns, &view, at, charged, 0),
            next: (cost > 0).then(|| WindowWord::new(at.index, view.previous, charged)),
        }
    } else {
        let wait = (at.ahead_of_now)
            .saturating_add(wait_until_fits(&view, limit, window_ns, at.elapsed, cost));
        Estimate {
            decision: report(
                Outcome::Denied,
                limit,
                window_ns,
                &view,
                at,
                view.current,
                wait,
            ),
            next: None,
        }
    }
}

/// Takes `amount` back off the counts at `at`: from the current window
/// first, the rest from the previous one.
pub(crate) fn refund(
    word: WindowWord,
    limit: u64,
    window_ns: u64,
    at: &Position,
    amount: u64,
) -> Estimate {
    let view = word.view(at.index);
    let from_current = amount.min(view.current);
    let from_previous = (amount - from_current).min(view.previous);
    let refunded = View {
        previous: view.previous - from_previous,
        current: view.current - from_current,
    };
    Estimate {
        decision: report(
            Outcome::Admitted,
            limit,
            window_ns,
            &refunded,
            at,
            refunded.current,
            0,
        ),
        next: (from_current + from_previous > 0)
            .then(|| WindowWord::new(at.index, refunded.previous, refunded.current)),
    }
}

/// The decision for a view whose current count is `current` after the check.
fn report(
    outcome: Outcome,
    limit: u64,
    window_ns: u64,
    view: &View,
    at: &Position,
    current: u64,
    retry_after_ns: u64,
) -> Decision {
    let used = scaled_estimate(view.previous, current, window_ns, at.elapsed);
    let capacity = u128::from(limit) * u128::from(window_ns);
    // At most limit, so it fits in u64.
    let remaining = (capacity.saturating_sub(used) / u128::from(window_ns)) as u64;
    // The estimate reaches 0 when the last window holding a count has slid
    // out: the end of the next window if the current one has a count, else
    // the end of this one. At most 3 windows <= 3 * 2^62 ns: no overflow.
    let until_empty = if current > 0 {
        2 * window_ns - at.elapsed
    } else if view.previous > 0 {
        window_ns - at.elapsed
    } else {
        0
    };
    Decision::new(
        outcome,
        limit,
        remaining,
        at.ahead_of_now.saturating_add(until_empty),
        retry_after_ns,
    )
}

/// Ns from `elapsed` until a request of `cost <= limit`, denied now, fits:
/// the earliest whole nanosecond at which the estimate plus `cost` is at
/// most `limit`. Always at least 1.
fn wait_until_fits(view: &View, limit: u64, window_ns: u64, elapsed: u64, cost: u64) -> u64 {
    let w = u128::from(window_ns);
    let to_next_window = window_ns - elapsed;
    // Later in this window: needs previous * (W - e') <= (limit - current - cost) * W.
    if let Some(room) = limit.checked_sub(view.current + cost) {
        // Denied now with room >= 0 implies previous > 0.
        let slack = u128::from(room) * w;
        let shrink = slack / u128::from(view.previous);
        if shrink >= 1 {
            // previous * (W - elapsed) > slack >= previous * shrink, so
            // W - shrink > elapsed, and shrink < W fits in u64.
            return window_ns - shrink as u64 - elapsed;
        }
    }
    // In the next window, where this window's count becomes the previous one:
    // needs current * (W - e'') <= (limit - cost) * W.
    if view.current == 0 {
        return to_next_window;
    }
    let slack = u128::from(limit - cost) * w;
    let shrink = (slack / u128::from(view.current)).min(w) as u64;
    if shrink >= 1 {
        return to_next_window + (window_ns - shrink);
    }
    // Only once both counts have slid out: cost == limit or current > limit
    // after a lowered limit.
    to_next_window + window_ns
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000_000_000;

    /// A word and the latest window it was given, as `SlidingWindow` keeps them.
    struct Counter {
        word: WindowWord,
        latest: u64,
    }

    impl Counter {
        fn new() -> Self {
            Self {
                word: WindowWord::EMPTY,
                latest: 0,
            }
        }

        fn at(&mut self, now: u64) -> Position {
            self.latest = self.latest.max(now / MINUTE);
            Position::new(now, MINUTE, self.latest)
        }

        fn check(&mut self, limit: u64, now: u64, cost: u64) -> Decision {
            let at = self.at(now);
            let e = evaluate(self.word, limit, MINUTE, &at, cost);
            if let Some(next) = e.next {
                self.word = next;
            }
            e.decision
        }
    }

    fn at(now: u64) -> Position {
        Position::new(now, MINUTE, 0)
    }

    #[test]
    fn admits_the_limit_then_denies_until_the_window_rolls() {
        let mut counter = Counter::new();
        for i in 0..600 {
            let d = counter.check(600, 0, 1);
            assert!(d.is_admitted(), "request {i}");
            assert_eq!(d.remaining(), 599 - i);
        }
        let d = counter.check(600, 0, 1);
        assert_eq!(d.outcome(), Outcome::Denied);
        // 600 in this window: the first slot opens 1/600 of the next window in.
        assert_eq!(d.retry_after_ns(), MINUTE + MINUTE / 600);
        assert_eq!(d.reset_after_ns(), 2 * MINUTE);
    }

    #[test]
    fn retry_after_is_the_exact_first_moment_that_fits() {
        let mut counter = Counter::new();
        counter.check(10, 0, 10);
        let word = counter.word;
        for now in [MINUTE / 3, MINUTE + 7, MINUTE + MINUTE / 2] {
            for cost in 1..=10 {
                let e = evaluate(word, 10, MINUTE, &at(now), cost);
                if e.decision.is_admitted() {
                    continue;
                }
                let wait = e.decision.retry_after_ns();
                assert!(wait >= 1);
                let before = evaluate(word, 10, MINUTE, &at(now + wait - 1), cost);
                assert!(!before.decision.is_admitted());
                let then = evaluate(word, 10, MINUTE, &at(now + wait), cost);
                assert!(then.decision.is_admitted());
            }
        }
    }

    #[test]
    fn previous_window_weighs_by_overlap() {
        let mut counter = Counter::new();
        counter.check(100, 0, 100);
        // 25% into the next window: 75 still count.
        let d = counter.check(100, MINUTE + MINUTE / 4, 0);
        assert_eq!(d.remaining(), 25);
        assert!(counter.check(100, MINUTE + MINUTE / 4, 25).is_admitted());
        assert!(!counter.check(100, MINUTE + MINUTE / 4, 1).is_admitted());
    }

    #[test]
    fn a_timestamp_one_window_behind_is_decided_at_the_latest_window_start() {
        let mut counter = Counter::new();
        counter.check(2, MINUTE, 2);
        let d = counter.check(2, MINUTE - 10, 1);
        assert_eq!(d.outcome(), Outcome::Denied);
        // 10 ns to the latest window, then one full window until it rolls,
        // then half the next window for the weighted 2 to drop to 1.
        assert_eq!(d.retry_after_ns(), 10 + MINUTE + MINUTE / 2);
    }

    #[test]
    fn a_timestamp_any_windows_behind_is_decided_at_the_latest_window_start() {
        let latest = (100 + (1 << 23)) * MINUTE + 5;
        for behind in [2, 3, 1_000, 1 << 21, 1 << 22, (1 << 23) + 3] {
            let mut counter = Counter::new();
            counter.check(10, latest, 7);
            let stale = latest - 5 - behind * MINUTE + 7;
            let d = counter.check(10, stale, 4);
            assert_eq!(d.outcome(), Outcome::Denied, "{behind} windows behind");
            // To the latest window, through it, then until the 7 weigh 6.
            assert_eq!(
                d.retry_after_ns(),
                behind * MINUTE - 7 + MINUTE + MINUTE.div_ceil(7)
            );
            assert!(counter.check(10, stale, 3).is_admitted());
            assert_eq!(counter.word, WindowWord::new(latest / MINUTE, 0, 10));
        }
    }

    #[test]
    fn a_stale_timestamp_after_a_denial_a_window_on_charges_that_window() {
        let mut counter = Counter::new();
        counter.check(10, 100 * MINUTE + 5, 7);
        assert!(!counter.check(10, 101 * MINUTE, 4).is_admitted());
        // The denial stored nothing, but the counter's time moved on...
        assert_eq!(counter.word, WindowWord::new(100, 0, 7));
        // ...so a check stamped in window 100 now charges window 101.
        assert!(counter.check(10, 100 * MINUTE, 3).is_admitted());
        assert_eq!(counter.word, WindowWord::new(101, 7, 3));
    }

    #[test]
    fn an_idle_counter_opens_a_fresh_window_however_long_the_gap() {
        for idle in [2, 1 << 20, (1 << 21) + 5, (1 << 22) + 2, (3 << 22) + 7] {
            let mut counter = Counter::new();
            counter.check(10, 5 * MINUTE, 10);
            assert!(counter.check(10, (5 + idle) * MINUTE, 10).is_admitted());
        }
    }

    #[test]
    fn waits_from_far_behind_saturate() {
        // The longest window: three windows to the latest one, two more after.
        let window_ns = 1 << 62;
        let word = evaluate(
            WindowWord::EMPTY,
            1,
            window_ns,
            &Position::new(3 * window_ns, window_ns, 0),
            1,
        )
        .next
        .unwrap();
        let stale = Position::new(0, window_ns, 3);
        let d = evaluate(word, 1, window_ns, &stale, 1).decision;
        assert_eq!(d.outcome(), Outcome::Denied);
        assert_eq!(
            (d.retry_after_ns(), d.reset_after_ns()),
            (u64::MAX, u64::MAX)
        );
    }

    #[test]
    fn only_a_charge_changes_the_word() {
        let word = WindowWord::new(0, 1, 2);
        let cannot_fit = evaluate(word, 5, MINUTE, &at(MINUTE), 6);
        assert_eq!(cannot_fit.decision.outcome(), Outcome::CannotFit);
        assert!(cannot_fit.next.is_none());
        let denied = evaluate(word, 2, MINUTE, &at(MINUTE), 1);
        assert_eq!(denied.decision.outcome(), Outcome::Denied);
        assert!(denied.next.is_none());
        assert!(evaluate(word, 5, MINUTE, &at(MINUTE), 0).next.is_none());
    }

    #[test]
    fn refund_takes_from_current_then_previous() {
        let mut counter = Counter::new();
        counter.check(10, 0, 6);
        counter.check(10, MINUTE, 3);
        let e = refund(counter.word, 10, MINUTE, &at(MINUTE), 5);
        let view = e.next.unwrap().view(1);
        assert_eq!((view.previous, view.current), (4, 0));
        let empty_now = WindowWord::new(0, 0, 0);
        assert!(refund(empty_now, 10, MINUTE, &at(0), 3).next.is_none());
    }
}
