// The browser columns of `cargo xtask bench`: serves the built site, opens bench.html in
// headless Chromium twice — cross-origin isolated (the CPU backend on wasm threads) and not
// (one thread, as on a host without the headers and before the service worker has run) — and
// prints one JSON result on stdout: { results: [...each with its `threads`], errors, runs,
// gpuProfile }. With --gpu-profile SHAPE, a third page counts WebGPU's calls on that shape
// (www/src/worker/gpu_counters.ts): a cold first step, a steady step, an evaluation.
// Usage: node tests/bench/browser.mjs --shapes tiny,small --backends cpu --steps 10 [--gpu-profile tiny]
import { parseArgs } from 'node:util';
import { distDir, launchBrowser, serveStatic } from '../e2e/helpers.mjs';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'tiny,small,medium' },
    backends: { type: 'string', default: 'cpu' },
    steps: { type: 'string', default: '10' },
    timeout: { type: 'string', default: '3600' },
    'gpu-profile': { type: 'string', default: '' },
  },
});

/** One bench.html run; `isolated` decides the server's headers (no service worker either way). */
async function measure(isolated, params = { shapes: values.shapes, backends: values.backends, steps: values.steps }) {
  const server = await serveStatic(distDir(), { isolated });
  const browser = await launchBrowser({ serviceWorkers: 'block' });
  try {
    const page = await browser.context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`[browser] ${m.text()}`);
    });
    const query = new URLSearchParams({ ...params, run: '1' });
    await page.goto(`${server.origin}/bench.html?${query}`);
    await page.waitForSelector('body[data-bench-done="1"]', { timeout: Number(values.timeout) * 1000 });
    return JSON.parse(await page.textContent('[data-testid="bench-json"]'));
  } finally {
    await browser.close();
    await server.close();
  }
}

const runs = [await measure(true), await measure(false)];
// WebGPU runs on the default build, isolated or not; alone in its page, so nothing else competes.
const profile = values['gpu-profile'] ? await measure(false, { shapes: '', backends: '', steps: '1', profile: values['gpu-profile'] }) : null;
const out = {
  results: runs.flatMap((r) => r.results),
  errors: [...runs, ...(profile ? [profile] : [])].flatMap((r) => r.errors),
  runs: runs.map((r) => ({ crossOriginIsolated: r.crossOriginIsolated, cpuThreads: r.cpuThreads, userAgent: r.userAgent })),
  gpuProfile: profile?.gpuProfile ?? null,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
