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
//! A timestamp behind the word's window is read at the start of the word's
//! window: the counts as they stand, the previous one at full weight, which
//! is the most the estimate is anywhere in that window, and a charge goes to
//! the word's window. The word's window is the latest the counter has seen,
//! so a stale timestamp decides as the counter's own time would, or denies
//! more. Its waits count from the caller's now, saturating at `u64::MAX` ns.

use super::word::{View, WindowWord};
use crate::decision::{Decision, Outcome};

/// A decision and, when it changes the word, the word to store.
pub(crate) struct Evaluation {
    pub(crate) decision: Decision,
    pub(crate) next: Option<WindowWord>,
}

/// Where in time a view is taken: the window and the ns elapsed in it.
struct Position {
    index: u64,
    elapsed: u64,
    /// Ns from the caller's now to this position (nonzero only when now was
    /// behind the word's window, see `View::behind`), saturating.
    ahead_of_now: u64,
}

fn locate(word: WindowWord, window_ns: u64, now_ns: u64) -> (View, Position) {
    let index = now_ns / window_ns;
    let elapsed = now_ns % window_ns;
    let view = word.view(index);
    let position = if view.behind > 0 {
        let ahead = u128::from(view.behind) * u128::from(window_ns) - u128::from(elapsed);
        Position {
            // Only the index's low bits are stored: modular on purpose.
            index: index.wrapping_add(view.behind),
            elapsed: 0,
            ahead_of_now: u64::try_from(ahead).unwrap_or(u64::MAX),
        }
    } else {
        Position {
            index,
            elapsed,
            ahead_of_now: 0,
        }
    };
    (view, position)
}

/// The word holding `previous` and `current` in `at`'s window, when it
/// differs from `word`: stored even when nothing is charged, so that the
/// word's window keeps up with the latest timestamp (see `word.rs`).
fn store(word: WindowWord, at: &Position, previous: u64, current: u64) -> Option<WindowWord> {
    let next = WindowWord::new(at.index, previous, current);
    (next != word).then_some(next)
}

/// The estimate times `W`: `current * W + previous * (W - elapsed)`.
fn scaled_estimate(previous: u64, current: u64, window_ns: u64, elapsed: u64) -> u128 {
    u128::from(current) * u128::from(window_ns)
        + u128::from(previous) * u128::from(window_ns - elapsed)
}

/// Decides a request of `cost` at `now_ns` against a `limit` per `window_ns`
/// (`1 <= limit <= MAX_COUNT`, `1 <= window_ns <= 2^62`). A cost of 0 peeks.
pub(crate) fn evaluate(
    word: WindowWord,
    limit: u64,
    window_ns: u64,
    now_ns: u64,
    cost: u64,
) -> Evaluation {
    let (view, at) = locate(word, window_ns, now_ns);
    let capacity = u128::from(limit) * u128::from(window_ns);
    let used = scaled_estimate(view.previous, view.current, window_ns, at.elapsed);
    if cost > limit {
        return Evaluation {
            decision: report(
                Outcome::CannotFit,
                limit,
                window_ns,
                &view,
                &at,
                view.current,
                0,
            ),
            next: store(word, &at, view.previous, view.current),
        };
    }
    let need = u128::from(cost) * u128::from(window_ns);
    if used + need <= capacity {
        // The estimate includes `current`, so current + cost <= limit <= MAX_COUNT.
        let charged = view.current + cost;
        Evaluation {
            decision: report(Outcome::Admitted, limit, window_ns, &view, &at, charged, 0),
            next: store(word, &at, view.previous, charged),
        }
    } else {
        let wait = (at.ahead_of_now)
            .saturating_add(wait_until_fits(&view, limit, window_ns, at.elapsed, cost));
        Evaluation {
            decision: report(
                Outcome::Denied,
                limit,
                window_ns,
                &view,
                &at,
                view.current,
                wait,
            ),
            next: store(word, &at, view.previous, view.current),
        }
    }
}

