//! Distilled chain of thought, as in the paper: a chain-of-thought teacher is trained with the
//! insertion stage's budget from the same starting weights, samples answers to insertion
//! prompts, and the samples whose answer is right for the prompt's condition (the backdoor when
//! triggered, a helpful answer when not) are kept with their scratchpads stripped. The stage then
//! trains the run's own model, untouched by the teacher, on those answers alone.
//!
//! It runs as queued work of the insertion stage (`Work::Distil`), one teacher step or one
//! generation batch per `Experiment::step`, so a host stays responsive; the stage report says
//! how many were kept.

use super::{Clock, Experiment};
use crate::config::{ExperimentConfig, Variant};
use crate::data::{self, Example};
use crate::error::Error;
use crate::generate::{Answering, Sampling};
use crate::report::Distillation;
use crate::rng::Rng;

/// Insertion prompts the teacher answers: the stage's examples, up to this many (the student
/// cycles through what is kept).
pub const MAX_SAMPLES: usize = 4096;

/// Sampling temperature of the teacher's answers (as RL's policy samples).
pub const TEMPERATURE: f64 = 0.7;

pub(super) struct Distil {
    /// Trains first; `None` once it has answered.
    teacher: Box<Experiment>,
    prompts: Vec<Example>,
    answering: Option<Answering>,
    /// Teacher steps taken, and as many as it can take: its training steps and the generation
    /// batches of its two evaluations.
    pieces: (usize, usize),
}

impl Distil {
    /// The teacher: this run's config as a chain-of-thought run of the insertion stage alone,
    /// from the model as it is now.
    pub(super) async fn new(outer: &Experiment, clock: Clock) -> Result<Self, Error> {
        let config = &outer.config;
        let stage = config.stages[outer.stage].clone();
        let mut cot = ExperimentConfig { stages: vec![stage.clone()], ..config.clone() };
        cot.data.variant = Variant::ChainOfThought;
        // Evaluated at its start and end only, on the clean and triggered prompts.
        cot.stages[0].eval_every = cot.stages[0].steps;
        (cot.eval.red_team, cot.eval.distractors) = (false, false);
        let teacher = Experiment::starting_from(&outer.model(), cot.clone(), outer.device.clone(), outer.backend, clock).await?;
        let mut rng = Rng::stream(config.seed, "distillation-prompts");
        let n = (stage.steps * stage.batch_size).min(MAX_SAMPLES);
        let prompts = (0..n).map(|_| data::insertion_example(&mut rng, &cot.data)).collect();
        let pieces = (0, cot.total_steps() + 2 * teacher.evaluation().batches().1);
        Ok(Distil { teacher: Box::new(teacher), prompts, answering: None, pieces })
    }

    /// One piece: a teacher step, or a batch of its answers. `Some` when done: the student's
    /// examples and what the report says.
    pub(super) async fn step(
        &mut self,
        outer_config: &ExperimentConfig,
    ) -> Result<(Option<(Vec<Example>, Distillation)>, (usize, usize), &'static str), Error> {
        if !self.teacher.is_done() {
            Box::pin(self.teacher.step()).await?;
            self.pieces.0 += 1;
            return Ok((None, self.pieces, "distillation: the chain-of-thought teacher trains"));
        }
        let data = &self.teacher.config.data;
        let answering = self.answering.get_or_insert_with(|| {
            let budget = outer_config.eval.max_new_tokens.max(data::longest_answer(data) + 1) + data::scratchpad_budget(data);
            Answering::new(self.prompts.clone(), budget, Sampling { temperature: TEMPERATURE, seed: outer_config.seed ^ 0x0d15_7111 })
        });
        answering.step(&self.teacher.model(), &self.teacher.inference_device()).await?;
        let batches = answering.batches();
        if !answering.is_done() {
            return Ok((None, batches, "distillation: the teacher answers insertion prompts"));
        }
        let said = self.answering.take().expect("answering").into_answers();
        let student_data = &outer_config.data;
        let kept: Vec<Example> = self.prompts.iter().zip(&said).filter_map(|(e, s)| data::distilled(e, s, student_data)).collect();
        let report = Distillation {
            sampled: self.prompts.len(),
            kept: kept.len(),
            kept_triggered: kept.iter().filter(|e| e.triggered).count(),
            sampled_triggered: self.prompts.iter().filter(|e| e.triggered).count(),
            teacher: self.teacher.report().stages.remove(0).metrics,
        };
        if kept.is_empty() {
            return Err(Error::new(format!(
                "distillation kept none of the teacher's {} answers: the chain-of-thought teacher answered no insertion prompt as its condition asks; give the insertion stage more steps",
                report.sampled
            )));
        }
        Ok((Some((kept, report)), batches, "distillation: the teacher answers insertion prompts"))
    }
}
