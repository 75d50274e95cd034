// The page's state, in three parts, each read anywhere through a read-only view and changed
// only by the functions of this module (so every change has a name, and a search finds it):
//
//   settings  what the share link describes: the config, the backend asked for, the controls it
//             hides, the result it expects or carries. Serialisable; sharing.ts writes the address
//             bar from it and reads a link into it.
//   run       what a run passes through: its state machine, where it runs, the report and the
//             stage checkpoints so far, Auto's measurement, the busy flags of the controls.
//   engine    what the worker said when it became ready: presets, the GPU and the CPU.
import type { Measurement } from '../shared/measurement';
import type { Admitted, PageBackend, BackendChoice, CpuInfo, GpuInfo } from '../shared/protocol';
import type { ExperimentConfig, Expected, Preset, Report } from '../shared/wasm_api';
import type { HideKey } from '../shared/page_options';

/** A result and the config it is for: a link carries a result only with the settings that made it. */
export interface PinnedResult {
  result: Expected;
  configJson: string;
  /** The build that made it, as its report's provenance names it. */
  app: string | null;
}

interface Settings {
  config: ExperimentConfig | null;
  /** False while the form holds an edit that does not validate (Run is then disabled). */
  configOk: boolean;
  backend: BackendChoice;
  hide: HideKey[];
  /** The result the opened link expects a rerun to reproduce. */
  expect: PinnedResult | null;
  /** The finished run's result, carried by the link while the settings are unchanged. */
  result: PinnedResult | null;
  /** What a run of the config would cost where it would run, and whether it may start there;
   * null until the worker has answered for these settings. */
  admitted: Admitted | null;
}

export type RunPhase = 'idle' | 'running' | 'paused' | 'done' | 'error';

interface Run {
  phase: RunPhase;
  /** The config of the model there is (the run's, or an imported file's). */
  config: ExperimentConfig | null;
  actual: { backend: PageBackend; note: string | null } | null;
  /** What "Auto" measured for the run (or remembered), and the storage key it is kept under. */
  measured: { measurement: Measurement; remembered: boolean; key: string } | null;
  hasModel: boolean;
  report: Report | null;
  /** One name per finished stage whose weights the worker holds. */
  checkpoints: string[];
  /** Pause or resume sent, not yet answered. */
  controlPending: boolean;
  /** 'asked': stop sent, waiting for the step to end; 'force': Stop now kills the worker. */
  stopping: null | 'asked' | 'force';
  generating: boolean;
  exporting: boolean;
  /** The name of the last imported weights file, which a run may start from. */
  importedFile: string | null;
}

interface Engine {
  /** The worker is loaded and answers (false again while a restarted one loads). */
  ready: boolean;
  everReady: boolean;
  presets: Preset[];
  defaultPreset: string;
  gpu: GpuInfo | null;
  cpu: CpuInfo | null;
}

const settingsState: Settings = { config: null, configOk: false, backend: 'auto', hide: [], expect: null, result: null, admitted: null };
const runState: Run = {
  phase: 'idle',
  config: null,
  actual: null,
  measured: null,
  hasModel: false,
  report: null,
  checkpoints: [],
  controlPending: false,
  stopping: null,
  generating: false,
  exporting: false,
  importedFile: null,
};
const engineState: Engine = { ready: false, everReady: false, presets: [], defaultPreset: '', gpu: null, cpu: null };

export const settings: Readonly<Settings> = settingsState;
export const run: Readonly<Run> = runState;
export const engine: Readonly<Engine> = engineState;

// ---- settings ---------------------------------------------------------------------------------

export function useConfig(config: ExperimentConfig): void {
  settingsState.config = config;
  settingsState.configOk = true;
  settingsState.admitted = null;
}
export function admitted(a: Admitted | null): void {
  settingsState.admitted = a;
}
/** Whether the current settings may run: known, and within some backend's budget. */
export function admissible(): boolean {
  return (settingsState.admitted?.backends.length ?? 0) > 0;
}
export function rejectEdit(): void {
  settingsState.configOk = false;
}
export function chooseBackend(backend: BackendChoice): void {
  settingsState.backend = backend;
  settingsState.admitted = null;
}
export function hideControls(keys: HideKey[]): void {
  settingsState.hide = keys;
}
export function expectResult(expect: PinnedResult | null): void {
  settingsState.expect = expect;
}
export function carryResult(result: PinnedResult | null): void {
  settingsState.result = result;
}

/** The result the link should carry now: the run's or the link's, only for the settings that made it. */
export function pinnedResult(): PinnedResult | null {
  const json = JSON.stringify(settingsState.config);
  const { result, expect } = settingsState;
  return result?.configJson === json ? result : expect?.configJson === json ? expect : null;
}

// ---- the run ----------------------------------------------------------------------------------

export function isBusy(): boolean {
  return runState.phase === 'running' || runState.phase === 'paused';
}

export function enterPhase(phase: RunPhase): void {
  runState.phase = phase;
  runState.controlPending = false;
}

/** A new run of `config` begins: nothing of the last run is kept. */
export function runStarting(config: ExperimentConfig): void {
  Object.assign(runState, { config, actual: null, hasModel: false, report: null, checkpoints: [] });
}
export function runsOn(actual: Run['actual']): void {
  runState.actual = actual;
}
export function measuredAs(measured: Run['measured']): void {
  runState.measured = measured;
}
export function controlSent(): void {
  runState.controlPending = true;
}
export function stopping(how: Run['stopping']): void {
  runState.stopping = how;
}
export function modelAvailable(has: boolean): void {
  runState.hasModel = has;
}
/** The run ended (done or stopped) with this report and these stage checkpoints. */
export function runEnded(report: Report | null, checkpoints: string[] | null): void {
  runState.report = report;
  runState.hasModel = report !== null;
  if (checkpoints) runState.checkpoints = checkpoints;
}
/** A weights file replaced the model: one checkpoint, no report. */
export function imported(config: ExperimentConfig, actual: NonNullable<Run['actual']>, stage: string, file: string): void {
  Object.assign(runState, { config, actual, hasModel: true, report: null, checkpoints: [stage], importedFile: file });
}
/** A saved run was opened as the model: its finished stages and its report so far. */
export function openedSaved(config: ExperimentConfig, actual: NonNullable<Run['actual']>, report: Report, checkpoints: string[]): void {
  Object.assign(runState, { config, actual, hasModel: true, report, checkpoints });
}
export function generating(busy: boolean): void {
  runState.generating = busy;
}
export function exporting(busy: boolean): void {
  runState.exporting = busy;
}

// ---- the engine -------------------------------------------------------------------------------

export function engineReady(presets: Preset[], defaultPreset: string, gpu: GpuInfo, cpu: CpuInfo): void {
  Object.assign(engineState, { presets, defaultPreset, gpu, cpu, ready: true });
}
/** Whether this is the first time the engine became ready (the link is read then, once). */
export function firstReady(): boolean {
  const first = !engineState.everReady;
  engineState.everReady = true;
  return first;
}
/** The worker died or was restarted: nothing works until it says it is ready again. */
export function engineLost(): void {
  engineState.ready = false;
}
