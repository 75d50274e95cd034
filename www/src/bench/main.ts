// bench.html: runs the throughput benchmark (crates/core/src/bench.rs) in the page's worker and
// shows one row per shape and backend. Query parameters fill the form; `run=1` starts at once
// (how `cargo xtask bench` drives it), and the results land as JSON in [data-testid=bench-json].
import type { BenchResult, BenchShape } from '../shared/wasm_api';
import type { PageBackend, CpuInfo, GpuPhase, GpuProfile } from '../shared/protocol';
import { WorkerClient } from '../shared/worker_client';
import { byTestId, el } from '../views/dom';

const form = byTestId<HTMLFormElement>('bench-form');
const runButton = byTestId<HTMLButtonElement>('bench-run');
const status = byTestId<HTMLElement>('bench-status');
const rows = byTestId('bench-table').querySelector('tbody') ?? byTestId('bench-table');
const json = byTestId<HTMLElement>('bench-json');
const profileTable = byTestId<HTMLElement>('gpu-profile');

const query = new URLSearchParams(location.search);
for (const name of ['shapes', 'backends', 'steps', 'profile']) {
  const value = query.get(name);
  if (value !== null) (form.elements.namedItem(name) as HTMLInputElement).value = value;
}

/** The CPU backend's threads (the threaded build where the page is cross-origin isolated). */
let cpu: CpuInfo = { threads: 1, reason: 'not ready' };
/** WebGPU is driven from one thread; the CPU backend from `cpu.threads`. */
const threads = (backend: PageBackend): number => (backend === 'cpu' ? cpu.threads : 1);

const client = new WorkerClient({
  onMessage(msg) {
    if (msg.type === 'ready') {
      runButton.disabled = false;
      cpu = msg.cpu;
      const why = cpu.threads > 1 ? '' : ` (${cpu.reason})`;
      status.textContent = `Ready. crossOriginIsolated: ${globalThis.crossOriginIsolated}; CPU threads: ${cpu.threads}${why}.`;
      if (query.get('run') === '1') void run();
    } else if (msg.type === 'init-failed') {
      status.textContent = `The wasm module could not be loaded: ${msg.message}`;
    }
  },
  onCrash(message) {
    status.textContent = `The worker stopped: ${message}`;
  },
});

const list = (name: string): string[] =>
  (form.elements.namedItem(name) as HTMLInputElement).value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

async function run(): Promise<void> {
  runButton.disabled = true;
  rows.replaceChildren();
  const steps = Number((form.elements.namedItem('steps') as HTMLInputElement).value) || 10;
  const results: (BenchResult & { threads: number })[] = [];
  const errors: string[] = [];
  for (const shape of list('shapes') as BenchShape[]) {
    for (const backend of list('backends') as PageBackend[]) {
      status.textContent = `Measuring ${shape} on ${backend}…`;
      const r = await client.call({ fn: 'bench', shape, backend, steps });
      if (!r.ok) {
        errors.push(`${shape} on ${backend}: ${r.error}`);
        rows.append(el('tr', {}, [el('td', {}, [shape]), el('td', {}, [backend]), el('td', { colspan: '4' }, [r.error])]));
        continue;
      }
      const result = { ...r.value, threads: threads(backend) };
      results.push(result);
      const t = result.training;
      rows.append(
        el('tr', {}, [
          el('td', {}, [shape]),
          el('td', {}, [backend]),
          el('td', {}, [String(result.threads)]),
          el('td', {}, [t.tokens_per_sec.toFixed(0)]),
          el('td', {}, [result.generation.tokens_per_sec.toFixed(0)]),
          el('td', {}, [t.final_loss.toFixed(3)]),
        ]),
      );
    }
  }
  // How many threads really ran the CPU backend's kernels (the e2e test checks it is > 1).
  const used = await client.call({ fn: 'cpuThreads' });
  const cpuThreads = used.ok ? used.value : null;
  const profileShape = (form.elements.namedItem('profile') as HTMLInputElement).value.trim() as BenchShape | '';
  let gpuProfile: GpuProfile | null = null;
  if (profileShape) {
    status.textContent = `Profiling WebGPU on ${profileShape}…`;
    // A few steady steps and a small evaluation: a software adapter takes seconds per step.
    const r = await client.call({ fn: 'gpuProfile', shape: profileShape, steps: 1, prompts: 8, newTokens: 8 });
    if (r.ok) showProfile((gpuProfile = r.value));
    else errors.push(`WebGPU profile of ${profileShape}: ${r.error}`);
  }
  json.textContent = JSON.stringify({
    results,
    errors,
    cpuThreads,
    gpuProfile,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    userAgent: navigator.userAgent,
  });
  json.hidden = false;
  status.textContent = errors.length ? `Done, with ${errors.length} error(s).` : 'Done.';
  document.body.dataset.benchDone = '1';
  runButton.disabled = false;
}

function showProfile(p: GpuProfile): void {
  const row = (label: string, phase: GpuPhase) => {
    const c = phase.counts;
    const cells = [
      label,
      phase.seconds.toFixed(2),
      c.pipelines.toFixed(0),
      c.compileMs.toFixed(0),
      c.dispatches.toFixed(0),
      c.submits.toFixed(0),
      c.syncs.toFixed(0),
      c.syncWaitMs.toFixed(0),
    ];
    return el(
      'tr',
      {},
      cells.map((text) => el('td', {}, [text])),
    );
  };
  const evaluation = `${p.evaluation.prompts} prompts × ${p.evaluation.newTokens} tokens`;
  (profileTable.querySelector('tbody') ?? profileTable).replaceChildren(
    row(`${p.shape}: first training step (cold)`, p.firstStep),
    row(`${p.shape}: one steady training step`, p.steadyStep),
    row(`${p.shape}: evaluation, ${evaluation} (cold)`, p.evaluationCold),
    row(`${p.shape}: evaluation, ${evaluation} (warm)`, p.evaluation),
  );
  profileTable.hidden = false;
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void run();
});
