// End-to-end: the built site is private (no request leaves its origin) and works offline once loaded.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { $, encodeLink, MINUTE, openPage, presetConfig, shortTiny, useSite, waitForReady, waitForState } from './helpers.mjs';

const site = useSite();

describe('offline and private', () => {
  it('makes no request outside its origin, and runs again with the network gone', { timeout: 20 * MINUTE }, async (t) => {
    // Every request that is not to the site's own origin is blocked and recorded.
    const blocked = [];
    await site.browser.context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${site.server.origin}/`) || /^(data|blob):/.test(url)) return route.continue();
      blocked.push(url);
      return route.abort();
    });
    const config = shortTiny(await presetConfig(site.browser.context, site.server.origin, 'tiny'));
    const { page, log } = await openPage(site.browser.context, site.server.origin);
    await page.goto(`${site.server.origin}/#${encodeLink(config)}&backend=cpu`);
    await waitForReady(page);
    await page.click($('run-button'));
    await waitForState(page, ['done'], 10 * MINUTE);
    const online = await page.getAttribute($('fingerprint'), 'data-value');
    const course = await site.browser.context.newPage();
    await course.goto(`${site.server.origin}/course.html`);
    await course.waitForFunction(() => document.querySelector('[data-testid="course-events"]').textContent.includes('ready'), null, { timeout: 3 * MINUTE });
    await course.close();
    assert.deepEqual(blocked, [], 'requests outside the origin');
    assert.deepEqual(log.foreignRequests, []);

    // The service worker has cached the lab: with the network off, it loads and trains again.
    const sw = await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active?.state));
    t.diagnostic(`service worker: ${sw}`);
    await site.browser.context.setOffline(true);
    try {
      await page.reload();
      await waitForReady(page);
      await page.click($('run-button'));
      await waitForState(page, ['done'], 10 * MINUTE);
      const offline = await page.getAttribute($('fingerprint'), 'data-value');
      t.diagnostic(`fingerprint online ${online}, offline ${offline}`);
      assert.equal(offline, online, 'the offline run is the same run');
    } finally {
      await site.browser.context.setOffline(false);
    }
    await page.close();
  });
});
