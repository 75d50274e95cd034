// Making and dropping the Lab (the wasm object that holds a model and its run): on the chosen
// backend with a fallback to the CPU, from the helpful base its config names.
import type { PageBackend, BackendChoice } from '../shared/protocol';
import { errorMessage } from '../shared/protocol';
import type { ExperimentConfig, Lab } from '../shared/wasm_api';
import { engine, moduleFor } from './loader';
import { state } from './state';

/** A wasm panic (RuntimeError: unreachable) may leave the instance unusable. */
export function isFatal(e: unknown): boolean {
  return e instanceof WebAssembly.RuntimeError || /panicked|unreachable/i.test(errorMessage(e));
}

export function dropLab(): void {
  try {
    state.lab?.free();
  } catch {
    // A broken instance cannot be freed; forget it.
  }
  state.lab = null;
}

/** Makes a Lab on the chosen backend; when WebGPU fails to start, falls back to the CPU and says so. */
export async function onBackend(choice: BackendChoice, make: (backend: PageBackend) => Promise<Lab>): Promise<{ lab: Lab; note: string | null }> {
  const wanted: PageBackend = choice === 'cpu' ? 'cpu' : choice === 'webgpu' || engine.gpu.available ? 'webgpu' : 'cpu';
  if (wanted === 'webgpu') {
    try {
      return { lab: await make('webgpu'), note: null };
    } catch (e) {
      if (isFatal(e) || !/WebGPU/.test(errorMessage(e))) throw e;
      return { lab: await make('cpu'), note: `WebGPU failed (${errorMessage(e)}); running on the CPU instead.` };
    }
  }
  return { lab: await make('cpu'), note: null };
}

/** The helpful base a config starts from (`config.base`), fetched from the site; none for a run from scratch. */
async function baseBytes(config: ExperimentConfig): Promise<Uint8Array | undefined> {
  if (!config.base) return undefined;
  const name = config.base.name;
  let response: Response;
  try {
    // Vite turns this pattern into the list of files in www/bases (hashed, precached like the rest).
    response = await fetch(new URL(`../../bases/${name}.safetensors`, import.meta.url));
  } catch (e) {
    throw new Error(`The helpful base "${name}" could not be loaded (${errorMessage(e)}). Check the connection and try again, or run from scratch.`);
  }
  if (!response.ok) throw new Error(`The helpful base "${name}" could not be loaded (HTTP ${response.status}).`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function createLab(config: ExperimentConfig, choice: BackendChoice): Promise<{ lab: Lab; note: string | null }> {
  const base = await baseBytes(config);
  return onBackend(choice, (backend) => moduleFor(backend).Lab.create(config, backend, base, adapterOf(backend)));
}

/** A run of `config` whose first stage starts from an imported weights file's model. */
export async function createFromWeights(
  config: ExperimentConfig,
  choice: BackendChoice,
  from: { bytes: Uint8Array; name: string },
): Promise<{ lab: Lab; note: string | null }> {
  return onBackend(choice, (backend) => moduleFor(backend).Lab.create_from_weights(config, backend, from.bytes, from.name, adapterOf(backend)));
}

/** The device a run uses and the browser, for its report's provenance. */
function adapterOf(backend: PageBackend): string {
  const { gpu, cpu } = engine;
  const device =
    backend === 'webgpu'
      ? `WebGPU: ${[gpu.vendor, gpu.architecture, gpu.description].filter((s) => s).join(' ') || 'an adapter without a name'}`
      : `CPU (wasm, ${cpu.threads} thread${cpu.threads === 1 ? '' : 's'})`;
  return `${device}; ${navigator.userAgent}`;
}

export async function fingerprintOf(l: Lab): Promise<string | null> {
  try {
    return await l.fingerprint();
  } catch {
    return null;
  }
}

export function backendOf(l: Lab): PageBackend {
  return l.backend() === 'webgpu' ? 'webgpu' : 'cpu';
}
