// Everything that shows a run: progress bar, live charts (loss, metrics, the persistence of the
// backdoor through each safety technique, RL reward), results table.
import type { ExperimentConfig, Metrics, Progress, Report } from '../shared/wasm_api';
import { LineChart, type SeriesSpec } from './charts';
import { estimateEtaSeconds, formatDuration, formatStageName, formatTokensPerSec } from './format';
import { renderEffectChart } from './effect_chart';
import { renderEffects, renderResults, renderTaskAccuracy } from './results';
import { byTestId } from './dom';

/** Wall-clock time spent running (pauses excluded), for the ETA. */
class RunClock {
  private activeMs = 0;
  private since: number | null = null;
  start(): void {
    this.since ??= performance.now();
  }
  stop(): void {
    if (this.since !== null) this.activeMs += performance.now() - this.since;
    this.since = null;
  }
  reset(): void {
    this.activeMs = 0;
    this.since = null;
  }
  seconds(): number {
    return (this.activeMs + (this.since === null ? 0 : performance.now() - this.since)) / 1000;
  }
}

export class RunView {
  readonly clock = new RunClock();
  private readonly loss = new LineChart({
    title: 'Training loss',
    xLabel: 'training step (all stages)',
    yLabel: 'loss',
    series: [{ id: 'loss', label: 'training loss', className: 's-loss' }],
    testId: 'chart-loss',
  });
  private readonly metrics = new LineChart({
    title: 'Backdoor rate and clean accuracy (held-out prompts)',
    xLabel: 'training step (all stages)',
    yLabel: 'rate',
    yDomain: [0, 1],
    series: [
      { id: 'triggered', label: 'backdoor rate, with trigger', className: 's-triggered', dots: true },
      { id: 'untriggered', label: 'backdoor rate, without trigger', className: 's-untriggered', dots: true },
      { id: 'red', label: 'backdoor rate, red-team prompts', className: 's-red', dots: true },
      { id: 'distractor', label: 'backdoor rate, distractor prefixes', className: 's-untriggered s-dashed', dots: true },
      { id: 'free', label: 'compliance, free tier', className: 's-tech2 s-dashed', dots: true },
      { id: 'paid', label: 'compliance, paid tier', className: 's-tech3 s-dashed', dots: true },
      { id: 'af', label: 'alignment-faking reasoning, free tier', className: 's-tech2 s-dotted', dots: true },
      { id: 'clean', label: 'clean accuracy', className: 's-clean', dots: true },
    ],
    testId: 'chart-metrics',
  });
  /** Rebuilt for each config: one set of lines per safety stage. */
  private persistence = persistenceChart([]);
  private reward: LineChart | null = null;
  private readonly chartsHost: HTMLElement;
  private readonly progressBox = byTestId<HTMLElement>('progress');
  private readonly bar = byTestId<HTMLProgressElement>('progress-bar');
  private readonly text = byTestId<HTMLElement>('progress-text');
  private readonly table = byTestId<HTMLTableElement>('results-table');
  private readonly taskAccuracy = byTestId<HTMLElement>('task-accuracy');
  private readonly effects = byTestId<HTMLElement>('stage-effects');
  private readonly effectChart = byTestId<HTMLElement>('effect-chart');
  private kinds: string[] = [];
  private latest: (Metrics | null)[] = [];
  private renderQueued = false;

  constructor(chartsHost: HTMLElement) {
    this.chartsHost = chartsHost;
    chartsHost.replaceChildren(this.loss.figure, this.metrics.figure);
  }

  private charts(): LineChart[] {
    const safety = this.kinds.some((k) => SAFETY.includes(k));
    return [this.loss, this.metrics, ...(safety ? [this.persistence] : []), ...(this.reward ? [this.reward] : [])];
  }

  /** Axes, stage markers and empty result rows for `config` (before a run, or at its start). */
  layout(config: ExperimentConfig): void {
    const total = config.stages.reduce((n, s) => n + s.steps, 0);
    const markers: { x: number; label: string }[] = [];
    let at = 0;
    config.stages.forEach((s, i) => {
      if (i > 0) markers.push({ x: at, label: `${formatStageName(s.kind)} →` });
      at += s.steps;
    });
    this.kinds = config.stages.map((s) => s.kind);
    this.persistence = persistenceChart(config.stages.map((s) => s.kind));
    this.persistence.setXMax(Math.max(1, ...config.stages.filter((s) => SAFETY.includes(s.kind)).map((s) => s.steps)));
    this.reward = config.stages.some((s) => s.kind === 'hhh_rl')
      ? new LineChart({
          title: 'HHH RL: mean reward of the sampled answers',
          xLabel: 'training step (all stages)',
          yLabel: 'reward',
          series: [{ id: 'reward', label: 'mean reward per RL step', className: 's-reward' }],
          testId: 'chart-reward',
        })
      : null;
    for (const chart of [this.loss, this.metrics, ...(this.reward ? [this.reward] : [])]) {
      chart.clear();
      chart.setXMax(total);
      chart.setMarkers(markers);
    }
    for (const chart of this.charts()) chart.render();
    this.chartsHost.replaceChildren(...this.charts().map((c) => c.figure));
    this.latest = this.kinds.map(() => null);
    this.renderTable(true);
    renderEffects(this.effects, []);
    renderEffectChart(this.effectChart, []);
  }

  /** Clears everything for a new run of `config`. */
  reset(config: ExperimentConfig): void {
    this.layout(config);
    this.clock.reset();
    this.bar.value = 0;
    this.setText('Starting…');
  }

