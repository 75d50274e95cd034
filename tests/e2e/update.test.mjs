// End-to-end: a new deploy while a visitor has the old build open. A reload runs the new build
// (network first: no stale file from the old cache), the new service worker waits for the old
// tab to close, then takes over and leaves its own build's cache only; the lab still runs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $, checkLog, distDir, encodeLink, MINUTE, openPage, presetConfig, serveStatic, shortTiny, useSite, waitForReady, waitForState } from './helpers.mjs';

const site = useSite();
/** A host of its own (its own origin, so its own service worker), whose files the test redeploys. */
const host = { dir: null, server: null };

before(async () => {
  host.dir = mkdtempSync(join(tmpdir(), 'sleeper-deploy-'));
  cpSync(distDir(), host.dir, { recursive: true });
  host.server = await serveStatic(host.dir);
});
after(async () => {
  await host.server?.close();
  if (host.dir) rmSync(host.dir, { recursive: true, force: true });
});

/** The build id written into a build's sw.js. */
function buildOf(dir) {
  const id = /const BUILD = "([0-9a-f]+)"/.exec(readFileSync(join(dir, 'sw.js'), 'utf8'))?.[1];
  assert.ok(id, 'sw.js carries its build id');
  return id;
}

/**
 * Deploys build B over build A in place: a changed index.html (marked) and the sw.js that such a
 * build gets (another id). Building the site twice would take minutes; what the service worker
 * and the page see of a deploy is exactly this.
 */
function deployB(dir) {
  const index = join(dir, 'index.html');
  writeFileSync(index, readFileSync(index, 'utf8').replace('<head>', '<head><meta name="sleeper-test-build" content="B">'));
  const a = buildOf(dir);
  const b = `${a.slice(0, -1)}${a.endsWith('0') ? '1' : '0'}`;
  const sw = join(dir, 'sw.js');
  writeFileSync(sw, readFileSync(sw, 'utf8').replace(`"${a}"`, `"${b}"`));
  return b;
}

const cacheNames = (page) => page.evaluate(() => caches.keys());
const marker = (page) => page.evaluate(() => document.querySelector('meta[name="sleeper-test-build"]')?.getAttribute('content') ?? 'A');

describe('updating', () => {
  it('a reload after a deploy runs the new build; the new worker takes over and drops the old cache', { timeout: 15 * MINUTE }, async (t) => {
    const origin = host.server.origin;
    const a = buildOf(host.dir);
    const first = await openPage(site.browser.context, origin);
    await first.page.goto(`${origin}/#backend=cpu`);
    await waitForReady(first.page);
    await first.page.evaluate(() => navigator.serviceWorker.ready);
    assert.deepEqual(await cacheNames(first.page), [`sleeper-lab-${a}`], "build A's worker precached into its own cache");

    const b = deployB(host.dir);
    t.diagnostic(`build A ${a}, build B ${b}`);
    await first.page.reload();
    await waitForReady(first.page);
    assert.equal(await marker(first.page), 'B', 'the reload got the new build, not the cached page');
    // B's worker installs beside A's and waits: the open tab still runs under A's.
    await first.page.waitForFunction(() => navigator.serviceWorker.getRegistration().then((r) => Boolean(r?.waiting)), null, {
      timeout: 2 * MINUTE,
      polling: 500,
    });
    checkLog(first.log);
    await first.page.close();

    // No tab runs under A's worker now: B's activates, deletes A's cache, and serves the lab.
    const config = shortTiny(await presetConfig(site.browser.context, origin, 'tiny'));
    const second = await openPage(site.browser.context, origin);
    await second.page.goto(`${origin}/#${encodeLink(config)}&backend=cpu`);
    await waitForReady(second.page);
    await second.page.waitForFunction((want) => caches.keys().then((k) => JSON.stringify(k) === JSON.stringify(want)), [`sleeper-lab-${b}`], {
      timeout: 2 * MINUTE,
      polling: 500,
    });
    assert.equal(await marker(second.page), 'B');
    assert.ok(await second.page.evaluate(() => navigator.serviceWorker.controller !== null), 'the page is controlled by the new worker');
    await second.page.click($('run-button'));
    await waitForState(second.page, ['done'], 10 * MINUTE);
    checkLog(second.log);
    await second.page.close();
  });
});
