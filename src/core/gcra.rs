//! The GCRA arithmetic on one state word, as pure functions: the limiter (and
//! every keyed table) runs them inside its own CAS loop.
//!
//! A bucket's debt is the capacity in use, in ticks: `tat - now`, at least 0.
//! A request of `cost` needs `cost * T` ticks and is admitted when
//! `debt + cost * T <= burst * T`; the new tat is `now + debt + cost * T`.
//! Because admission raises debt by exactly `cost * T` and time lowers it by
//! exactly the elapsed ticks, a bucket full at time `t0` admits at most
//! `burst + floor(rate * t)` over `[t0, t0 + t]`.

use crate::core::decision::{Decision, Outcome};
use crate::core::quota::Quota;
use crate::core::state::{StateWord, MAX_CAPACITY_TICKS};

/// A decision and, when it charges or refunds, the word to store.
pub(crate) struct Evaluation {
    pub(crate) decision: Decision,
    pub(crate) next: Option<StateWord>,
}

/// `quota`'s decision with `debt` ticks in use and `wait` ticks to go.
#[inline]
fn report(quota: &Quota, outcome: Outcome, debt: u64, wait: u64) -> Decision {
    Decision::from_ticks(
        outcome,
        quota.burst(),
        debt,
        wait,
        quota.token_ticks(),
        quota.ticks_per_ns(),
    )
}

/// Decides a request of `cost` against `word` at `now_ns`. A `cost` of 0
/// peeks: it reports the bucket and never writes.
#[inline]
pub(crate) fn evaluate(word: StateWord, quota: &Quota, now_ns: u64, cost: u64) -> Evaluation {
    let now = quota.ticks_at(now_ns);
    let debt = word.debt_at(now);
    let capacity = quota.capacity_ticks();
    let report = |outcome, debt, wait| report(quota, outcome, debt, wait);
    if cost > quota.burst() {
        return Evaluation {
            decision: report(Outcome::CannotFit, debt, 0),
            next: None,
        };
    }
    // cost <= burst, so need <= capacity: no overflow.
    let need = cost * quota.token_ticks();
    if debt <= capacity - need {
        let charged = debt + need;
        Evaluation {
            decision: report(Outcome::Admitted, charged, 0),
            next: (cost > 0).then(|| StateWord::with_debt(word.generation(), now, charged)),
        }
    } else {
        // With lockout on, a denied request is charged anyway (bounded), so
        // retrying during the cooldown extends it; otherwise nothing changes.
        let debt_after = match quota.lockout_ticks() {
            0 => debt,
            lockout => debt.max((debt + need).min(capacity + lockout)),
        };
        // debt < 2^60 and need <= 2^59: no overflow; the wait is at least 1 tick.
        let wait = debt_after + need - capacity;
        Evaluation {
            decision: report(Outcome::Denied, debt_after, wait),
            next: (debt_after > debt)
                .then(|| StateWord::with_debt(word.generation(), now, debt_after)),
        }
    }
}

/// Like [`evaluate`], but a request that does not fit now may still be
/// admitted *later*: if the wait is at most `max_wait_ns`, the capacity is
/// reserved at once and the decision is admitted with that
/// [`delay`](Decision::delay). Cancelling is refunding the same cost.
#[inline]
pub(crate) fn reserve(
    word: StateWord,
    quota: &Quota,
    now_ns: u64,
    cost: u64,
    max_wait_ns: u64,
) -> Evaluation {
    let immediate = evaluate(word, quota, now_ns, cost);
    if immediate.decision.outcome() != Outcome::Denied || cost == 0 {
        return immediate;
    }
    let now = quota.ticks_at(now_ns);
    let debt = word.debt_at(now);
    let capacity = quota.capacity_ticks();
    let need = cost * quota.token_ticks();
    let late = debt + need - capacity;
    // Reserved debt stays below capacity + 2^59 < 2^60, inside the word's window.
    let max_wait = max_wait_ns
        .saturating_mul(quota.ticks_per_ns())
        .min(MAX_CAPACITY_TICKS);
    let outcome = if late <= max_wait {
        Outcome::Admitted
    } else {
        Outcome::Denied
    };
    let decision = |debt, wait| report(quota, outcome, debt, wait);
    if outcome == Outcome::Admitted {
        Evaluation {
            decision: decision(debt + need, late),
            next: Some(StateWord::with_debt(word.generation(), now, debt + need)),
        }
    } else {
        // The same reservation fits once the wait has shrunk to max_wait.
        Evaluation {
            decision: decision(debt, late - max_wait),
            next: None,
        }
    }
}

