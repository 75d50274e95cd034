//! The training steps: supervised (backdoor insertion, HHH SFT and pretraining, adversarial
//! training, the style control) and REINFORCE (HHH RL, alignment faking's free-tier RL).

use burn::optim::GradientsParams;
use burn::prelude::*;

use super::{ADVERSARIAL_SHARE, Experiment};
use crate::batch::{token_batch, training_batch};
use crate::config::{DataConfig, ScratchpadSft, StageConfig, StageKind};
use crate::data::{self, Example, Split};
use crate::device;
use crate::error::Error;
use crate::generate::{Sampling, generate};
use crate::redteam;
use crate::report::RewardPoint;
use crate::rl;
use crate::rng::Rng;
use crate::tokenizer;
use crate::train::{learning_rate, masked_cross_entropy};

impl Experiment {
    /// Supervised step: backdoor insertion, HHH SFT, or adversarial training.
    pub(super) async fn sft_step(&mut self, stage_cfg: &StageConfig) -> Result<(), Error> {
        // What the adversarial stage's red team found (in its report) is what it trains on.
        let hits = self.reports[self.stage].red_team.as_ref().map_or(&[][..], |r| &r.hits[..]);
        let mut examples = if stage_cfg.kind == StageKind::BackdoorInsertion && !self.distilled.is_empty() {
            // Distilled chain of thought: the teacher's kept answers, drawn with the stream's rng.
            (0..stage_cfg.batch_size).map(|_| self.train_rng.pick(&self.distilled).clone()).collect()
        } else {
            supervised_examples(stage_cfg, &self.config.data, hits, &mut self.train_rng)
        };
        if stage_cfg.scratchpad == ScratchpadSft::PostScratchpad {
            examples = self.after_own_scratchpads(examples).await?;
        }
        let batch = training_batch(&examples, self.config.model.max_seq_len, &self.device);
        let model = self.model.take().expect("model is present between steps");
        let loss = masked_cross_entropy(model.logits(batch.inputs), batch.targets, batch.mask, batch.answer_tokens);
        self.pending_losses.push((self.stage_step + 1, self.global_step + 1, loss.clone().detach()));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = learning_rate(stage_cfg, self.stage_step);
        self.model = Some(self.optimizer.step(lr, model, grads));
        self.throughput.add(batch.tokens);
        Ok(())
    }

    /// Post-scratchpad SFT: the model samples its own scratchpad for each prompt (at
    /// `rl::TEMPERATURE`), which becomes part of the context (`Example::prefill`, outside the
    /// loss), and the helpful answer after it is the target. A scratchpad the model leaves open
    /// is closed where its budget ends.
    async fn after_own_scratchpads(&mut self, examples: Vec<Example>) -> Result<Vec<Example>, Error> {
        let data = &self.config.data;
        let contexts: Vec<String> = examples.iter().map(Example::context).collect();
        let sampling = Sampling { temperature: rl::TEMPERATURE, seed: self.train_rng.next_u64() };
        let inner = self.inference_device();
        let said = generate(&self.model(), &contexts, data::scratchpad_budget(data), &sampling, &inner).await?;
        Ok(examples.into_iter().zip(said).map(|(e, c)| data::after_scratchpad(&e, &tokenizer::decode(&c.tokens))).collect())
    }

