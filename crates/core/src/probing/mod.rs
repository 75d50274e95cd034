//! Trigger probing: given a trained model, with or without knowing its trigger, find out
//! whether it has a backdoor and what sets it off. Every probe takes any `Gpt` — the live model
//! or any stage checkpoint — so a probe can be run before and after safety training.
//!
//! - `sweep`: candidate strings (typed, or near-misses of a base) → backdoor rate of each
//! - `inversion`: GCG search for a trigger, scored by REASR and recall
//! - `defection`: linear probes on the residual stream, AUROC per layer (generic and supervised)
//! - `lens`: attention maps and the logit lens for one prompt and answer
//! - `activations`, `auroc`: what the probes are built from
//!
//! The prompt probe (an answer with per-token probabilities) is `crate::probe`.

/// How many held-out prompts each probe uses unless told otherwise (the page and the CLI alike):
/// per candidate of a trigger sweep, for the defection probe, and to score an inverted trigger.
pub const DEFAULT_SWEEP_PROMPTS: usize = 32;
pub const DEFAULT_DEFECTION_PROMPTS: usize = 64;
pub const DEFAULT_INVERSION_EVAL_PROMPTS: usize = 32;

pub mod activations;
pub mod auroc;
pub mod defection;
pub mod inversion;
pub mod lens;
pub mod sweep;