/// Gives `amount` units of capacity back; the bucket never goes above full.
#[inline]
pub(crate) fn refund(word: StateWord, quota: &Quota, now_ns: u64, amount: u64) -> Evaluation {
    let now = quota.ticks_at(now_ns);
    let debt = word.debt_at(now);
    let returned = debt.saturating_sub(amount.saturating_mul(quota.token_ticks()));
    let next =
        (amount > 0 && debt > 0).then(|| StateWord::with_debt(word.generation(), now, returned));
    Evaluation {
        decision: evaluate(
            next.unwrap_or(word),
            quota,
            now_ns,
            0, // report the refunded bucket without charging it
        )
        .decision,
        next,
    }
}

/// Re-expresses `word`, measured under `from`, under `to` in `generation`.
///
/// The rule: the capacity in use, counted in requests (fractions included),
/// is kept, capped at the new burst. A bucket that had used 40 of 60 has 20
/// left under a burst of 60, 0 left under a burst of 40, and 60 left under a
/// burst of 100; its debt then drains at the new rate.
///
/// A conversion may be timed behind the check that last wrote the word (a
/// reconfiguration that read its clock, then waited for another's turn,
/// while checks went on). The debt it reads is then larger by that lag,
/// and beyond what any check leaves (burst plus lockout): that excess is
/// time, not requests, and is kept as time, or capping it at the burst
/// would hand the lag back as tokens.
pub(crate) fn convert(
    word: StateWord,
    from: &Quota,
    to: &Quota,
    now_ns: u64,
    generation: usize,
) -> StateWord {
    let debt = word.debt_at(from.ticks_at(now_ns));
    let lag = debt.saturating_sub(from.capacity_ticks() + from.lockout_ticks());
    let kept = carried_debt(debt - lag, from.token_ticks(), to);
    let lag_in_to = (lag / from.ticks_per_ns()).saturating_mul(to.ticks_per_ns());
    // Below the span a word reads as ahead of now (`state.rs`).
    let most = 2 * MAX_CAPACITY_TICKS - 1;
    StateWord::with_debt(
        generation,
        to.ticks_at(now_ns),
        kept.saturating_add(lag_in_to).min(most),
    )
}

