// Opens pushbench's demo page in a real headless Chromium, lets it run, and checks that every one
// of the five techniques received messages. Used by scripts/browser-check.sh.
//
// usage: node check.mjs URL SCREENSHOT.png [SECONDS]
// Prints one JSON line with the per-technique counts; exits 1 if a technique got nothing or the
// page threw / logged an error, 2 on bad usage or a browser failure.

import { chromium } from 'playwright-core';

const [url, shot, secondsArg] = process.argv.slice(2);
if (!url || !shot) {
  console.error('usage: node check.mjs URL SCREENSHOT.png [SECONDS]');
  process.exit(2);
}
const seconds = Number(secondsArg || 6);
const TECHNIQUES = ['poll', 'long-poll', 'stream', 'sse', 'ws'];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  timeout: 30000,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let exitCode = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    // Aborted on purpose when the page closes (e.g. the held long poll at the end): not a problem.
    if (!/ERR_ABORTED/.test(r.failure()?.errorText || '')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
  });
  await page.goto(url, { waitUntil: 'load', timeout: 15000 });
  // Wait until every technique has something (or the time is up), then let it run a little more
  // so the screenshot shows a few messages in each panel.
  const deadline = Date.now() + seconds * 1000;
  await page
    .waitForSelector('#summary[data-ready="yes"]', { timeout: seconds * 1000 })
    .catch(() => {});
  const rest = deadline - Date.now();
  if (rest > 0) await page.waitForTimeout(rest);

  const counts = await page.evaluate((keys) => {
    const s = document.getElementById('summary');
    const out = {};
    for (const k of keys) out[k] = Number(s.getAttribute('data-' + k) || 0);
    return out;
  }, TECHNIQUES);
  const title = await page.title();
  await page.screenshot({ path: shot, fullPage: true });

  const silent = TECHNIQUES.filter((k) => !(counts[k] > 0));
  console.log(JSON.stringify({ url, seconds, counts, title, silent, problems }));
  if (silent.length) {
    console.error(`no messages for: ${silent.join(', ')}`);
    exitCode = 1;
  }
  if (problems.length) {
    console.error(`the page reported ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    exitCode = 1;
  }
} catch (e) {
  console.error(`browser check failed: ${e.message}`);
  exitCode = 2;
} finally {
  await browser.close();
}
process.exit(exitCode);
