import { describe, expect, it } from 'vitest';
import { countsBetween, gpuCounts, installGpuCounters } from './gpu_counters';

// Stand-ins for the WebGPU classes of a global scope: the counters wrap whatever prototypes the
// scope has, and must call through to the originals with their arguments and `this`.
class FakeDevice {
  created: unknown[] = [];
  createComputePipeline(desc: unknown) {
    this.created.push(desc);
    return { pipeline: desc };
  }
  createShaderModule(desc: unknown) {
    return { module: desc };
  }
  createBuffer() {
    return {};
  }
}
class FakePass {
  dispatched = 0;
  dispatchWorkgroups(x: number) {
    this.dispatched += x;
  }
}
class FakeQueue {
  submit() {}
  writeBuffer() {}
  onSubmittedWorkDone() {
    return Promise.resolve();
  }
}
class FakeBuffer {
  mapAsync() {
    return new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}

describe('GPU call counters', () => {
  installGpuCounters({ GPUDevice: FakeDevice, GPUComputePassEncoder: FakePass, GPUQueue: FakeQueue, GPUBuffer: FakeBuffer });

  it('count each call and still make it', async () => {
    const before = gpuCounts();
    const device = new FakeDevice();
    const pass = new FakePass();
    expect(device.createComputePipeline({ label: 'k' })).toEqual({ pipeline: { label: 'k' } });
    expect(device.created).toEqual([{ label: 'k' }]);
    device.createShaderModule({ code: '' });
    pass.dispatchWorkgroups(3);
    pass.dispatchWorkgroups(2);
    expect(pass.dispatched).toBe(5);
    new FakeQueue().submit();
    await new FakeQueue().onSubmittedWorkDone();
    await new FakeBuffer().mapAsync();
    const d = countsBetween(before, gpuCounts());
    expect(d).toMatchObject({ pipelines: 1, shaderModules: 1, dispatches: 2, submits: 1, syncs: 2, buffers: 0 });
    // The host waited on the 5 ms map (timers may fire a little early).
    expect(d.syncWaitMs).toBeGreaterThanOrEqual(3);
  });

  it('installs once, so calls are not counted twice', () => {
    installGpuCounters({ GPUComputePassEncoder: FakePass });
    const before = gpuCounts();
    new FakePass().dispatchWorkgroups(1);
    expect(countsBetween(before, gpuCounts()).dispatches).toBe(1);
  });

  it('divides a difference over steps', () => {
    const before = gpuCounts();
    const pass = new FakePass();
    for (let i = 0; i < 6; i++) pass.dispatchWorkgroups(1);
    expect(countsBetween(before, gpuCounts(), 3).dispatches).toBe(2);
  });
});
