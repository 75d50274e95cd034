//! Training throughput: tokens per second over the window since the last loss read-back (what
//! `Progress` shows), and over a whole stage's training time (what its report says).

/// Training tokens since the window opened and when it did, the last window's rate, and the
/// stage's training tokens and time so far. Evaluations and other work reopen the window, so
/// they do not count as training time. Times are the host's `Clock`, in milliseconds.
pub(super) struct Throughput {
    window_tokens: usize,
    window_started_ms: f64,
    last_tokens_per_sec: Option<f64>,
    stage_tokens: usize,
    stage_ms: f64,
}

impl Throughput {
    /// An empty window opened at `now`.
    pub(super) fn new(now: f64) -> Self {
        Self { window_tokens: 0, window_started_ms: now, last_tokens_per_sec: None, stage_tokens: 0, stage_ms: 0.0 }
    }

    /// A training step's tokens (padding included).
    pub(super) fn add(&mut self, tokens: usize) {
        self.window_tokens += tokens;
    }

    /// Reopens the window at `now`, leaving out the time since it opened (work that is not training).
    pub(super) fn restart(&mut self, now: f64) {
        self.window_started_ms = now;
    }

    /// Closes the window at `now` (the losses were read, so the device has caught up): its rate
    /// becomes the last one, its tokens and time count for the stage, and a new one opens.
    pub(super) fn close_window(&mut self, now: f64) {
        let elapsed = now - self.window_started_ms;
        self.last_tokens_per_sec = tokens_per_sec(self.window_tokens, elapsed);
        self.stage_tokens += self.window_tokens;
        self.stage_ms += elapsed;
        self.window_tokens = 0;
        self.window_started_ms = now;
    }

    /// The last closed window's rate.
    pub(super) fn last(&self) -> Option<f64> {
        self.last_tokens_per_sec
    }

    /// The finished stage's rate over its training time; the next stage counts from zero.
    pub(super) fn finish_stage(&mut self) -> Option<f64> {
        let rate = tokens_per_sec(self.stage_tokens, self.stage_ms);
        self.stage_tokens = 0;
        self.stage_ms = 0.0;
        rate
    }
}

fn tokens_per_sec(tokens: usize, ms: f64) -> Option<f64> {
    (tokens > 0 && ms > 0.0).then(|| tokens as f64 / (ms / 1000.0))
}
