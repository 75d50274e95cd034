// Where WebGPU's time goes (bench.html's profile): the GPU calls counted (gpu_counters.ts) around
// a cold first training step, a steady step, and an evaluation's generation.
import type { CallOf, GpuPhase, GpuProfile } from '../shared/protocol';
import { countsBetween, gpuCounts } from './gpu_counters';
import { engine } from './loader';

/**
 * A steady step is the difference of two warm runs of 1 and 1 + `steps` steps, so model set-up
 * and the final read cancel out.
 */
export async function gpuProfile(c: CallOf<'gpuProfile'>): Promise<GpuProfile> {
  const { gpu, wasm } = engine;
  if (!gpu.available) throw new Error(`No WebGPU here: ${gpu.reason}.`);
  const phase = async (run: () => Promise<unknown>): Promise<GpuPhase> => {
    const before = gpuCounts();
    const start = performance.now();
    await run();
    return { seconds: (performance.now() - start) / 1000, counts: countsBetween(before, gpuCounts()) };
  };
  const start = gpuCounts();
  const firstStep = await phase(() => wasm.bench_training(c.shape, 'webgpu', 0, 1));
  const one = await phase(() => wasm.bench_training(c.shape, 'webgpu', 0, 1));
  const many = await phase(() => wasm.bench_training(c.shape, 'webgpu', 0, 1 + c.steps));
  const steadyStep: GpuPhase = { seconds: (many.seconds - one.seconds) / c.steps, counts: countsBetween(one.counts, many.counts, c.steps) };
  const generate = () => wasm.bench_generation(c.shape, 'webgpu', c.prompts, c.newTokens);
  const evaluationCold = { ...(await phase(generate)), prompts: c.prompts, newTokens: c.newTokens };
  const evaluation = { ...(await phase(generate)), prompts: c.prompts, newTokens: c.newTokens };
  const adapter = [gpu.vendor, gpu.architecture, gpu.description].filter(Boolean).join(' ') || 'unknown adapter';
  return { shape: c.shape, adapter, firstStep, steadyStep, evaluationCold, evaluation, total: countsBetween(start, gpuCounts()) };
}
