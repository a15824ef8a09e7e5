// The status page in a real browser: starts `carebridge serve` (port 0, a temp data dir), opens
// http://127.0.0.1:PORT/status in headless Chromium (playwright-core, /usr/bin/chromium), checks the
// page loads with no console error and no request to another origin, reads the live numbers,
// sends HL7 messages over MLLP (`carebridge send`), checks that the numbers follow, and saves a
// screenshot (printed path).
//   node status_page_check.mjs CAREBRIDGE_BIN [SCREENSHOT_PATH]
// Environment: CHROMIUM (default /usr/bin/chromium). Every wait polls with a deadline; no fixed
// sleeps. Exits non-zero on the first failed check (with the server log).
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const bin = process.argv[2];
const shot = path.resolve(process.argv[3] || path.join(root, 'build/artifacts/status-page.png'));
if (!bin) {
  console.error('usage: status_page_check.mjs CAREBRIDGE_BIN [SCREENSHOT_PATH]');
  process.exit(2);
}

let failures = 0;
function check(ok, what, detail = '') {
  console.log(`${ok ? 'ok  ' : 'FAIL'} status page: ${what}${!ok && detail ? ` (${detail})` : ''}`);
  if (!ok) failures++;
  return ok;
}

const tmp = mkdtempSync(path.join(tmpdir(), 'cb-status-'));
writeFileSync(path.join(tmp, 'config.json'), JSON.stringify({
  senders: [{ name: 'status-check', facilities: ['*'], addresses: ['127.0.0.1'] }],
}));

// --- the gateway ---------------------------------------------------------------------------------
let log = '';
const server = spawn(bin, ['serve', '--config', path.join(tmp, 'config.json'),
  '--data-dir', path.join(tmp, 'data'), '--mllp-listen', '127.0.0.1:0',
  '--http-listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
const ports = {};
const listening = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no "listening" lines within 20 s')), 20000);
  server.stderr.setEncoding('utf8');
  let pending = '';
  server.stderr.on('data', (chunk) => {
    log += chunk;
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        const j = JSON.parse(line);
        if (j.event === 'listening') ports[j.listener] = Number(j.address.split(':').pop());
      } catch { /* not a JSON line */ }
      if (ports.mllp && ports.http) {
        clearTimeout(timer);
        resolve();
      }
    }
  });
  server.on('exit', (code) => reject(new Error(`carebridge serve exited (${code}) before listening`)));
});

async function stopServer() {
  if (server.exitCode !== null) return server.exitCode;
  const exited = new Promise((resolve) => server.once('exit', (code) => resolve(code)));
  server.kill('SIGTERM');
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 15000));
  const code = await Promise.race([exited, timeout]);
  if (code === 'timeout') server.kill('SIGKILL');
  return code;
}

async function until(what, fn, timeoutMs = 20000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${last})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const numberOf = (text) => Number(String(text).replace(/[^0-9.]/g, '')) || 0;

let browser;
try {
  await listening;
  const base = `http://127.0.0.1:${ports.http}`;
  console.log(`status page: gateway at ${base}, MLLP on ${ports.mllp}`);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const consoleErrors = [];
  const foreign = [];
  const failed = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith(base + '/')) foreign.push(r.url()); });
  page.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.url()} ${r.status()}`); });

  const resp = await page.goto(`${base}/status?poll=1000`, { waitUntil: 'load' });
  check(resp && resp.status() === 200, 'GET /status is 200', resp && String(resp.status()));
  await page.waitForFunction(() => Number(document.body.dataset.loaded || 0) >= 1, null,
    { timeout: 15000 });
  check((await page.title()).startsWith('CareBridge'), 'page title');
  const ready = await page.locator('#health li[data-check="ready"]').getAttribute('class');
  check(ready === 'ok', 'readiness shown as OK', ready);
  const before = numberOf(await page.locator('[data-metric="messages-total"]').textContent());
  check(before === 0, 'no messages before any was sent', String(before));

  // --- send HL7 v2 messages over MLLP ---------------------------------------------------------
  const dir = path.join(root, 'tests/data/hl7/adt');
  const files = readdirSync(dir).filter((f) => f.endsWith('.hl7')).sort().map((f) => path.join(dir, f));
  const { stdout } = await promisify(execFile)(bin, ['send', `127.0.0.1:${ports.mllp}`, ...files]);
  const acks = (stdout.match(/MSA\|(AA|CA)\|/g) || []).length;
  check(acks > 0, `${acks} messages acknowledged (AA/CA)`);

  const after = await until('the message count to rise', async () => {
    const n = numberOf(await page.locator('[data-metric="messages-total"]').textContent());
    return n >= acks ? n : 0;
  });
  check(after >= acks, `messages shown rose from ${before} to ${after}`);
  await until('the sender row', async () =>
    (await page.locator('#senders tbody').textContent()).includes('status-check'));
  check(true, 'the sender "status-check" is listed');
  const processed = await until('the processed count', async () =>
    numberOf(await page.locator('[data-metric="processed-total"]').textContent()) || 0);
  check(processed > 0, `processed count shown (${processed})`);
  const pending = numberOf(await until('the pipeline backlog to drain', async () => {
    const t = await page.locator('[data-metric="pipeline-pending"]').textContent();
    return numberOf(t) === 0 ? '0' : '';
  }));
  check(pending === 0, 'pipeline backlog drained to 0');

  // The charts: a 10-second sample must arrive (the sampler's first reading is at start).
  await until('a chart sample', async () => {
    const r = await page.request.get(`${base}/status/data`);
    const d = await r.json();
    return d.series.some((s) => s.messages_per_s > 0);
  }, 35000, 500);
  await page.waitForFunction(() => !document.querySelector('#legend-throughput').textContent
    .includes('messages in: —'), null, { timeout: 5000 });
  check(true, 'throughput chart has a sample with messages');

  // No PHI: none of the messages' family names (PID-5.1), no segment.
  const data = await (await page.request.get(`${base}/status/data`)).text();
  const html = await page.content();
  const { readFileSync } = await import('node:fs');
  const names = new Set();
  for (const f of files) {
    for (const seg of readFileSync(f, 'latin1').split(/\r\n|\r|\n/)) {
      if (!seg.startsWith('PID|')) continue;
      const family = (seg.split('|')[5] || '').split('^')[0];
      if (family.length > 2) names.add(family);
    }
  }
  const leaked = [...names].filter((n) => data.includes(n) || html.includes(n));
  check(names.size > 0 && leaked.length === 0 && !/PID\||MSH\|/.test(data),
    `no patient name (${names.size} checked) or segment in /status/data or the page`,
    leaked.join(', '));

  check(consoleErrors.length === 0, 'no console errors', consoleErrors.join('; '));
  check(foreign.length === 0, 'no request to another origin', foreign.join(', '));
  check(failed.length === 0, 'no failed request', failed.join(', '));

  mkdirSync(path.dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`status page: screenshot ${shot}`);
} catch (e) {
  check(false, 'run', e.message);
} finally {
  if (browser) await browser.close();
  const code = await stopServer();
  check(code === 0, 'carebridge serve stopped with exit 0 on SIGTERM', String(code));
  if (failures) {
    console.error(`status page: ${failures} check(s) failed; server log:\n${log}`);
    console.error(`status page: temp dir kept: ${tmp}`);
  } else {
    rmSync(tmp, { recursive: true, force: true });
  }
}
process.exit(failures ? 1 : 0);
