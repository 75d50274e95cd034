//! The house, held to its plan. Two checks, run as tests like tidy.rs:
//!
//! - **The code map is complete.** Every source file (Rust, TypeScript, JavaScript, mjs; not the
//!   generated ones) is named in ARCHITECTURE.md's code map, and every entry the map lists exists.
//!   The map is an indented tree: an entry ending in `/` is a directory that the deeper entries
//!   (and the file names in its description) are relative to; a name with a known top-level
//!   directory (`crates/`, `www/`, `tests/` …) is taken from the root. `x.test.ts` counts as
//!   named with `x.ts`, the module it tests.
//! - **The front end's rooms import downward.** `www/src` is in rooms (`ROOMS`): a room imports
//!   only itself and the rooms it lists, so the contract (`shared/`) knows nothing of the page
//!   or the worker, the views know no state, and no two rooms import each other.

use std::path::Path;

/// Where the source files are, relative to the root, and what is not ours to map.
const MAPPED_ROOTS: &[&str] = &["crates", "www", "tests"];
const SKIPPED_DIRS: &[&str] = &["node_modules", "dist", "generated", "artifacts", "target", "pkg"];
const SOURCE_EXTENSIONS: &[&str] = &["rs", "ts", "mjs", "js"];
/// Top-level names: a map name starting with one of these is from the root, not relative.
const ROOT_DIRS: &[&str] = &["crates/", "www/", "tests/", "docs/", "pkg/", ".ci/"];
/// The column where descriptions start: a line indented this far continues the entry above.
const DESCRIPTION_COLUMN: usize = 22;

/// The rooms of www/src and the rooms each may import (besides itself and `generated`).
pub const ROOMS: &[(&str, &[&str])] = &[
    ("shared", &[]),
    ("views", &["shared"]),
    ("worker", &["shared"]),
    ("embed", &[]),
    ("bench", &["shared", "views"]),
    ("page", &["shared", "views", "embed"]),
];

/// What the code map names: every path it resolves (`named`) and its entries (`entries`), which
/// must exist.
#[derive(Default, Debug)]
pub struct CodeMap {
    pub named: Vec<String>,
    pub entries: Vec<String>,
}

/// Reads the first fenced block after "## Code map".
pub fn read_code_map(doc: &str) -> CodeMap {
    let after = doc.find("## Code map").map_or("", |i| &doc[i..]);
    let block = after.split("```").nth(1).unwrap_or("");
    let mut map = CodeMap::default();
    // (indent, directory) of the enclosing entries; the base of the current description.
    let mut dirs: Vec<(usize, String)> = Vec::new();
    let mut base = String::new();
    for line in block.lines().skip(1) {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let mut words = text.split_whitespace();
        let first = words.next().unwrap_or("");
        let is_entry = indent < DESCRIPTION_COLUMN && (looks_like_path(first) || (first.contains('/') && looks_like_path(&format!("{first}/"))));
        let rest: Vec<&str> = if is_entry {
            while dirs.last().is_some_and(|(i, _)| *i >= indent) {
                dirs.pop();
            }
            let parent = dirs.last().map_or(String::new(), |(_, d)| d.clone());
            // An entry is relative to the directory it is indented under (a top-level one to the root).
            // A name without an extension is a directory (`crates/core`).
            let is_dir = first.ends_with('/') || !first.rsplit('/').next().unwrap_or("").contains('.');
            let entry = format!("{parent}{}{}", first.trim_end_matches('/'), if is_dir { "/" } else { "" });
            for path in expand(&entry) {
                map.entries.push(path.clone());
                map.named.push(path);
            }
            // The entry's description names files next to it.
            base = entry[..entry.rfind('/').map_or(0, |i| i + 1)].to_string();
            if is_dir {
                dirs.push((indent, entry));
            }
            words.collect()
        } else {
            text.split_whitespace().collect()
        };
        for word in rest {
            let token = clean(word);
            if looks_like_path(token) {
                // Relative to the entry; a name that starts at a top-level directory may also be
                // from the root (`tests/e2e/…` in www/'s lines, `tests/integration/` in core's).
                map.named.extend(expand(&format!("{base}{token}")));
                if ROOT_DIRS.iter().any(|r| token.starts_with(r)) {
                    map.named.extend(expand(token));
                }
            }
        }
    }
    map
}

