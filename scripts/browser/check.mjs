// Opens pushbench's demo page in a real headless Chromium, lets it run, and checks that every one
// of the five techniques received messages. Used by scripts/browser-check.sh.
//
// usage: node check.mjs URL SCREENSHOT.png [SECONDS]
// Prints one JSON line with the per-technique counts and the protocol each panel shows; exits 1
// if a technique got nothing, the page threw / logged an error, or (an https URL, a server's
// self-signed certificate accepted) a panel does not show the protocol it must: h2+tls for the
// HTTP techniques, http/1.1+tls for WebSocket; 2 on bad usage or a browser failure.

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
  const tls = url.startsWith('https:');
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, ignoreHTTPSErrors: tls });
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

  // The controls: publish a named event from the page's own publish box (EventSource sees a
  // named event only through its own listener), then switch topic and publish there.
  const seenBy = (event) => page.evaluate((ev) => window.pushbench.panels
    .filter((p) => (p.events[ev] || 0) > 0).map((p) => p.key), event);
  const waitAll = (fn, arg) => page
    .waitForFunction(fn, arg, { timeout: 8000, polling: 100 }).then(() => true, () => false);
  await page.fill('#pub-data', 'published from the page');
  await page.fill('#pub-event', 'note');
  await page.click('#pub-send');
  await waitAll((ev) => window.pushbench.panels.every((p) => (p.events[ev] || 0) > 0), 'note');
  const namedEvent = await seenBy('note');
  await page.fill('#topic', 'other-topic');
  await page.click('#topic-apply');
  await page.waitForTimeout(500);
  await page.fill('#pub-event', 'switched');
  await page.click('#pub-send');
  await waitAll(() => window.pushbench.panels.every((p) => (p.events.switched || 0) > 0));
  const afterSwitch = await seenBy('switched');
  const switchedTopic = await page.evaluate(() => window.pushbench.topic());
  const controls = { named_event_seen_by: namedEvent, after_topic_switch_seen_by: afterSwitch, topic: switchedTopic };
  const protocols = await page.evaluate(() => Object.fromEntries(window.pushbench.panels.map((p) => [p.key, p.protocol])));
  const wrongProtocol = tls
    ? TECHNIQUES.filter((k) => protocols[k] !== (k === 'ws' ? 'http/1.1+tls' : 'h2+tls'))
    : [];

  console.log(JSON.stringify({ url, seconds, counts, protocols, title, silent, controls, problems: problems.length }));
  if (wrongProtocol.length) {
    console.error(`over https these panels do not show the protocol they must: ${JSON.stringify(protocols)}`);
    exitCode = 1;
  }
  if (silent.length) {
    console.error(`no messages for: ${silent.join(', ')}`);
    exitCode = 1;
  }
  if (namedEvent.length !== TECHNIQUES.length || afterSwitch.length !== TECHNIQUES.length || switchedTopic !== 'other-topic') {
    console.error(`the publish box / topic switch did not reach every technique: ${JSON.stringify(controls)}`);
    exitCode = 1;
  }
  if (problems.length) {
    const shown = problems.slice(0, 10).join('\n  ');
    console.error(`the page reported ${problems.length} problem(s), the first ones:\n  ${shown}`);
    exitCode = 1;
  }
} catch (e) {
  console.error(`browser check failed: ${e.message}`);
  exitCode = 2;
} finally {
  await browser.close();
}
process.exit(exitCode);
