// "Saved in this browser": the runs the worker keeps in IndexedDB (worker/store.ts), each
// finished stage written as it finishes. Lists them (newest first, with what they take of the
// budget), opens one as the current model (its stages to download, try and probe), continues
// an unfinished one from its last finished stage, deletes one or all.
import type { SavedRun } from '../shared/protocol';
import type { WorkerClient } from '../shared/worker_client';
import { el } from '../views/dom';
import { formatBytes, formatStageName } from '../views/format';
import { handled, sentence, ui } from './elements';
import { isBusy } from './state';

export interface SavedRunsDeps {
  client: WorkerClient;
  /** Continues a saved run (a run starts: the run controls take it from there). */
  continueRun(run: SavedRun): void;
  /** Shows a saved run's finished stages as the current model. */
  open(run: SavedRun): Promise<void>;
}

export class SavedRuns {
  private runs: SavedRun[] = [];
  private budget = 0;

  constructor(private readonly d: SavedRunsDeps) {
    ui.clearSaved.addEventListener(
      'click',
      handled(async () => {
        const cleared = await d.client.call({ fn: 'clearSaved' });
        if (!cleared.ok) this.status(`The saved runs could not be cleared: ${sentence(cleared.error)}`, true);
        await this.refresh();
      }),
    );
  }

  /** Reads the list from the worker again. */
  async refresh(): Promise<void> {
    const answer = await this.d.client.call({ fn: 'savedRuns' });
    if (!answer.ok) {
      this.status(`Runs cannot be kept in this browser: ${sentence(answer.error)}`, true);
      return;
    }
    this.runs = answer.value.runs;
    this.budget = answer.value.budgetBytes;
    this.render();
  }

  /** A stage was saved (or failed to be): the list and the line above it say so. */
  saved(run: SavedRun): void {
    this.runs = [run, ...this.runs.filter((r) => r.id !== run.id)];
    this.render();
  }

  saveFailed(message: string): void {
    this.status(`This run's last stage could not be kept in the browser (${sentence(message)}); the run goes on, download what you need.`, true);
  }

  /** Enables the buttons for the page's state (nothing but Delete of another run while a run goes). */
  update(): void {
    const busy = isBusy();
    ui.clearSaved.disabled = busy || this.runs.length === 0;
    for (const button of ui.savedRunsList.querySelectorAll<HTMLButtonElement>('button')) button.disabled = busy;
  }

  private status(message: string, isError: boolean): void {
    ui.savedRunsStatus.textContent = message;
    ui.savedRunsStatus.classList.toggle('error', isError);
  }

  private render(): void {
    const total = this.runs.reduce((n, r) => n + r.bytes, 0);
    this.status(
      this.runs.length
        ? `${String(this.runs.length)} run${this.runs.length === 1 ? '' : 's'} kept, ${formatBytes(total)} of the ${formatBytes(this.budget)} this page keeps (the oldest go first).`
        : 'Each finished stage of a run is kept here as it finishes, so a Stop, a crash or a reload loses nothing.',
      false,
    );
    ui.savedRunsList.replaceChildren(...this.runs.map((r) => this.item(r)));
    this.update();
  }

  private item(run: SavedRun): HTMLElement {
    const when = new Date(run.updated).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    const last = run.config.stages[run.stagesDone - 1];
    const progress = run.finished
      ? `all ${String(run.stages)} stages`
      : `${String(run.stagesDone)} of ${String(run.stages)} stages (last: ${last ? formatStageName(last.kind) : '—'})`;
    const button = (label: string, testid: string, action: () => Promise<void>) => {
      const b = el('button', { type: 'button', 'data-testid': testid }, [label]);
      b.addEventListener('click', handled(action));
      return b;
    };
    const buttons = [
      button('Open', 'saved-open', () => this.d.open(run)),
      ...(run.finished
        ? []
        : [
            button('Continue', 'saved-continue', () => {
              this.d.continueRun(run);
              return Promise.resolve();
            }),
          ]),
      button('Delete', 'saved-delete', async () => {
        const deleted = await this.d.client.call({ fn: 'deleteSaved', id: run.id });
        if (!deleted.ok) this.status(`It could not be deleted: ${sentence(deleted.error)}`, true);
        await this.refresh();
      }),
    ];
    const from = run.weightsFrom ? `, from ${run.weightsFrom}` : '';
    const label = `${run.name}: ${progress}, ${formatBytes(run.bytes)}, ${run.backend === 'webgpu' ? 'WebGPU' : 'CPU'}${from} · ${when}`;
    return el('li', { 'data-testid': 'saved-run', 'data-stages-done': String(run.stagesDone), 'data-finished': String(run.finished) }, [
      el('span', {}, [label]),
      ...buttons,
    ]);
  }
}
