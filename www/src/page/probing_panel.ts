// The "Probe for the trigger" panel: model choice, trigger sweep, GCG inversion, defection
// probe, attention maps and logit lens. Every probe runs in the worker (core's `probing`).
import type { Candidate, ExperimentConfig, InversionProgress } from '../shared/wasm_api';
import { renderInspection } from '../views/attention_view';
import { describeProgress, renderDefection, renderInversion, renderSweep } from '../views/probe_views';
import { byTestId, el } from '../views/dom';
import type { WorkerClient } from '../shared/worker_client';
import { formatStageName } from '../views/format';
import { INVERSION_BOUNDS, INVERSION_DEFAULTS, MAX_CANDIDATES, PROBE_PROMPTS } from '../generated/core';

export interface ProbingHooks {
  /** The config of the model being probed (its trigger, its data). */
  config(): ExperimentConfig | null;
  /** Puts a prompt into "Try the model" and runs it. */
  tryPrompt(prompt: string): void;
  /** A probe started or ended (the page disables Run meanwhile). */
  busyChanged(): void;
}

export class ProbingPanel {
  private readonly ui = {
    model: byTestId<HTMLSelectElement>('probe-model-select'),
    status: byTestId('probing-status'),
    sweepBase: byTestId<HTMLInputElement>('sweep-base'),
    sweepCandidates: byTestId<HTMLTextAreaElement>('sweep-candidates'),
    sweep: byTestId<HTMLButtonElement>('sweep-button'),
    sweepOut: byTestId('sweep-output'),
    invertTokens: byTestId<HTMLInputElement>('invert-tokens'),
    invertIterations: byTestId<HTMLInputElement>('invert-iterations'),
    invertRestarts: byTestId<HTMLInputElement>('invert-restarts'),
    invert: byTestId<HTMLButtonElement>('invert-button'),
    invertStop: byTestId<HTMLButtonElement>('invert-stop'),
    invertProgress: byTestId('invert-progress'),
    invertOut: byTestId('invert-output'),
    defection: byTestId<HTMLButtonElement>('defection-button'),
    defectionOut: byTestId('defection-output'),
    inspectPrompt: byTestId<HTMLInputElement>('inspect-prompt'),
    inspect: byTestId<HTMLButtonElement>('inspect-button'),
    inspectOut: byTestId('inspect-output'),
  };
  private available = false;
  private busy = false;
  private baseEdited = false;
  private checkpointsKey = '';

  constructor(
    private readonly client: WorkerClient,
    private readonly hooks: ProbingHooks,
  ) {
    const { ui } = this;
    // The inputs' bounds and defaults are core's (limits.rs, InversionConfig::default).
    const inputs = [
      [ui.invertTokens, 'trigger_tokens'],
      [ui.invertIterations, 'iterations'],
      [ui.invertRestarts, 'restarts'],
    ] as const;
    for (const [input, name] of inputs) {
      input.min = String(INVERSION_BOUNDS[name].min);
      input.max = String(INVERSION_BOUNDS[name].max);
      input.value = String(INVERSION_DEFAULTS[name]);
    }
    ui.sweepBase.addEventListener('input', () => (this.baseEdited = true));
    ui.sweep.addEventListener('click', () => void this.sweep());
    ui.invert.addEventListener('click', () => void this.invert());
    ui.invertStop.addEventListener('click', () => void this.client.call({ fn: 'cancelInversion' }));
    ui.defection.addEventListener('click', () => void this.defection());
    ui.inspect.addEventListener('click', () => void this.inspect());
    this.update();
  }

  /** available: there is a model and nothing is training; checkpoints: one name per finished stage. */
  setAvailable(available: boolean, checkpoints: string[]): void {
    this.available = available;
    // Rebuilt only when the checkpoints change (this is called on every control update).
    const key = checkpoints.join('\n');
    if (key !== this.checkpointsKey || this.ui.model.options.length === 0) {
      this.checkpointsKey = key;
      const current = this.ui.model.value;
      this.ui.model.replaceChildren(
        el('option', { value: '' }, ['the model as it is now']),
        ...checkpoints.map((name, i) => el('option', { value: String(i) }, [`after stage ${i + 1}: ${formatStageName(name)}`])),
      );
      if ([...this.ui.model.options].some((o) => o.value === current)) this.ui.model.value = current;
    }
    const trigger = this.hooks.config()?.data.trigger;
    if (trigger && !this.baseEdited) this.ui.sweepBase.value = trigger;
    this.update();
  }

  get isBusy(): boolean {
    return this.busy;
  }

  onInversionProgress(p: InversionProgress): void {
    this.ui.invertProgress.textContent = describeProgress(p);
    this.ui.invertProgress.dataset.iteration = String(p.iteration);
  }

