// The page's elements that the feature modules share (index.html's data-testid hooks), and how
// the page reports an error or a status. The state they show is in state.ts.
import { byTestId, el } from '../views/dom';

export const ui = {
  backendLabel: byTestId('backend-label'),
  backendNote: byTestId('backend-note'),
  loading: byTestId('loading'),
  loadingBar: byTestId<HTMLProgressElement>('loading-bar'),
  loadingText: byTestId('loading-text'),
  autoNote: byTestId('auto-note'),
  autoText: byTestId('auto-text'),
  remeasure: byTestId<HTMLButtonElement>('remeasure-button'),
  banner: byTestId('error-banner'),
  bannerText: byTestId('error-text'),
  bannerDismiss: byTestId<HTMLButtonElement>('error-dismiss'),
  preset: byTestId<HTMLSelectElement>('preset-select'),
  presetDescription: byTestId('preset-description'),
  backend: byTestId<HTMLSelectElement>('backend-select'),
  configStatus: byTestId('config-status'),
  runControls: byTestId('run-controls'),
  runEstimate: byTestId('run-estimate'),
  gpuLost: byTestId('gpu-lost'),
  gpuLostText: byTestId('gpu-lost-text'),
  continueOnCpu: byTestId<HTMLButtonElement>('continue-on-cpu'),
  startFromImported: byTestId<HTMLInputElement>('start-from-imported'),
  savedRunsStatus: byTestId('saved-runs-status'),
  savedRunsList: byTestId('saved-runs-list'),
  clearSaved: byTestId<HTMLButtonElement>('clear-saved-button'),
  run: byTestId<HTMLButtonElement>('run-button'),
  pause: byTestId<HTMLButtonElement>('pause-button'),
  resume: byTestId<HTMLButtonElement>('resume-button'),
  stop: byTestId<HTMLButtonElement>('stop-button'),
  copyLink: byTestId<HTMLButtonElement>('copy-link-button'),
  copyEmbed: byTestId<HTMLButtonElement>('copy-embed-button'),
  settings: byTestId<HTMLDetailsElement>('settings'),
  download: byTestId<HTMLButtonElement>('download-report-button'),
  downloadCsv: byTestId<HTMLButtonElement>('download-csv-button'),
  checkpoint: byTestId<HTMLSelectElement>('checkpoint-select'),
  downloadWeights: byTestId<HTMLButtonElement>('download-weights-button'),
  importWeights: byTestId<HTMLInputElement>('import-weights-input'),
  exportStatus: byTestId('export-status'),
  fingerprint: byTestId('fingerprint'),
  verdict: byTestId('verdict'),
  probeForm: byTestId<HTMLFormElement>('probe-form'),
  prompt: byTestId<HTMLInputElement>('prompt-input'),
  temperature: byTestId<HTMLInputElement>('temperature-input'),
  seed: byTestId<HTMLInputElement>('seed-input'),
  addTrigger: byTestId<HTMLButtonElement>('add-trigger-button'),
  generate: byTestId<HTMLButtonElement>('generate-button'),
  generateHint: byTestId('generate-hint'),
  generateOutput: byTestId('generate-output'),
};

/** Ends a message from elsewhere (wasm, codec) with a full stop, so sentences can follow it. */
export function sentence(message: string): string {
  const trimmed = message.trim();
  return /[.!?…]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

export function showError(message: string): void {
  ui.bannerText.append(el('p', {}, [message]));
  ui.banner.hidden = false;
}
export function clearErrors(): void {
  ui.bannerText.replaceChildren();
  ui.banner.hidden = true;
}

export function setStatus(message: string, isError: boolean): void {
  ui.configStatus.textContent = message;
  ui.configStatus.classList.toggle('error', isError);
}

/** An async event handler whose failure is shown in the error banner rather than lost. */
export function handled<E>(handler: (ev: E) => Promise<void>): (ev: E) => void {
  return (ev) => {
    handler(ev).catch((e: unknown) => {
      showError(`Something went wrong: ${sentence(e instanceof Error ? e.message : String(e))}`);
    });
  };
}
