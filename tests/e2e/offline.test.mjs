// End-to-end: the built site is private (no request leaves its origin) and works offline once loaded.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { artifactsDir, distDir, encodeLink, launchBrowser, openPage, presetConfig, serveStatic, shortTiny, waitForReady, waitForState } from './helpers.mjs';

const MINUTE = 60_000;
const $ = (id) => `[data-testid="${id}"]`;
let server;
let browser;

before(async () => {
  const dist = distDir();
  mkdirSync(artifactsDir, { recursive: true });
  server = await serveStatic(dist);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.context.setOffline(false).catch(() => undefined);
  await browser?.close();
  await server?.close();
});

describe('offline and private', () => {
  it('makes no request outside its origin, and runs again with the network gone', { timeout: 20 * MINUTE }, async (t) => {
    // Every request that is not to the site's own origin is blocked and recorded.
    const blocked = [];
    await browser.context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${server.origin}/`) || /^(data|blob):/.test(url)) return route.continue();
      blocked.push(url);
      return route.abort();
    });
    const config = shortTiny(await presetConfig(browser.context, server.origin, 'tiny'));
    const { page, log } = await openPage(browser.context, server.origin);
    await page.goto(`${server.origin}/#${encodeLink(config)}&backend=cpu`);
    await waitForReady(page);
    await page.click($('run-button'));
    await waitForState(page, ['done'], 10 * MINUTE);
    const online = await page.getAttribute($('fingerprint'), 'data-value');
    const course = await browser.context.newPage();
    await course.goto(`${server.origin}/course.html`);
    await course.waitForFunction(() => document.querySelector('[data-testid="course-events"]').textContent.includes('ready'), null, { timeout: 3 * MINUTE });
    await course.close();
    assert.deepEqual(blocked, [], 'requests outside the origin');
    assert.deepEqual(log.foreignRequests, []);

    // The service worker has cached the lab: with the network off, it loads and trains again.
    const sw = await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active?.state));
    t.diagnostic(`service worker: ${sw}`);
    await browser.context.setOffline(true);
    try {
      await page.reload();
      await waitForReady(page);
      await page.click($('run-button'));
      await waitForState(page, ['done'], 10 * MINUTE);
      const offline = await page.getAttribute($('fingerprint'), 'data-value');
      t.diagnostic(`fingerprint online ${online}, offline ${offline}`);
      assert.equal(offline, online, 'the offline run is the same run');
    } finally {
      await browser.context.setOffline(false);
    }
    await page.close();
  });
});
