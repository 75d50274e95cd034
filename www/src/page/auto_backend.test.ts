import { describe, expect, it } from 'vitest';
import { describeMeasurement, forget, measurementKey, recall, remember, type KeyValueStore } from './auto_backend';
import { choose, estimatedSeconds, runSteps, type Measurement } from '../shared/measurement';
import type { Calibration, ExperimentConfig } from '../shared/wasm_api';

const speed = (first: number, perStep: number): Calibration => ({
  first_step_seconds: first,
  seconds_per_step: perStep,
  steps_per_sec: 1 / perStep,
  steps: 2,
  stage: 'backdoor_insertion',
});

/** The parts of a config the key and the step count read. */
function config(d_model: number, batch: number, steps: number[]): ExperimentConfig {
  return {
    model: { d_model, n_layers: 2, n_heads: 2, d_mlp: 4 * d_model, max_seq_len: 128 },
    stages: steps.map((s, i) => ({ kind: i === 0 ? 'backdoor_insertion' : 'hhh_sft', steps: s, batch_size: batch, lr: 1e-3, warmup_steps: 0, eval_every: 10 })),
  } as unknown as ExperimentConfig;
}
const gpu = {
  available: true,
  vendor: 'google',
  architecture: 'swiftshader',
  description: '',
  reason: '',
  maxBufferSize: null,
  maxStorageBufferBindingSize: null,
};
const cpu = { threads: 2, reason: '' };

class MapStore implements KeyValueStore {
  readonly map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

describe('Auto by measurement', () => {
  it('compares the whole run: the first step (kernels compiled) plus the rest', () => {
    expect(estimatedSeconds(speed(10, 1), 11)).toBe(20);
    // WebGPU steps twice as fast but its first step costs 30 s: worth it only for a long run.
    const cpuSpeed = speed(1, 1);
    const gpuSpeed = speed(30, 0.5);
    expect(choose(cpuSpeed, gpuSpeed, 20)).toBe('cpu');
    expect(choose(cpuSpeed, gpuSpeed, 200)).toBe('webgpu');
    expect(choose(cpuSpeed, { error: 'device lost' }, 200)).toBe('cpu');
  });

  it('keys a measurement by shape, batch, adapter and threads, not by the rest of the settings', () => {
    const a = measurementKey(config(64, 32, [100]), gpu, cpu);
    expect(measurementKey(config(64, 32, [5, 5]), gpu, cpu)).toBe(a);
    expect(measurementKey(config(128, 32, [100]), gpu, cpu)).not.toBe(a);
    expect(measurementKey(config(64, 8, [100]), gpu, cpu)).not.toBe(a);
    expect(measurementKey(config(64, 32, [100]), { ...gpu, description: 'other' }, cpu)).not.toBe(a);
    expect(measurementKey(config(64, 32, [100]), gpu, { threads: 1, reason: 'x' })).not.toBe(a);
    expect(runSteps(config(64, 32, [5, 7]))).toBe(12);
  });

  it('remembers, recalls and forgets; a corrupt entry or a blocked storage means measuring again', () => {
    const store = new MapStore();
    const m: Measurement = { cpu: speed(1, 0.9), webgpu: speed(17, 13), runSteps: 100, choice: 'cpu', at: '2026-11-30T12:00:00Z' };
    remember(store, 'k', m);
    expect(recall(store, 'k')).toEqual(m);
    forget(store, 'k');
    expect(recall(store, 'k')).toBeNull();
    store.setItem('k', '{not json');
    expect(recall(store, 'k')).toBeNull();
    store.setItem('k', JSON.stringify({ ...m, cpu: { ...m.cpu, seconds_per_step: -1 } }));
    expect(recall(store, 'k')).toBeNull();
    const blocked: KeyValueStore = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
      removeItem: () => {
        throw new Error('SecurityError');
      },
    };
    expect(() => {
      remember(blocked, 'k', m);
    }).not.toThrow();
    expect(recall(blocked, 'k')).toBeNull();
    expect(recall(null, 'k')).toBeNull();
  });

  it('says what it measured and what it chose', () => {
    const m: Measurement = { cpu: speed(1, 1 / 0.91), webgpu: speed(17, 13), runSteps: 100, choice: 'cpu', at: '2026-11-30T12:00:00Z' };
    expect(describeMeasurement(m, false)).toBe('Auto measured this config: WebGPU 0.077 steps/s, CPU 0.91 steps/s → CPU.');
    expect(describeMeasurement({ ...m, webgpu: { error: 'no adapter' } }, true)).toBe(
      'Auto measured this config: WebGPU failed (no adapter), CPU 0.91 steps/s → CPU (measured 2026-11-30 for this model size; remembered).',
    );
  });
});
