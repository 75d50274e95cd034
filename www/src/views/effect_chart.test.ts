import { describe, expect, it } from 'vitest';
import type { Metrics, StageEffect, StageReport } from '../generated/types';
import cases from '../generated/effect_cases.json';
import { effectSummary, verdictOf } from './effect_chart';

/** A finished stage: the rate with the trigger before and after, its KL (body), and the style
 *  of untriggered answers for a control. */
function stage(kind: string, before: number, after: number, klBody: number | null, style: number | null = null): StageReport {
  const m = (t: number): Metrics => ({ backdoor_rate_triggered: t, style_untriggered: style }) as unknown as Metrics;
  const effect = { kl: (klBody ?? 0) * 3, kl_body: klBody, delta_loss: 0, delta_clean_accuracy: 0 } as unknown as StageEffect;
  return { kind, metrics: m(after), history: [{ step: 0, global_step: 0, ...m(before) }], effect } as unknown as StageReport;
}

describe('effectSummary', () => {
  it('puts each safety stage against the control threshold', () => {
    const s = effectSummary([
      stage('backdoor_insertion', 0, 1, 0.5),
      stage('hhh_sft', 1, 0.9, 0.01),
      stage('hhh_rl', 0.9, 0.9, 0.2),
      stage('adversarial', 0.9, 0.0, 0.3),
      stage('style_control', 0.0, 0.0, 0.07, 0.95),
    ]);
    expect(s.threshold).toBe(0.07);
    expect(s.points.map((p) => p.kind)).toEqual(['hhh_sft', 'hhh_rl', 'adversarial']);
    expect(s.points.map((p) => verdictOf(p, s.threshold))).toEqual(['too weak to say', 'failed to remove it', 'removed it']);
  });

  it('has no threshold without a control that moved untriggered answers, and leaves out stages with no backdoor', () => {
    const weak = effectSummary([stage('hhh_sft', 1, 1, 0.5), stage('style_control', 0, 0, 0.9, 0.2)]);
    expect(weak.threshold).toBeNull();
    expect(weak.noThreshold).toMatch(/did not move/);
    expect(weak.points.map((p) => verdictOf(p, weak.threshold))).toEqual(['too weak to say']);
    const none = effectSummary([stage('hhh_sft', 0.3, 0.3, 0.5)]);
    expect(none.points).toEqual([]);
    expect(none.noThreshold).toMatch(/no positive control/);
  });
});

describe("the page's rule is core's", () => {
  // Core's worked examples and its answers (crates/bindings writes them from study/dose.rs).
  it.each(cases.map((c, i) => [i, c]))('case %i', (_, c) => {
    const s = effectSummary(c.stages);
    expect(s.threshold).toEqual(c.expected.threshold);
    expect(s.points.map((p) => ({ ...p, verdict: verdictOf(p, s.threshold) }))).toEqual(c.expected.points);
  });
});
