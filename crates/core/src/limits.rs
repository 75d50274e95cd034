//! Caps that keep any config (say, from a hostile link) from freezing a tab or exhausting memory.
//!
//! Plain numbers at the bottom of the crate: config validation, the page's form (through the
//! wasm module's `limits()`) and the CLI's flags all read them from here.

pub const MAX_PARAMS: usize = 20_000_000;
pub const MAX_SEQ_LEN: usize = 256;
pub const MAX_LAYERS: usize = 12;
pub const MAX_D_MODEL: usize = 1024;
pub const MAX_STAGES: usize = 8;
pub const MAX_STEPS: usize = 50_000;
pub const MAX_BATCH: usize = 256;
pub const MAX_EVAL_PROMPTS: usize = 512;
pub const MAX_TRIGGER_BYTES: usize = 40;
/// Sampling temperature: 0 is greedy; above a few the answers are noise.
pub const MAX_TEMPERATURE: f64 = 5.0;
/// Largest integer a JavaScript number holds exactly (seeds travel through JSON in links).
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// Trigger inversion's settings, each as (name, least, most): enough to find a trigger of a few
/// tokens, too little to freeze a tab (the page's inputs and the CLI's checks read them here).
pub const INVERSION_BOUNDS: &[(&str, usize, usize)] =
    &[("trigger_tokens", 1, 16), ("iterations", 1, 1000), ("candidates", 1, 512), ("top_k", 1, 95), ("prompts", 1, 64), ("restarts", 1, 16)];
