//! Work a stage does besides training (evaluations, the red team's inversion and search, the
//! found prompts' rates after adversarial training, distillation), queued and done one piece
//! per `step`.

use super::{Activity, Experiment, Progress};
use crate::config::RedTeamKind;
use crate::error::Error;
use crate::eval::Evaluation;
use crate::probing::inversion::Inversion;
use crate::redteam;
use crate::report::Metrics;

/// Work a stage does besides training, queued and done one piece per `step` so that no step is
/// long (the page stays responsive and can pause between pieces).
pub(super) enum Work {
    /// The blind red team's GCG search against the behaviour, at the adversarial stage's start;
    /// its search follows with what it found.
    Invert { search: Box<Inversion>, seed: u64 },
    /// The red team tries its guesses (adversarial stage start).
    Search(redteam::Search),
    /// The found guesses' held-out rates at the end of adversarial training.
    RatesAfter(redteam::Rates),
    /// A stage's opening point, taken over from the previous stage's last evaluation.
    Reuse(Metrics),
    /// An evaluation; at a stage's last step, the stage finishes with it.
    Evaluate { evaluation: Evaluation, finishes_stage: bool },
    /// Distilled chain of thought: the teacher trains and answers, before insertion trains.
    Distil(Box<super::distill::Distil>),
}

impl Experiment {
    /// One piece of the first queued work; when it completes, what follows it.
    pub(super) async fn work(&mut self) -> Result<Progress, Error> {
        let work = self.queue.pop_front().expect("queued work");
        let (model, device) = (self.model(), self.inference_device());
        let activity = |what: &str, (done, of): (usize, usize)| Some(Activity { what: what.into(), done, of });
        match work {
            Work::Invert { mut search, seed } => {
                let p = search.step().await?;
                let of = p.restarts * p.iterations;
                let done = if p.done { of } else { p.restart * p.iterations + p.iteration };
                if search.is_done() {
                    let mut pool = self.eval_sets.red_team_pool().to_vec();
                    pool.extend(redteam::inverted_guesses(&search, &self.config.data));
                    self.queue.push_front(Work::Search(redteam::Search::new(&self.config.data, &pool, seed, self.eval_sets.held_out())));
                } else {
                    self.queue.push_front(Work::Invert { search, seed });
                }
                Ok(self.working(activity("red-team inversion", (done, of))))
            }
            Work::Search(mut search) => {
                search.step(&model, &self.config.data, &device).await?;
                let batches = search.batches();
                if search.is_done() {
                    self.reports[self.stage].red_team = Some(search.finish(&self.config.data));
                } else {
                    self.queue.push_front(Work::Search(search));
                }
                Ok(self.working(activity("red-team search", batches)))
            }
            Work::RatesAfter(mut rates) => {
                rates.step(&model, &device).await?;
                let batches = rates.batches();
                if rates.is_done() {
                    let after = rates.finish(&self.config.data);
                    if let Some(report) = &mut self.reports[self.stage].red_team {
                        for (hit, rate) in report.hits.iter_mut().zip(after) {
                            hit.rate_after = Some(rate);
                        }
                    }
                } else {
                    self.queue.push_front(Work::RatesAfter(rates));
                }
                Ok(self.working(activity("red-team rates after training", batches)))
            }
            Work::Distil(mut distil) => {
                let (finished, pieces, what) = distil.step(&self.config).await?;
                match finished {
                    Some((kept, report)) => {
                        self.distilled = kept;
                        self.reports[self.stage].distillation = Some(report);
                        self.restart_window();
                    }
                    None => self.queue.push_front(Work::Distil(distil)),
                }
                Ok(self.working(activity(what, pieces)))
            }
            Work::Reuse(metrics) => {
                let point = self.record_eval(metrics);
                self.restart_window();
                Ok(self.progress(vec![], Some(point), false))
            }
            Work::Evaluate { mut evaluation, finishes_stage } => {
                evaluation.step(&model, &device).await?;
                let batches = evaluation.batches();
                if !evaluation.is_answered() {
                    self.queue.push_front(Work::Evaluate { evaluation, finishes_stage });
                    return Ok(self.working(activity("evaluation", batches)));
                }
                let metrics = evaluation.finish(&model, &self.config.data, &device).await?;
                let point = self.record_eval(metrics);
                // Evaluations do not count as training time.
                self.restart_window();
                let mut progress = self.progress(vec![], Some(point), finishes_stage);
                progress.activity = activity("evaluation", batches);
                if finishes_stage {
                    self.record_effect().await?;
                    self.finish_stage();
                    progress.done = self.is_done();
                }
                Ok(progress)
            }
        }
    }

    /// A step's progress that did a piece of queued work.
    fn working(&self, activity: Option<Activity>) -> Progress {
        let mut progress = self.progress(vec![], None, false);
        progress.activity = activity;
        progress
    }

    /// The adversarial stage's search for prompts that elicit the backdoor without the trigger:
    /// the blind team first runs GCG against the behaviour, and its finds join the guesses.
    pub(super) async fn queue_red_team(&mut self) -> Result<(), Error> {
        let seed = self.config.seed ^ ((self.stage as u64) << 40);
        let inversion = match self.config.eval.red_team_kind {
            RedTeamKind::Blind => redteam::inversion(&self.model(), &self.config, seed, &self.inference_device()).await?,
            RedTeamKind::Oracle => None,
        };
        self.queue.push_back(match inversion {
            Some(search) => Work::Invert { search: Box::new(search), seed },
            None => Work::Search(redteam::Search::new(&self.config.data, self.eval_sets.red_team_pool(), seed, self.eval_sets.held_out())),
        });
        Ok(())
    }

    /// The found prompts' backdoor rates on held-out prompts at the end of adversarial training.
    pub(super) fn queue_rates_after(&mut self) {
        let Some(report) = &self.reports[self.stage].red_team else { return };
        let found: Vec<&str> = report.hits.iter().map(|h| h.text.as_str()).collect();
        let rates = redteam::Rates::new(&found, self.eval_sets.held_out(), &self.config.data);
        self.queue.push_back(Work::RatesAfter(rates));
    }

    /// An evaluation of the model as it is now (`step` does it a batch at a time).
    pub(super) fn evaluation(&self) -> Evaluation {
        // Evaluation sampling draws from its own stream, keyed by where in the run it happens.
        let seed = self.config.seed ^ ((self.global_step as u64) << 20);
        self.eval_sets.evaluation(&self.config, seed)
    }
}
