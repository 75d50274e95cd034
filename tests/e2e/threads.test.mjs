// End-to-end: wasm threads for the CPU backend. Where the page is cross-origin isolated (headers
// from the server) the CPU backend runs on more than one thread, and the run is the same run as
// on one thread; where it is not, the page works on one thread and says why; on a host that
// sends no headers, the service worker provides the isolation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  $,
  checkLog,
  distDir,
  encodeLink,
  launchBrowser,
  MINUTE,
  openPage,
  presetConfig,
  serveStatic,
  shortTiny,
  useSite,
  waitForReady,
  waitForState,
} from './helpers.mjs';

const site = useSite();

/** Runs the page's current config to the end; its fingerprint. */
async function runToEnd(page) {
  await page.click($('run-button'));
  await waitForState(page, ['done'], 10 * MINUTE);
  return page.getAttribute($('fingerprint'), 'data-value');
}

/** Polls `probe` in the page until it is true, across the page's own reloads. */
async function eventually(page, probe, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const ok = await page.evaluate(probe).catch(() => false); // a reload destroys the context
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${probe}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('wasm threads', () => {
  it('runs the CPU backend on several threads when isolated, with the same result as one thread', { timeout: 20 * MINUTE }, async (t) => {
    const config = shortTiny(await presetConfig(site.browser.context, site.server.origin, 'tiny'));
    const link = `#${encodeLink(config)}&backend=cpu`;

    const { page, log } = await openPage(site.browser.context, site.server.origin);
    await page.goto(`${site.server.origin}/${link}`);
    await waitForReady(page);
    assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true, 'the served page is cross-origin isolated');
    const label = await page.textContent($('backend-label'));
    const threads = Number(/, (\d+) threads\)/.exec(label)?.[1] ?? 1);
    t.diagnostic(`${label} (hardwareConcurrency ${await page.evaluate(() => navigator.hardwareConcurrency)})`);
    assert.ok(threads > 1, `the page says it has more than one thread: ${label}`);
    const threaded = await runToEnd(page);
    checkLog(log);
    await page.close();

    // The threads did the work: the benchmark page counts the threads that ran kernel pieces.
    const bench = await site.browser.context.newPage();
    await bench.goto(`${site.server.origin}/bench.html?shapes=tiny&backends=cpu&steps=2&run=1`);
    await bench.waitForFunction(() => document.body.dataset.benchDone === '1', null, { timeout: 5 * MINUTE });
    const report = JSON.parse(await bench.textContent($('bench-json')));
    t.diagnostic(
      `bench: ${JSON.stringify(report.results.map((r) => ({ threads: r.threads, tokens_per_sec: Math.round(r.training.tokens_per_sec) })))}; threads used ${JSON.stringify(report.cpuThreads)}`,
    );
    assert.deepEqual(report.errors, []);
    assert.ok(report.cpuThreads.used > 1, `more than one thread ran the CPU kernels: ${JSON.stringify(report.cpuThreads)}`);
    await bench.close();

    // The same link on a host without the headers (and no service worker): one thread, said on
    // screen, and the same run bit for bit (the kernels split work the same way on any count).
    const plain = await serveStatic(distDir(), { isolated: false });
    const browser = await launchBrowser({ serviceWorkers: 'block' });
    try {
      const single = await openPage(browser.context, plain.origin);
      await single.page.goto(`${plain.origin}/${link}`);
      await waitForReady(single.page);
      assert.equal(await single.page.evaluate(() => globalThis.crossOriginIsolated), false);
      assert.match(await single.page.textContent($('backend-label')), /one thread: the page is not cross-origin isolated/);
      const oneThread = await runToEnd(single.page);
      t.diagnostic(`fingerprint on ${threads} threads ${threaded}, on one thread ${oneThread}`);
      assert.equal(oneThread, threaded, 'the same run on one thread and on several');
      checkLog(single.log);
    } finally {
      await browser.close();
      await plain.close();
    }
  });

  it('gets cross-origin isolation from its service worker on a host that sends no headers', { timeout: 5 * MINUTE }, async (t) => {
    const plain = await serveStatic(distDir(), { isolated: false });
    const browser = await launchBrowser();
    try {
      const { page, log } = await openPage(browser.context, plain.origin);
      await page.goto(`${plain.origin}/#backend=cpu`);
      // First load: not isolated. Once the worker controls the page, it reloads itself once.
      await eventually(page, () => globalThis.crossOriginIsolated && document.body.dataset.ready === 'true', 3 * MINUTE);
      await waitForReady(page);
      const label = await page.textContent($('backend-label'));
      t.diagnostic(label);
      assert.match(label, /, \d+ threads\)/);
      checkLog(log);
    } finally {
      await browser.close();
      await plain.close();
    }
  });
});
