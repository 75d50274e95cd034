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

/// What a run may use in the page (`cost::admit`). The CPU backend runs in wasm32's 4 GiB
/// address space, which also holds the module, the data and the allocator's free lists.
pub const PAGE_CPU_MEMORY_BYTES: f64 = 3.0e9;
/// WebGPU does not tell a page how much memory its GPU has: what an integrated GPU can spare.
pub const PAGE_GPU_MEMORY_BYTES: f64 = 2.0e9;
/// The engine's own memory under a run's tensors: the wasm module, the helpful base, the
/// evaluation sets and the allocator's slack (measured natively on the tiny preset: `cost`).
pub const RUNTIME_BYTES: f64 = 64.0e6;
/// The longest run the page starts (estimated): longer runs belong to the CLI, which resumes.
pub const PAGE_MAX_SECONDS: f64 = 24.0 * 3600.0;
/// The longest run a link's `autorun` starts without a click (estimated).
pub const AUTORUN_MAX_SECONDS: f64 = 300.0;