/// A word without the punctuation around it: `(address_bar.ts),` → `address_bar.ts`.
fn clean(word: &str) -> &str {
    let mut token = word;
    loop {
        let trimmed = token.trim_matches(|c: char| !(c.is_alphanumeric() || "_./{}-".contains(c))).trim_end_matches('.');
        if trimmed == token {
            return token;
        }
        token = trimmed;
    }
}

fn looks_like_path(token: &str) -> bool {
    let name = token.trim_end_matches('/');
    !name.is_empty()
        && name.chars().all(|c| c.is_alphanumeric() || "_./{},-".contains(c))
        && (token.ends_with('/') || name.rsplit_once('.').is_some_and(|(stem, ext)| !stem.is_empty() && ext.chars().any(|c| c.is_alphabetic())))
}

/// `threads.{rs,js}` → `threads.rs`, `threads.js`.
fn expand(path: &str) -> Vec<String> {
    match (path.find('{'), path.find('}')) {
        (Some(open), Some(close)) if open < close => {
            path[open + 1..close].split(',').map(|alt| format!("{}{}{}", &path[..open], alt, &path[close + 1..])).collect()
        }
        _ => vec![path.to_string()],
    }
}

/// The source files under `root` that the map must name, as paths relative to it.
pub fn source_files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) && !name.starts_with('.') {
                    walk(root, &path, out);
                }
            } else if path.extension().is_some_and(|e| SOURCE_EXTENSIONS.contains(&e.to_str().unwrap_or(""))) {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    for top in MAPPED_ROOTS {
        walk(root, &root.join(top), &mut out);
    }
    out.sort();
    out
}

/// Files the map does not name, and entries of the map that do not exist.
pub fn map_problems(root: &Path, map: &CodeMap, files: &[String]) -> Vec<String> {
    let named = |f: &str| map.named.iter().any(|n| n == f);
    let mut out: Vec<String> = files
        .iter()
        .filter(|f| !named(f) && !f.strip_suffix(".test.ts").is_some_and(|stem| named(&format!("{stem}.ts"))))
        .map(|f| format!("{f} is not in ARCHITECTURE.md's code map: add it where it belongs, with a line on what it is"))
        .collect();
    for entry in &map.entries {
        // Build output the map describes (pkg/, dist/) exists only after a build.
        let built = entry.split('/').any(|part| SKIPPED_DIRS.contains(&part));
        if !built && !root.join(entry.trim_end_matches('/')).exists() {
            out.push(format!("ARCHITECTURE.md's code map lists {entry}, which does not exist"));
        }
    }
    out
}

/// The rooms a front-end file imports from (`import … from '../views/dom'` → `views`), read from
/// its relative import paths; `room` is the file's own.
pub fn imported_rooms(source: &str, room: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in source.lines() {
        let line = line.trim_start();
        if !(line.starts_with("import ") || line.starts_with("} from ") || line.starts_with("export ")) {
            continue;
        }
        let Some(spec) = line.rsplit(['\'', '"']).nth(1) else { continue };
        let target = if let Some(rest) = spec.strip_prefix("../") {
            rest.split('/').next().unwrap_or("").to_string()
        } else if spec.starts_with("./") {
            room.to_string()
        } else {
            continue; // a package, not a room
        };
        if !out.contains(&target) {
            out.push(target);
        }
    }
    out
}

