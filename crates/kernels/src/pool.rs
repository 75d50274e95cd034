//! A small fork-join pool for the threaded wasm build, whose helper threads are Web Workers.
//!
//! Why not rayon there: rayon's idle threads spin for a few `yield_now()` rounds and then sleep,
//! and in wasm `yield_now()` does nothing, so between two parallel loops every helper is asleep
//! and each loop pays a browser wake-up (far slower than a native one) before it shares any
//! work. Measured on the tiny shape in Chromium: 2 rayon threads trained slower than 1. Here
//! a helper spins for a while (about a millisecond) after each loop before it sleeps, so the
//! loops of one training step find it awake, and the calling thread always takes pieces
//! itself, so a loop never waits for a wake-up to start.
//!
//! Pieces are claimed from a shared counter, so which thread runs which piece varies, but what
//! each piece computes does not: results never depend on the number of threads.

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};

/// Spins a helper makes waiting for the next loop before it sleeps (≈ 1 ms of atomic loads).
const SPINS_BEFORE_SLEEP: u32 = 1 << 20;

/// One parallel loop: pieces `0..pieces` of `f`, claimed through `next`.
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    pieces: usize,
    next: AtomicUsize,
    done: AtomicUsize,
}

impl Job<'_> {
    /// Claims and runs pieces until none is left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, SeqCst);
            if i >= self.pieces {
                return;
            }
            (self.f)(i);
            self.done.fetch_add(1, SeqCst);
        }
    }
}

pub struct Pool {
    /// Helpers that have joined (they never leave).
    helpers: AtomicUsize,
    /// Bumped for every loop; helpers wait for it to change.
    epoch: AtomicUsize,
    /// The current loop (a `Job` on the caller's stack), or null between loops.
    job: AtomicPtr<()>,
    /// Helpers between reading `job` and finishing with it: the caller waits for zero before
    /// its `Job` goes out of scope.
    active: AtomicUsize,
    sleeping: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Pool {
    pub const fn new() -> Self {
        Self {
            helpers: AtomicUsize::new(0),
            epoch: AtomicUsize::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            active: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Threads that run pieces: the caller and the helpers.
    pub fn threads(&self) -> usize {
        1 + self.helpers.load(SeqCst)
    }

    /// Runs `f(0..pieces)` on the caller and the helpers; returns when every piece is done.
    /// One caller at a time (the wasm module's one calling thread).
    pub fn run(&self, pieces: usize, f: &(dyn Fn(usize) + Sync)) {
        if pieces <= 1 || self.helpers.load(SeqCst) == 0 {
            return (0..pieces).for_each(f);
        }
        let job = Job { f, pieces, next: AtomicUsize::new(0), done: AtomicUsize::new(0) };
        self.job.store(&job as *const Job as *mut (), SeqCst);
        self.epoch.fetch_add(1, SeqCst);
        if self.sleeping.load(SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
        job.work();
        while job.done.load(SeqCst) < pieces {
            std::hint::spin_loop();
        }
        // No helper may touch `job` once this returns: unpublish it, then wait for those that
        // picked it up. (A helper counts itself active before it reads `job`.)
        self.job.store(std::ptr::null_mut(), SeqCst);
        while self.active.load(SeqCst) > 0 {
            std::hint::spin_loop();
        }
    }

    /// Counts one more helper; it must then call [`Pool::serve`]. (Separate so that a helper
    /// can say it has joined before it disappears into `serve`.)
    pub fn join(&self) {
        self.helpers.fetch_add(1, SeqCst);
    }

    /// A helper thread's life after [`Pool::join`]: run pieces of every loop (never returns).
    pub fn serve(&self) -> ! {
        let mut seen = self.epoch.load(SeqCst);
        loop {
            seen = self.next_epoch(seen);
            self.active.fetch_add(1, SeqCst);
            let job = self.job.load(SeqCst) as *const Job;
            // SAFETY: a non-null `job` is a live Job: `run` keeps it alive until `active` is
            // back to zero, and we counted ourselves active before reading the pointer.
            if let Some(job) = unsafe { job.as_ref() } {
                job.work();
            }
            self.active.fetch_sub(1, SeqCst);
        }
    }

    /// Waits (spinning, then sleeping) for an epoch other than `seen`; returns it.
    fn next_epoch(&self, seen: usize) -> usize {
        for _ in 0..SPINS_BEFORE_SLEEP {
            let now = self.epoch.load(SeqCst);
            if now != seen {
                return now;
            }
            std::hint::spin_loop();
        }
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.sleeping.fetch_add(1, SeqCst);
        let mut now = self.epoch.load(SeqCst);
        while now == seen {
            guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            now = self.epoch.load(SeqCst);
        }
        self.sleeping.fetch_sub(1, SeqCst);
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn every_piece_runs_once_on_the_caller_and_the_helpers() {
        static POOL: Pool = Pool::new();
        for _ in 0..2 {
            POOL.join();
            std::thread::spawn(|| POOL.serve());
        }
        assert_eq!(POOL.threads(), 3, "the caller and two helpers");
        for round in 0..200 {
            // Rounds far apart let the helpers fall asleep, close ones find them spinning.
            if round % 50 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let pieces = 1 + round % 37;
            let counts: Vec<AtomicU64> = (0..pieces).map(|_| AtomicU64::new(0)).collect();
            POOL.run(pieces, &|i| {
                counts[i].fetch_add(1, SeqCst);
            });
            assert!(counts.iter().all(|c| c.load(SeqCst) == 1), "round {round}: a piece ran twice or never");
        }
    }
}
