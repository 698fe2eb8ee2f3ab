//! A plain reference model of one GCRA bucket, written independently of the
//! engine: absolute time in u128 units of 1/count ns (1/32 ns for a rate
//! rounded to the documented tick), no packing, no wrap, timestamps past
//! 2^64 included. Property tests require the engine to make identical
//! decisions.

use floodgate::MAX_TICKS_PER_NS;

/// The numbers a decision reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    pub verdict: Verdict,
    pub limit: u64,
    pub remaining: u64,
    pub reset_after_ns: u64,
    pub retry_after_ns: u64,
    /// How long an admitted reservation waits; 0 for everything else.
    pub delay_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admitted,
    Denied,
    CannotFit,
}

/// count per period_ns, burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u64,
    pub period_ns: u64,
    pub burst: u64,
    /// How much longer than a full burst hammering may push the wait, in ns
    /// (whole ticks); 0 turns lockout off.
    pub lockout_ns: u64,
}

impl Rate {
    /// Whether the rate needs a tick finer than the engine's documented
    /// finest, 1/[`MAX_TICKS_PER_NS`] ns: the interval is then rounded up to
    /// whole ticks of that size.
    fn rounded(&self) -> bool {
        self.count / gcd(self.count, self.period_ns) > MAX_TICKS_PER_NS
    }
    /// Units of time this model counts in: 1/count ns, or 1/32 ns when rounded.
    fn units_per_ns(&self) -> u128 {
        if self.rounded() {
            MAX_TICKS_PER_NS.into()
        } else {
            self.count.into()
        }
    }
    /// One request's interval in those units.
    fn interval(&self) -> u128 {
        if self.rounded() {
            (u128::from(self.period_ns) * u128::from(MAX_TICKS_PER_NS)).div_ceil(self.count.into())
        } else {
            self.period_ns.into()
        }
    }
    fn capacity(&self) -> u128 {
        self.interval() * u128::from(self.burst)
    }
    fn lockout(&self) -> u128 {
        u128::from(self.lockout_ns) * self.units_per_ns()
    }
    /// Ticks are the engine's documented resolution: 1/k ns with
    /// k = count / gcd(count, period), or 1/32 ns when rounded; fractions
    /// round up to whole ticks.
    fn units_per_tick(&self) -> u128 {
        if self.rounded() {
            1
        } else {
            gcd(self.count, self.period_ns).into()
        }
    }
}

pub struct Bucket {
    pub rate: Rate,
    /// Theoretical arrival time in units of 1/count ns; None when never charged.
    tat: Option<u128>,
}

impl Bucket {
    pub fn new(rate: Rate) -> Self {
        Self { rate, tat: None }
    }

    fn debt(&self, now_ns: u128) -> u128 {
        let now = now_ns * self.rate.units_per_ns();
        self.tat.map_or(0, |tat| tat.saturating_sub(now))
    }

    fn ns_up(&self, units: u128) -> u64 {
        units.div_ceil(self.rate.units_per_ns()) as u64
    }

    fn report(&self, verdict: Verdict, debt: u128, retry: u128) -> Reported {
        Reported {
            verdict,
            limit: self.rate.burst,
            remaining: (self.rate.capacity().saturating_sub(debt) / self.rate.interval()) as u64,
            reset_after_ns: self.ns_up(debt),
            retry_after_ns: self.ns_up(retry),
            delay_ns: 0,
        }
    }

    pub fn check(&mut self, cost: u64, now_ns: u128) -> Reported {
        let debt = self.debt(now_ns);
        if cost > self.rate.burst {
            return self.report(Verdict::CannotFit, debt, 0);
        }
        let need = u128::from(cost) * self.rate.interval();
        if debt + need <= self.rate.capacity() {
            if cost > 0 {
                self.tat = Some(now_ns * self.rate.units_per_ns() + debt + need);
            }
            self.report(Verdict::Admitted, debt + need, 0)
        } else if self.rate.lockout_ns > 0 {
            // a denied request is charged, up to burst + lockout
            let charged = debt.max((debt + need).min(self.rate.capacity() + self.rate.lockout()));
            self.tat = Some(now_ns * self.rate.units_per_ns() + charged);
            self.report(
                Verdict::Denied,
                charged,
                charged + need - self.rate.capacity(),
            )
        } else {
            self.report(Verdict::Denied, debt, debt + need - self.rate.capacity())
        }
    }

    /// Admits now, or later within `max_wait_ns` by reserving capacity.
    pub fn reserve(&mut self, cost: u64, max_wait_ns: u64, now_ns: u128) -> Reported {
        let debt = self.debt(now_ns);
        let need = u128::from(cost) * self.rate.interval();
        if cost == 0 || cost > self.rate.burst || debt + need <= self.rate.capacity() {
            return self.check(cost, now_ns);
        }
        let late = debt + need - self.rate.capacity();
        let max_wait = u128::from(max_wait_ns) * self.rate.units_per_ns();
        if late <= max_wait {
            self.tat = Some(now_ns * self.rate.units_per_ns() + debt + need);
            Reported {
                delay_ns: self.ns_up(late),
                ..self.report(Verdict::Admitted, debt + need, 0)
            }
        } else {
            self.report(Verdict::Denied, debt, late - max_wait)
        }
    }

    pub fn refund(&mut self, amount: u64, now_ns: u128) -> Reported {
        let debt = self.debt(now_ns);
        if debt > 0 && amount > 0 {
            let left = debt.saturating_sub(u128::from(amount) * self.rate.interval());
            self.tat = Some(now_ns * self.rate.units_per_ns() + left);
        }
        self.check(0, now_ns)
    }

    /// Requests in use carry over, rounded up to the new rate's tick, capped
    /// at the new burst.
    pub fn reconfigure(&mut self, rate: Rate, now_ns: u128) {
        let debt = self.debt(now_ns);
        // Debt beyond burst plus lockout: time by which `now_ns` is behind
        // the last charge, kept as time rather than requests.
        let lag = debt.saturating_sub(self.rate.capacity() + self.rate.lockout());
        // (debt - lag) / old interval requests, each worth the new interval
        let exact_units = (debt - lag) * rate.interval();
        let per_tick = rate.units_per_tick() * self.rate.interval();
        let kept = (exact_units.div_ceil(per_tick) * rate.units_per_tick()).min(rate.capacity());
        let lag_kept = lag / self.rate.units_per_ns() * rate.units_per_ns();
        self.rate = rate;
        self.tat = Some(now_ns * rate.units_per_ns() + kept + lag_kept);
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