/// Imports that go against `ROOMS`.
pub fn room_problems(files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, source) in files {
        let room = path.split('/').next().unwrap_or("");
        let Some((_, allowed)) = ROOMS.iter().find(|(r, _)| *r == room) else {
            out.push(format!("www/src/{path} is in no room: put it in one of {:?} (code_map::ROOMS)", ROOMS.iter().map(|r| r.0).collect::<Vec<_>>()));
            continue;
        };
        for target in imported_rooms(source, room) {
            // `..` is www/ itself (pkg/, bases/): not a room.
            if target == room || target == "generated" || target == ".." || target.is_empty() || allowed.contains(&target.as_str()) {
                continue;
            }
            out.push(format!("www/src/{path} imports from {target}/, which the {room} room may not use (allowed: {allowed:?})"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn the_code_map_names_every_source_file_and_only_files_that_exist() {
        let root = root();
        let doc = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
        let map = read_code_map(&doc);
        let files = source_files(&root);
        assert!(files.len() > 100, "read {} source files", files.len());
        let problems = map_problems(&root, &map, &files);
        assert!(problems.is_empty(), "the code map and the tree differ:\n  {}", problems.join("\n  "));
    }

    #[test]
    fn the_front_end_rooms_import_downward() {
        let src = root().join("www/src");
        let mut files = Vec::new();
        for path in source_files(&root()) {
            if let Some(rel) = path.strip_prefix("www/src/") {
                files.push((rel.to_string(), fs::read_to_string(src.join(rel)).unwrap()));
            }
        }
        assert!(files.len() > 30, "read {} front-end files", files.len());
        let problems = room_problems(&files);
        assert!(problems.is_empty(), "www/src's rooms:\n  {}", problems.join("\n  "));
    }

    #[test]
    fn the_map_reader_resolves_nesting_descriptions_and_roots() {
        let doc = "## Code map\n\n```\ncrates/core           the science\n  src/lib.rs          the list; see error.rs\n  src/fused/          kernels:\n    mod.rs            entry; cpu.rs and gpu.rs,\n                      pool.{rs,js} (tests/e2e/site.test.mjs)\nwww/                  page\n  src/main.ts         wiring\n```\n";
        let map = read_code_map(doc);
        for want in [
            "crates/core/",
            "crates/core/src/lib.rs",
            "crates/core/src/error.rs",
            "crates/core/src/fused/mod.rs",
            "crates/core/src/fused/cpu.rs",
            "crates/core/src/fused/gpu.rs",
            "crates/core/src/fused/pool.rs",
            "crates/core/src/fused/pool.js",
            "tests/e2e/site.test.mjs",
            "www/src/main.ts",
        ] {
            assert!(map.named.iter().any(|n| n == want), "{want} not read from the map: {:?}", map.named);
        }
        assert!(!map.named.iter().any(|n| n == "www/src/lib.rs"), "an entry's children do not leak to the next top-level entry");
        let files = vec!["crates/core/src/lib.rs".to_string(), "crates/core/src/model.rs".to_string(), "www/src/main.test.ts".to_string()];
        let entries = vec!["pkg/".to_string(), "crates/core/src/gone.rs".to_string()];
        let problems = map_problems(Path::new("/nonexistent"), &CodeMap { named: map.named.clone(), entries }, &files);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("crates/core/src/model.rs"), "{problems:?}");
        // A build's output (pkg/) need not exist; a listed source file must.
        assert!(problems[1].contains("lists crates/core/src/gone.rs"), "{problems:?}");
    }

    #[test]
    fn an_import_against_the_rooms_is_found() {
        let files = vec![
            ("shared/protocol.ts".to_string(), "import type { Measurement } from '../page/auto_backend';\nimport { X } from './wasm_api';".to_string()),
            ("views/charts.ts".to_string(), "import { el } from './dom';\nimport { BACKENDS } from '../generated/core';".to_string()),
            ("page/main.ts".to_string(), "import { RunView } from '../views/run_view';\nimport { start } from '../worker/run_loop';".to_string()),
            ("stray.ts".to_string(), String::new()),
        ];
        let problems = room_problems(&files);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("shared/protocol.ts imports from page/"));
        assert!(problems[1].contains("page/main.ts imports from worker/"));
        assert!(problems[2].contains("stray.ts is in no room"));
    }
}
