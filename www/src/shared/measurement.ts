// "Auto" by measurement, the part both sides share: what the worker measured (a few timed
// training steps of the config on each backend) and the choice made from it. The page
// remembers measurements (page/auto_backend.ts); the worker takes them (worker/run.ts).
import type { PageBackend, Calibration, ExperimentConfig } from './wasm_api';

/** Both backends measured on one config, and the choice made from them. */
export interface Measurement {
  /** What the calibration of each backend gave; for WebGPU, the error when it failed. */
  cpu: Calibration;
  webgpu: Calibration | { error: string };
  /** The config's training steps, over which the two were compared. */
  runSteps: number;
  choice: PageBackend;
  /** When it was measured (ISO 8601), for "measured on …". */
  at: string;
}

/** The config's training steps over all its stages. */
export function runSteps(config: ExperimentConfig): number {
  return config.stages.reduce((n, s) => n + s.steps, 0);
}

/** Seconds the training steps of a run take on a backend: the first step (kernels compiled) and the rest. */
export function estimatedSeconds(c: Calibration, steps: number): number {
  return c.first_step_seconds + Math.max(0, steps - 1) * c.seconds_per_step;
}

/** The faster backend for a run of `steps` steps; the CPU when WebGPU failed. */
export function choose(cpu: Calibration, webgpu: Calibration | { error: string }, steps: number): PageBackend {
  if ('error' in webgpu) return 'cpu';
  return estimatedSeconds(webgpu, steps) < estimatedSeconds(cpu, steps) ? 'webgpu' : 'cpu';
}
