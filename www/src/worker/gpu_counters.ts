// Counts the WebGPU calls the wasm module makes, from the JavaScript side of the API: every call
// of wgpu (through web-sys) goes through these prototypes, so the counts are exact whatever burn
// and cubecl do inside. The benchmark's WebGPU profile (bench.html, `cargo xtask bench`) reads
// them around each phase: pipelines compiled, kernels dispatched, host–device sync points.
import type { GpuCounts } from '../shared/protocol';

const zero = (): GpuCounts => ({ pipelines: 0, compileMs: 0, shaderModules: 0, dispatches: 0, submits: 0, syncs: 0, syncWaitMs: 0, buffers: 0, writes: 0 });

/** Running totals since the worker started. */
const counts: GpuCounts = zero();
let installed = false;

type Method = (...args: unknown[]) => unknown;

/** Replaces `proto[name]` with a wrapper that hands the original, `this` and the arguments to `around`. */
function wrap(proto: Record<string, unknown> | undefined, name: string, around: (original: Method, self: unknown, args: unknown[]) => unknown): void {
  const original = proto?.[name];
  if (!proto || typeof original !== 'function') return;
  proto[name] = function (this: unknown, ...args: unknown[]) {
    return around(original as Method, this, args);
  };
}

function timed(key: 'compileMs', then: (r: unknown) => void = () => {}): (original: Method, self: unknown, args: unknown[]) => unknown {
  return (original, self, args) => {
    const start = performance.now();
    const result = original.apply(self, args);
    counts[key] += performance.now() - start;
    then(result);
    return result;
  };
}

function sync(original: Method, self: unknown, args: unknown[]): unknown {
  counts.syncs += 1;
  const start = performance.now();
  const result = original.apply(self, args) as Promise<unknown>;
  const settle = (): void => {
    counts.syncWaitMs += performance.now() - start;
  };
  result.then(settle, settle);
  return result;
}

function count(key: keyof GpuCounts): (original: Method, self: unknown, args: unknown[]) => unknown {
  return (original, self, args) => {
    counts[key] += 1;
    return original.apply(self, args);
  };
}

/** Installs the counters on this global's WebGPU classes (once; a no-op without WebGPU). */
export function installGpuCounters(scope: Record<string, unknown> = globalThis): void {
  if (installed) return;
  installed = true;
  const proto = (name: string): Record<string, unknown> | undefined => (scope[name] as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  wrap(
    proto('GPUDevice'),
    'createComputePipeline',
    timed('compileMs', () => (counts.pipelines += 1)),
  );
  wrap(proto('GPUDevice'), 'createComputePipelineAsync', count('pipelines'));
  wrap(
    proto('GPUDevice'),
    'createShaderModule',
    timed('compileMs', () => (counts.shaderModules += 1)),
  );
  wrap(proto('GPUDevice'), 'createBuffer', count('buffers'));
  wrap(proto('GPUComputePassEncoder'), 'dispatchWorkgroups', count('dispatches'));
  wrap(proto('GPUComputePassEncoder'), 'dispatchWorkgroupsIndirect', count('dispatches'));
  wrap(proto('GPUQueue'), 'submit', count('submits'));
  wrap(proto('GPUQueue'), 'writeBuffer', count('writes'));
  wrap(proto('GPUQueue'), 'onSubmittedWorkDone', sync);
  wrap(proto('GPUBuffer'), 'mapAsync', sync);
}

/** A copy of the totals so far. */
export function gpuCounts(): GpuCounts {
  return { ...counts };
}

/** `after - before`, divided by `per` (e.g. the number of steps the difference spans). */
export function countsBetween(before: GpuCounts, after: GpuCounts, per = 1): GpuCounts {
  const out = zero();
  for (const key of Object.keys(out) as (keyof GpuCounts)[]) out[key] = (after[key] - before[key]) / per;
  return out;
}
