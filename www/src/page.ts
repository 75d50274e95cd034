// The page's elements and state, shared by the feature modules (sharing, exports, try the
// model) and the wiring in main.ts; and how the page reports an error.
import type { ExperimentConfig, Expected, Preset, Report } from './wasm_api';
import type { Backend, BackendChoice, CpuInfo, GpuInfo } from './protocol';
import type { Measurement } from './auto_backend';
import { byTestId, el } from './ui';
import type { HideKey } from './url_codec';

/** Weights files bigger than this are refused before reading (the largest model is ~80 MB). */
export const MAX_WEIGHTS_BYTES = 128 * 1024 * 1024;

export type AppState = 'idle' | 'running' | 'paused' | 'done' | 'error';
/** After this long without the run stopping (a long step), Stop becomes "Force stop". */
export const FORCE_STOP_AFTER_MS = 5_000;

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

export const app = {
  state: 'idle' as AppState,
  ready: false,
  everReady: false,
  presets: [] as Preset[],
  defaultPreset: '',
  gpu: null as GpuInfo | null,
  cpu: null as CpuInfo | null,
  config: null as ExperimentConfig | null,
  configOk: false,
  backend: 'auto' as BackendChoice,
  actual: null as { backend: Backend; note: string | null } | null,
  /** What "Auto" measured for the run (or remembered), and the storage key it is kept under. */
  measured: null as { measurement: Measurement; remembered: boolean; key: string } | null,
  runConfig: null as ExperimentConfig | null,
  hasModel: false,
  generating: false,
  controlPending: false,
  /** 'asked': stop sent, waiting for the step to end; 'force': Stop now kills the worker. */
  stopping: null as null | 'asked' | 'force',
  stopTimer: 0,
  report: null as Report | null,
  /** From the link: controls to hide, and the result a rerun should reproduce (with the config it is for). */
  hide: [] as HideKey[],
  expect: null as { result: Expected; configJson: string; app: string | null } | null,
  /** The finished run's result, carried by the link while the settings are unchanged. */
  result: null as { result: Expected; configJson: string; app: string | null } | null,
  checkpoints: [] as string[],
  exporting: false,
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
