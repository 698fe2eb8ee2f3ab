//! Interleaved rounds for benches on a shared, noisy machine: each row's
//! contenders run one after the other, in rounds of about [`ROUND`], for
//! [`ROUNDS`] rounds, and each reports its fastest round (the one least
//! disturbed by other work) and its median, in ns per check.

#![allow(dead_code)] // each bench uses the part it needs

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rounds per contender; the fastest is reported.
pub const ROUNDS: usize = 21;
/// Target length of one round.
pub const ROUND: Duration = Duration::from_millis(10);
/// Keys per `check_batch` call: a server's batch of requests.
pub const BATCH: usize = 64;

/// A contender: runs `iters` checks and returns the time they took.
pub type Contender<'a> = (&'a str, Box<dyn FnMut(u64) -> Duration + 'a>);

/// Runs `contenders` interleaved (see the module docs) and prints one line:
/// each one's fastest and median round in ns per check, and `reference`'s
/// fastest over each other's.
pub fn race(
    filter: &Option<String>,
    row: &str,
    reference: &str,
    mut contenders: Vec<Contender<'_>>,
) {
    if filter.as_ref().is_some_and(|f| !row.contains(f.as_str())) {
        return;
    }
    // Calibrate each to about one round.
    let iters: Vec<u64> = contenders
        .iter_mut()
        .map(|(_, run)| {
            let mut n = 1_000;
            loop {
                let took = run(n);
                if took >= ROUND / 4 {
                    break (n as f64 * ROUND.as_secs_f64() / took.as_secs_f64()) as u64;
                }
                n *= 4;
            }
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(ROUNDS); contenders.len()];
    for _ in 0..ROUNDS {
        for (i, (_, run)) in contenders.iter_mut().enumerate() {
            samples[i].push(run(iters[i]).as_nanos() as f64 / iters[i] as f64);
        }
    }
    for s in &mut samples {
        s.sort_by(f64::total_cmp);
    }
    let reference_at = contenders.iter().position(|(name, _)| *name == reference);
    let mut line = format!("{row}:");
    for (i, (name, _)) in contenders.iter().enumerate() {
        let s = &samples[i];
        line += &format!(" | {name} {:.2} ns (median {:.2})", s[0], s[s.len() / 2]);
        if let Some(r) = reference_at.filter(|&r| r != i) {
            line += &format!(" {reference}/this {:.2}x", samples[r][0] / s[0]);
        }
    }
    println!("{line}");
}

/// Times `iters` calls of `check`.
pub fn repeat(iters: u64, mut check: impl FnMut() -> bool) -> Duration {
    let began = Instant::now();
    for _ in 0..iters {
        black_box(check());
    }
    began.elapsed()
}

/// Walks `keys` cyclically, resuming where the previous round stopped.
pub struct Walk<'k, K> {
    keys: &'k [K],
    next: usize,
}

impl<'k, K> Walk<'k, K> {
    pub fn new(keys: &'k [K]) -> Self {
        Self { keys, next: 0 }
    }

    pub fn run(&mut self, iters: u64, check: impl Fn(&K) -> bool) -> Duration {
        let began = Instant::now();
        for _ in 0..iters {
            black_box(check(&self.keys[self.next]));
            self.next += 1;
            if self.next == self.keys.len() {
                self.next = 0;
            }
        }
        began.elapsed()
    }

    /// `iters` checks in slices of [`BATCH`] keys handed to `batch`.
    pub fn run_batched(&mut self, iters: u64, batch: impl Fn(&[K])) -> Duration {
        let began = Instant::now();
        let mut left = iters as usize;
        while left > 0 {
            let n = left.min(BATCH).min(self.keys.len() - self.next);
            batch(&self.keys[self.next..self.next + n]);
            self.next = (self.next + n) % self.keys.len();
            left -= n;
        }
        began.elapsed()
    }
}

/// Runs `first` and `second` on two threads, held to CPUs 0 and 1 from
/// their first instruction, and returns the wall time. Left to the
/// scheduler, two threads spawned together often start on one CPU and wait
/// there for the load balancer, which within a round of a few milliseconds
/// measures placement rather than the work.
pub fn two_threads(first: impl FnOnce() + Send, second: impl FnOnce() + Send) -> Duration {
    let began = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            hold_to_cpu(0);
            first()
        });
        scope.spawn(|| {
            hold_to_cpu(1);
            second()
        });
    });
    began.elapsed()
}

/// Keeps the calling thread on `cpu`; where that is not possible (another
/// system, a CPU outside this process's set) it runs wherever it is put.
fn hold_to_cpu(cpu: usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: `set` is a zeroed `cpu_set_t` that CPU_SET fills in bounds
    // (cpu < 2 <= CPU_SETSIZE); the call reads it and changes only this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}
