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

pub mod activations;
pub mod auroc;
pub mod defection;
pub mod inversion;
pub mod lens;
pub mod sweep;