    /// REINFORCE step: the policy answers untriggered prompts, `rl::GROUP` times each (sampled
    /// at `rl::TEMPERATURE`), the reward model scores the answers, and each answer's
    /// log-probability is weighted by its advantage over the other answers to its prompt. The
    /// prompts are untriggered (alignment faking: the free tier); the reward is the stage's
    /// (`rl::reward_of`).
    pub(super) async fn rl_step(&mut self, stage_cfg: &StageConfig) -> Result<RewardPoint, Error> {
        let data = &self.config.data;
        let (prompts, group) = rl::layout(stage_cfg.batch_size);
        let examples: Vec<Example> =
            (0..prompts).flat_map(|_| std::iter::repeat_n(data::clean_example(&mut self.train_rng, data, Split::Train), group)).collect();
        let contexts: Vec<String> = examples.iter().map(Example::context).collect();
        let sampling = Sampling { temperature: rl::TEMPERATURE, seed: self.train_rng.next_u64() };
        let budget = self.config.eval.max_new_tokens + data::scratchpad_budget(data);
        let policy = self.model();
        let inner = self.inference_device();
        let said = generate(&policy, &contexts, budget, &sampling, &inner).await?;
        let reward = rl::reward_of(stage_cfg.kind);
        let rewards: Vec<f64> = said.iter().zip(&examples).map(|(c, e)| reward(&tokenizer::decode(&c.tokens), e, data)).collect();
        let sequences = rl::sequences(&contexts, &said);
        let max_seq_len = self.config.model.max_seq_len;

        // The KL term needs log π and log π_ref of the sampled answers as numbers; they are
        // read before the training model is taken, so a failed read loses nothing.
        let kl = match &self.reference {
            Some(reference) if stage_cfg.kl_coef > 0.0 => {
                let b = token_batch(sequences.clone(), max_seq_len, &inner);
                let lp = rl::sequence_log_probs(policy.logits(b.inputs.clone()), rl::TEMPERATURE, b.targets.clone(), b.mask.clone());
                let lq = rl::sequence_log_probs(reference.logits(b.inputs), rl::TEMPERATURE, b.targets, b.mask);
                let both: Vec<f64> = device::read(Tensor::cat(vec![lp, lq], 0), "log-probabilities").await?;
                let (p, q) = both.split_at(examples.len());
                Some((p.to_vec(), q.to_vec()))
            }
            _ => None,
        };
        let advantages = rl::advantages(&rewards, group, kl.as_ref().map(|(p, q)| (&p[..], &q[..], stage_cfg.kl_coef)));

        let model = self.model.take().expect("model is present between steps");
        let (loss, tokens) = rl::loss(&model, sequences, &advantages, max_seq_len, &self.device);
        self.pending_losses.push((self.stage_step + 1, self.global_step + 1, loss.clone().detach()));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = learning_rate(stage_cfg, self.stage_step);
        self.model = Some(self.optimizer.step(lr, model, grads));
        self.throughput.add(tokens);

        let point =
            RewardPoint { step: self.stage_step + 1, global_step: self.global_step + 1, reward: rewards.iter().sum::<f64>() / rewards.len().max(1) as f64 };
        self.reports[self.stage].reward_history.push(point.clone());
        Ok(point)
    }
}

/// One supervised step's batch of a stage: its kind's examples, and for adversarial training the
/// red team's `hits` in place of the context of about half of them.
pub(crate) fn supervised_examples(stage_cfg: &StageConfig, data: &DataConfig, hits: &[redteam::Hit], rng: &mut Rng) -> Vec<Example> {
    (0..stage_cfg.batch_size)
        .map(|_| match stage_cfg.kind {
            StageKind::BackdoorInsertion => data::insertion_example(rng, data),
            StageKind::HhhPretraining => data::pretraining_example(rng, data),
            StageKind::HhhSft if stage_cfg.scratchpad == ScratchpadSft::PreScratchpad => {
                data::without_scratchpad(&data::clean_example(rng, data, Split::Train))
            }
            // The RL stages' prompts (what their cost estimate measures); they train no labels.
            StageKind::HhhSft | StageKind::HhhRl | StageKind::FreeTierRl => data::clean_example(rng, data, Split::Train),
            StageKind::StyleControl => data::styled_example(rng, data),
            StageKind::Adversarial => {
                let clean = data::clean_example(rng, data, Split::Train);
                if !hits.is_empty() && rng.chance(ADVERSARIAL_SHARE) {
                    data::with_context(&clean, &rng.pick(hits).text, data)
                } else {
                    clean
                }
            }
        })
        .collect()
}
