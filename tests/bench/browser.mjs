// The browser column of `cargo xtask bench`: serves the built site, opens bench.html in
// headless Chromium and prints the page's JSON result on stdout.
// Usage: node tests/bench/browser.mjs --shapes tiny,small --backends cpu --steps 10
import { parseArgs } from 'node:util';
import { distDir, launchBrowser, serveStatic } from '../e2e/helpers.mjs';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'tiny,small,medium' },
    backends: { type: 'string', default: 'cpu' },
    steps: { type: 'string', default: '10' },
    timeout: { type: 'string', default: '3600' },
  },
});

const server = await serveStatic(distDir());
const browser = await launchBrowser();
try {
  const page = await browser.context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`[browser] ${m.text()}`);
  });
  const query = new URLSearchParams({ shapes: values.shapes, backends: values.backends, steps: values.steps, run: '1' });
  await page.goto(`${server.origin}/bench.html?${query}`);
  await page.waitForSelector('body[data-bench-done="1"]', { timeout: Number(values.timeout) * 1000 });
  process.stdout.write(`${await page.textContent('[data-testid="bench-json"]')}\n`);
} finally {
  await browser.close();
  await server.close();
}