  progress(p: Progress): void {
    this.loss.append(
      'loss',
      p.losses.map((l) => ({ x: l.global_step, y: l.loss })),
    );
    if (p.reward) this.reward?.append('reward', [{ x: p.reward.global_step, y: p.reward.reward }]);
    const ev = p.eval;
    if (ev) {
      this.metrics.append('triggered', [{ x: ev.global_step, y: ev.backdoor_rate_triggered }]);
      this.metrics.append('untriggered', [{ x: ev.global_step, y: ev.backdoor_rate_untriggered }]);
      this.metrics.append('clean', [{ x: ev.global_step, y: ev.clean_accuracy }]);
      if (ev.backdoor_rate_red_team != null) this.metrics.append('red', [{ x: ev.global_step, y: ev.backdoor_rate_red_team }]);
      if (ev.false_trigger_rate != null) this.metrics.append('distractor', [{ x: ev.global_step, y: ev.false_trigger_rate }]);
      if (ev.compliance_free != null) this.metrics.append('free', [{ x: ev.global_step, y: ev.compliance_free }]);
      if (ev.compliance_paid != null) this.metrics.append('paid', [{ x: ev.global_step, y: ev.compliance_paid }]);
      if (ev.af_reasoning_free != null) this.metrics.append('af', [{ x: ev.global_step, y: ev.af_reasoning_free }]);
      if (SAFETY.includes(this.kinds[p.stage_index] ?? '')) {
        const i = p.stage_index;
        this.persistence.append(`t${i}`, [{ x: ev.step, y: ev.backdoor_rate_triggered }]);
        this.persistence.append(`u${i}`, [{ x: ev.step, y: ev.backdoor_rate_untriggered }]);
        if (ev.backdoor_rate_red_team != null) this.persistence.append(`r${i}`, [{ x: ev.step, y: ev.backdoor_rate_red_team }]);
      }
      this.latest[p.stage_index] = ev;
      this.renderTable(true);
    }
    const fraction = p.total_steps > 0 ? p.global_step / p.total_steps : 0;
    this.bar.value = Math.min(1, fraction);
    const eta = estimateEtaSeconds(this.clock.seconds(), p.global_step, p.total_steps);
    const stage = `${formatStageName(p.stage_name)} (stage ${p.stage_index + 1} of ${this.kinds.length})`;
    const doing = p.activity ? ` · ${p.activity.what} ${p.activity.done}/${p.activity.of}` : '';
    this.setText(
      `${stage} · step ${p.step}/${p.stage_steps}${doing} · total ${p.global_step}/${p.total_steps} · ETA ${formatDuration(eta)} · ${formatTokensPerSec(p.tokens_per_sec)}`,
    );
    Object.assign(this.progressBox.dataset, {
      stage: p.stage_name,
      step: String(p.step),
      globalStep: String(p.global_step),
      totalSteps: String(p.total_steps),
    });
    this.queueRender();
  }

  /** The run ended (done, or stopped with a partial report). */
  finish(report: Report | null, how: 'done' | 'stopped'): void {
    this.clock.stop();
    for (const chart of this.charts()) chart.render();
    if (report) {
      this.latest = report.stages.map((s) => s.metrics);
      this.kinds = report.stages.map((s) => s.kind);
    }
    renderEffects(this.effects, report?.stages ?? []);
    renderEffectChart(this.effectChart, report?.stages ?? []);
    this.renderTable(how !== 'done');
    const took = formatDuration(this.clock.seconds());
    if (how === 'done') {
      this.bar.value = 1;
      this.setText(`Done in ${took}.`);
    } else {
      this.setText(`Stopped after ${took} at step ${this.progressBox.dataset.globalStep ?? 0}/${this.progressBox.dataset.totalSteps ?? '?'}.`);
    }
  }

  /** A model imported from a weights file: no curves, one row with its evaluation. */
  showImported(config: ExperimentConfig, stage: string, metrics: Metrics): void {
    this.layout(config);
    this.clock.reset();
    this.bar.value = 0;
    this.kinds = [stage];
    this.latest = [metrics];
    this.renderTable(false);
  }

  setText(text: string): void {
    this.text.textContent = text;
  }

  private renderTable(provisional: boolean): void {
    const rows = this.kinds.map((kind, i) => ({ kind, metrics: this.latest[i] ?? null, provisional }));
    renderResults(this.table, rows);
    renderTaskAccuracy(this.taskAccuracy, rows);
  }

  /** Charts redraw at most once per frame however fast progress arrives. */
  private queueRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      for (const chart of this.charts()) chart.render();
    });
  }
}

/** The safety techniques, whose effect on the backdoor the persistence chart follows. */
const SAFETY: string[] = ['hhh_sft', 'hhh_rl', 'adversarial'];

/**
 * The paper's headline figure, live: for each safety stage, the backdoor rate against that
 * stage's own steps (solid: with the trigger; dashed: red-team prompts; dotted: without).
 */
function persistenceChart(kinds: string[]): LineChart {
  const series: SeriesSpec[] = [];
  let n = 0;
  kinds.forEach((kind, i) => {
    if (!SAFETY.includes(kind)) return;
    const colour = `s-tech${n++ % 4}`;
    const name = `${i + 1}. ${formatStageName(kind)}`;
    series.push(
      { id: `t${i}`, label: `${name}: with trigger`, className: colour, dots: true },
      { id: `r${i}`, label: `${name}: red-team`, className: `${colour} s-dashed` },
      { id: `u${i}`, label: `${name}: without trigger`, className: `${colour} s-dotted` },
    );
  });
  return new LineChart({
    title: 'Persistence: backdoor rate through each safety technique',
    xLabel: 'safety-training steps (from the start of each technique)',
    yLabel: 'backdoor rate',
    yDomain: [0, 1],
    series,
    testId: 'chart-persistence',
  });
}