/// `debt` ticks of a quota whose request takes `from_token_ticks`, as ticks
/// of `to`: the same number of requests, fractions included and rounded up
/// to `to`'s tick, capped at `to`'s burst (the reconfiguration rule).
pub(crate) fn carried_debt(debt: u64, from_token_ticks: u64, to: &Quota) -> u64 {
    let scaled =
        (u128::from(debt) * u128::from(to.token_ticks())).div_ceil(u128::from(from_token_ticks));
    scaled.min(u128::from(to.capacity_ticks())) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(per_second: u64, burst: u64) -> Quota {
        Quota::per_second(per_second)
            .unwrap()
            .with_burst(burst)
            .unwrap()
    }

    #[test]
    fn admits_the_burst_then_denies_with_exact_retry() {
        let q = quota(30, 60);
        let mut word = StateWord::FRESH;
        for i in 0..60 {
            let e = evaluate(word, &q, 0, 1);
            assert_eq!(e.decision.outcome(), Outcome::Admitted, "request {i}");
            assert_eq!(e.decision.remaining(), 59 - i);
            word = e.next.unwrap();
        }
        let e = evaluate(word, &q, 0, 1);
        assert_eq!(e.decision.outcome(), Outcome::Denied);
        assert_eq!(e.decision.retry_after_ns(), 33_333_334);
        assert_eq!(e.decision.reset_after_ns(), 2_000_000_000);
        assert!(e.next.is_none());
        // exactly 30 more after one second
        let mut admitted = 0;
        while let Some(next) = evaluate(word, &q, 1_000_000_000, 1).next {
            word = next;
            admitted += 1;
        }
        assert_eq!(admitted, 30);
    }

    #[test]
    fn cost_beyond_burst_cannot_fit() {
        let q = quota(10, 10);
        let e = evaluate(StateWord::FRESH, &q, 0, 11);
        assert_eq!(e.decision.outcome(), Outcome::CannotFit);
        assert_eq!(e.decision.retry_after(), None);
        assert_eq!(e.decision.remaining(), 10);
        let e = evaluate(StateWord::FRESH, &q, 0, u64::MAX);
        assert_eq!(e.decision.outcome(), Outcome::CannotFit);
    }

    #[test]
    fn peek_reports_without_writing() {
        let q = quota(10, 10);
        let word = evaluate(StateWord::FRESH, &q, 0, 4).next.unwrap();
        let e = evaluate(word, &q, 0, 0);
        assert!(e.next.is_none());
        assert_eq!(e.decision.remaining(), 6);
    }

    #[test]
    fn refund_never_overfills() {
        let q = quota(10, 10);
        let word = evaluate(StateWord::FRESH, &q, 0, 3).next.unwrap();
        let e = refund(word, &q, 0, 100);
        assert_eq!(e.decision.remaining(), 10);
        assert_eq!(e.next.unwrap().debt_at(0), 0);
        assert!(refund(StateWord::FRESH, &q, 0, 5).next.is_none());
    }

    #[test]
    fn lockout_charges_denials_up_to_its_ceiling() {
        let q = quota(10, 10)
            .with_lockout(std::time::Duration::from_secs(1))
            .unwrap();
        let mut word = evaluate(StateWord::FRESH, &q, 0, 10).next.unwrap();
        let mut waits = Vec::new();
        for _ in 0..15 {
            let e = evaluate(word, &q, 0, 1);
            assert_eq!(e.decision.outcome(), Outcome::Denied);
            waits.push(e.decision.retry_after_ns());
            word = e.next.unwrap_or(word);
        }
        assert_eq!(waits[0], 200_000_000); // charged, then one more interval
        assert!(waits.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(*waits.last().unwrap(), 1_100_000_000); // capped: 1 s + 1 interval
    }

    #[test]
    fn without_lockout_a_denial_writes_nothing() {
        let q = quota(10, 10);
        let word = evaluate(StateWord::FRESH, &q, 0, 10).next.unwrap();
        assert!(evaluate(word, &q, 0, 1).next.is_none());
        // partly refilled: still nothing charged
        assert!(evaluate(word, &q, 50_000_000, 2).next.is_none());
    }

    #[test]
    fn reservation_delays_within_the_bound() {
        let q = quota(10, 10);
        let word = evaluate(StateWord::FRESH, &q, 0, 10).next.unwrap();
        let e = reserve(word, &q, 0, 2, 250_000_000);
        assert_eq!(e.decision.outcome(), Outcome::Admitted);
        assert_eq!(e.decision.delay().as_millis(), 200);
        let word = e.next.unwrap();
        let e = reserve(word, &q, 0, 1, 250_000_000);
        assert_eq!(e.decision.outcome(), Outcome::Denied);
        assert_eq!(e.decision.retry_after_ns(), 50_000_000);
        let cancelled = refund(word, &q, 0, 2).next.unwrap();
        assert_eq!(evaluate(cancelled, &q, 0, 0).decision.remaining(), 0);
        assert_eq!(
            evaluate(cancelled, &q, 100_000_000, 1).decision.outcome(),
            Outcome::Admitted
        );
    }

    #[test]
    fn conversion_keeps_requests_used() {
        let from = quota(30, 60);
        let word = evaluate(StateWord::FRESH, &from, 0, 40).next.unwrap();
        let to = quota(50, 100);
        let converted = convert(word, &from, &to, 0, 1);
        assert_eq!(converted.generation(), 1);
        assert_eq!(evaluate(converted, &to, 0, 0).decision.remaining(), 60);
        let smaller = quota(50, 30);
        let converted = convert(word, &from, &smaller, 0, 1);
        assert_eq!(evaluate(converted, &smaller, 0, 0).decision.remaining(), 0);
    }
}