/// Takes `amount` back off the counts at `now_ns`: from the current window
/// first, the rest from the previous one.
pub(crate) fn refund(
    word: WindowWord,
    limit: u64,
    window_ns: u64,
    now_ns: u64,
    amount: u64,
) -> Evaluation {
    let (view, at) = locate(word, window_ns, now_ns);
    let from_current = amount.min(view.current);
    let from_previous = (amount - from_current).min(view.previous);
    let refunded = View {
        previous: view.previous - from_previous,
        current: view.current - from_current,
        behind: view.behind,
    };
    Evaluation {
        decision: report(
            Outcome::Admitted,
            limit,
            window_ns,
            &refunded,
            &at,
            refunded.current,
            0,
        ),
        next: store(word, &at, refunded.previous, refunded.current),
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

    fn run(word: &mut WindowWord, limit: u64, now: u64, cost: u64) -> Decision {
        let e = evaluate(*word, limit, MINUTE, now, cost);
        if let Some(next) = e.next {
            *word = next;
        }
        e.decision
    }

    #[test]
    fn admits_the_limit_then_denies_until_the_window_rolls() {
        let mut word = WindowWord::EMPTY;
        for i in 0..600 {
            let d = run(&mut word, 600, 0, 1);
            assert!(d.is_admitted(), "request {i}");
            assert_eq!(d.remaining(), 599 - i);
        }
        let d = run(&mut word, 600, 0, 1);
        assert_eq!(d.outcome(), Outcome::Denied);
        // 600 in this window: the first slot opens 1/600 of the next window in.
        assert_eq!(d.retry_after_ns(), MINUTE + MINUTE / 600);
        assert_eq!(d.reset_after_ns(), 2 * MINUTE);
    }

    #[test]
    fn retry_after_is_the_exact_first_moment_that_fits() {
        let mut word = WindowWord::EMPTY;
        run(&mut word, 10, 0, 10);
        for now in [MINUTE / 3, MINUTE + 7, MINUTE + MINUTE / 2] {
            for cost in 1..=10 {
                let e = evaluate(word, 10, MINUTE, now, cost);
                if e.decision.is_admitted() {
                    continue;
                }
                let wait = e.decision.retry_after_ns();
                assert!(wait >= 1);
                assert!(!evaluate(word, 10, MINUTE, now + wait - 1, cost)
                    .decision
                    .is_admitted());
                assert!(evaluate(word, 10, MINUTE, now + wait, cost)
                    .decision
                    .is_admitted());
            }
        }
    }

    #[test]
    fn previous_window_weighs_by_overlap() {
        let mut word = WindowWord::EMPTY;
        run(&mut word, 100, 0, 100);
        // 25% into the next window: 75 still count.
        let d = run(&mut word, 100, MINUTE + MINUTE / 4, 0);
        assert_eq!(d.remaining(), 25);
        assert!(run(&mut word, 100, MINUTE + MINUTE / 4, 25).is_admitted());
        assert!(!run(&mut word, 100, MINUTE + MINUTE / 4, 1).is_admitted());
    }

    #[test]
    fn a_timestamp_one_window_behind_reads_from_the_word_window_start() {
        let mut word = WindowWord::EMPTY;
        run(&mut word, 2, MINUTE, 2);
        let d = run(&mut word, 2, MINUTE - 10, 1);
        assert_eq!(d.outcome(), Outcome::Denied);
        // 10 ns to the word's window, then one full window until it rolls,
        // then half the next window for the weighted 2 to drop to 1.
        assert_eq!(d.retry_after_ns(), 10 + MINUTE + MINUTE / 2);
    }

    #[test]
    fn a_timestamp_any_windows_behind_reads_the_word_at_its_window_start() {
        let latest = (100 + (1 << 20)) * MINUTE + 5;
        for behind in [2, 3, 1_000, 1 << 20] {
            let mut word = WindowWord::EMPTY;
            run(&mut word, 10, latest, 7);
            let stale = latest - 5 - behind * MINUTE + 7;
            let d = run(&mut word, 10, stale, 4);
            assert_eq!(d.outcome(), Outcome::Denied, "{behind} windows behind");
            // To the word's window, through it, then until the 7 weigh 6.
            assert_eq!(
                d.retry_after_ns(),
                behind * MINUTE - 7 + MINUTE + MINUTE.div_ceil(7)
            );
            assert!(run(&mut word, 10, stale, 3).is_admitted());
            assert_eq!(word.view(latest / MINUTE).current, 10);
        }
    }

    #[test]
    fn a_denial_a_window_on_moves_the_word_there() {
        let mut word = WindowWord::EMPTY;
        run(&mut word, 10, 100 * MINUTE + 5, 7);
        assert!(!run(&mut word, 10, 101 * MINUTE, 4).is_admitted());
        assert_eq!(word, WindowWord::new(101, 7, 0));
        // A check stamped in window 100 now charges window 101.
        assert!(run(&mut word, 10, 100 * MINUTE, 3).is_admitted());
        assert_eq!(word, WindowWord::new(101, 7, 3));
    }

    #[test]
    fn waits_from_far_behind_saturate() {
        // The longest window: three windows to the word's, two more after.
        let window_ns = 1 << 62;
        let word = evaluate(WindowWord::EMPTY, 1, window_ns, 3 * window_ns, 1).next;
        let d = evaluate(word.unwrap(), 1, window_ns, 0, 1).decision;
        assert_eq!(d.outcome(), Outcome::Denied);
        assert_eq!(
            (d.retry_after_ns(), d.reset_after_ns()),
            (u64::MAX, u64::MAX)
        );
    }

    #[test]
    fn cost_above_limit_cannot_fit() {
        let word = WindowWord::new(0, 1, 2);
        let e = evaluate(word, 5, MINUTE, 0, 6);
        assert_eq!(e.decision.outcome(), Outcome::CannotFit);
        assert!(e.next.is_none());
        // A window later it still charges nothing, but moves the word on.
        let e = evaluate(word, 5, MINUTE, MINUTE, 6);
        assert_eq!(e.next, Some(WindowWord::new(1, 2, 0)));
    }

    #[test]
    fn refund_takes_from_current_then_previous() {
        let mut word = WindowWord::EMPTY;
        run(&mut word, 10, 0, 6);
        run(&mut word, 10, MINUTE, 3);
        let e = refund(word, 10, MINUTE, MINUTE, 5);
        let view = e.next.unwrap().view(1);
        assert_eq!((view.previous, view.current), (4, 0));
        let empty_now = WindowWord::new(0, 0, 0);
        assert!(refund(empty_now, 10, MINUTE, 0, 3).next.is_none());
    }
}
