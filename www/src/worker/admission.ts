// Admission control: before a run starts (and whenever the page asks, to show the estimate next
// to Run), core's `cost::admit` holds the config to the budget of the backend it would run on:
// wasm32's memory for the CPU, the adapter's buffer limits for WebGPU, a page run's length.
import type { Admitted, BackendChoice } from '../shared/protocol';
import type { Admission, DeviceLimits, ExperimentConfig, PageBackend } from '../shared/wasm_api';
import { engine } from './loader';

/** What a backend offers a run, as core's `DeviceLimits`. */
function limitsOf(backend: PageBackend): DeviceLimits {
  const { gpu, cpu } = engine;
  if (backend === 'cpu') return { backend, threads: cpu.threads };
  return {
    backend,
    threads: 1,
    ...(gpu.maxBufferSize !== null && { max_buffer_size: gpu.maxBufferSize }),
    ...(gpu.maxStorageBufferBindingSize !== null && { max_storage_buffer_binding_size: gpu.maxStorageBufferBindingSize }),
  };
}

/** The backends a choice may run on: "auto" either, when there is an adapter. */
function candidates(choice: BackendChoice): PageBackend[] {
  if (choice === 'cpu' || !engine.gpu.available) return ['cpu'];
  return choice === 'webgpu' ? ['webgpu'] : ['cpu', 'webgpu'];
}

/**
 * `config` on the backends `choice` may run on: the estimate shown is the first admitting
 * backend's (the CPU's under "auto"), or the first refusal when none admits it.
 */
export function admit(config: ExperimentConfig, choice: BackendChoice): Admitted {
  const all: [PageBackend, Admission][] = candidates(choice).map((b) => [b, engine.wasm.admit(config, limitsOf(b))]);
  const admitted = all.filter(([, a]) => a.refusal === undefined);
  const shown = admitted[0] ?? all[0];
  if (!shown) throw new Error('no backend to run on');
  return { admission: shown[1], backends: admitted.map(([b]) => b) };
}