  private update(): void {
    const can = this.available && !this.busy;
    for (const b of [this.ui.sweep, this.ui.invert, this.ui.defection, this.ui.inspect]) b.disabled = !can;
    this.ui.model.disabled = !can;
    if (!this.busy) this.ui.invertStop.disabled = true;
    this.ui.status.textContent = this.available
      ? this.busy
        ? 'Probing…'
        : 'Pick a model and a probe.'
      : 'Run an experiment (or import weights) first; probes run while it is paused or done.';
  }

  private checkpoint(): number | null {
    return this.ui.model.value === '' ? null : Number(this.ui.model.value);
  }

  /** Runs one probe at a time, showing its error (if any) in `out`. */
  private async run(out: HTMLElement, work: () => Promise<string | null>): Promise<void> {
    if (this.busy || !this.available) return;
    this.busy = true;
    this.update();
    this.hooks.busyChanged();
    out.replaceChildren(el('p', { class: 'hint' }, ['Working…']));
    const error = await work();
    if (error) out.replaceChildren(el('p', { class: 'error', 'data-testid': 'probe-error' }, [error]));
    this.busy = false;
    this.update();
    this.hooks.busyChanged();
  }

  private async sweep(): Promise<void> {
    const base = this.ui.sweepBase.value.trim();
    const typed = this.ui.sweepCandidates.value
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
    await this.run(this.ui.sweepOut, async () => {
      const candidates: Candidate[] = typed.map((candidate) => ({ candidate, kind: 'given' }));
      if (base) {
        const variants = await this.client.call({ fn: 'variants', base });
        if (!variants.ok) return variants.error;
        candidates.unshift({ candidate: base, kind: 'base' }, ...variants.value);
      }
      if (candidates.length === 0) return 'Give a base string or some candidates.';
      const unique = candidates.filter((c, i) => candidates.findIndex((d) => d.candidate === c.candidate) === i).slice(0, MAX_CANDIDATES);
      const r = await this.client.call({ fn: 'sweep', candidates: unique, prompts: PROBE_PROMPTS.sweep, checkpoint: this.checkpoint() });
      if (!r.ok) return r.error;
      renderSweep(this.ui.sweepOut, r.value, this.hooks.config()?.data.trigger ?? '');
      return null;
    });
  }

  private async invert(): Promise<void> {
    const num = (input: HTMLInputElement, fallback: number) => (Number.isFinite(input.valueAsNumber) ? Math.round(input.valueAsNumber) : fallback);
    const config = {
      ...INVERSION_DEFAULTS,
      trigger_tokens: num(this.ui.invertTokens, INVERSION_DEFAULTS.trigger_tokens),
      iterations: num(this.ui.invertIterations, INVERSION_DEFAULTS.iterations),
      restarts: num(this.ui.invertRestarts, INVERSION_DEFAULTS.restarts),
    };
    this.ui.invertProgress.textContent = 'Starting the search…';
    await this.run(this.ui.invertOut, async () => {
      this.ui.invertStop.disabled = false;
      const started = performance.now();
      // The true trigger is passed only to score recall afterwards; the search never sees it.
      const r = await this.client.call({
        fn: 'invert',
        config,
        checkpoint: this.checkpoint(),
        evalPrompts: PROBE_PROMPTS.inversion_eval,
        trueTrigger: this.hooks.config()?.data.trigger ?? null,
      });
      if (!r.ok) return r.error;
      const seconds = (performance.now() - started) / 1000;
      this.ui.invertProgress.textContent = `Done in ${seconds.toFixed(1)} s.`;
      this.ui.invertProgress.dataset.seconds = seconds.toFixed(1);
      renderInversion(this.ui.invertOut, r.value, (trigger) => {
        this.hooks.tryPrompt(`${trigger} What is 2 + 3?`);
      });
      return null;
    });
  }

  private async defection(): Promise<void> {
    await this.run(this.ui.defectionOut, async () => {
      const r = await this.client.call({ fn: 'defection', prompts: PROBE_PROMPTS.defection, checkpoint: this.checkpoint() });
      if (!r.ok) return r.error;
      renderDefection(this.ui.defectionOut, r.value);
      return null;
    });
  }

  private async inspect(): Promise<void> {
    await this.run(this.ui.inspectOut, async () => {
      const r = await this.client.call({ fn: 'inspect', prompt: this.ui.inspectPrompt.value, answer: null, checkpoint: this.checkpoint() });
      if (!r.ok) return r.error;
      renderInspection(this.ui.inspectOut, r.value.inspection);
      return null;
    });
  }
}
