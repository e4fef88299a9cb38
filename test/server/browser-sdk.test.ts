/**
 * The real Amplitude Browser SDK (@amplitude/analytics-browser, its published script build) in
 * headless Chromium against our server, from another origin: the CORS preflight, the SDK's
 * POST to /2/httpapi and its reading of our answer all run as in a user's browser, and the
 * events arrive at (a fake) Extole with exactly the transformer's bodies.
 *
 * Needs a Chromium binary (`chromium`, `chromium-browser` or `google-chrome` on PATH, or
 * CHROMIUM_PATH). .ci/run installs Debian's `chromium`; outside CI the test skips with the
 * reason when there is none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { normalizeEvent } from '../../src/events/normalize.js';
import type { Outcome } from '../../src/compile/types.js';
import { WEB_KEY, makeConfigDir, referralsYaml, removeDir, startFakeExtole, startServer, waitFor, type FakeExtole, type RunningServer } from './helpers.js';

const inCi = process.env.CI === 'true';

function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
      const candidate = path.join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}
const chromium = findChromium();

const SDK_SCRIPT = readFileSync(createRequire(import.meta.url).resolve('@amplitude/analytics-browser/lib/scripts/amplitude-min.js'));

/**
 * The page: loads the SDK script, tracks the events, and POSTs each result (code, the event as
 * sent) to the page server's /result. Its iframe (/hold) is answered only after that, so the
 * page's load event, which Chromium's --dump-dom waits for, comes after the SDK is done.
 */
function pageHtml(serverUrl: string, apiKey: string): string {
  return `<!doctype html><html><head><script src="/amplitude-min.js"></script></head><body><script>
(async () => {
  let text;
  try {
    amplitude.init(${JSON.stringify(apiKey)}, 'ann@example.com', { serverUrl: ${JSON.stringify(serverUrl)}, flushQueueSize: 10, flushIntervalMillis: 50, autocapture: false, logLevel: 0 });
    const results = await Promise.all([
      amplitude.track('Order Completed', { revenue: 42, coupon: 'SPRING' }, { insert_id: 'browser-order-1' }).promise,
      amplitude.track('Sign Up', { plan: 'plus' }, { insert_id: 'browser-signup-1' }).promise,
    ]);
    text = JSON.stringify(results.map((r) => ({ code: r.code, message: r.message, event: r.event })));
  } catch (e) {
    text = JSON.stringify({ error: String(e) });
  }
  await fetch('/result', { method: 'POST', body: text });
})();
</script><iframe src="/hold"></iframe></body></html>`;
}

/**
 * Serves the page and the SDK script on 127.0.0.1 (a different origin from the server under
 * test); `result` resolves with what the page POSTed to /result.
 */
async function startPageServer(html: string): Promise<{ url: string; result: Promise<string>; close: () => Promise<void> }> {
  let deliver!: (text: string) => void;
  const result = new Promise<string>((resolve) => (deliver = resolve));
  const server = http.createServer((req, res) => {
    if (req.url === '/hold') {
      // Answered once the page has posted its result (or after 30 s, so Chromium never hangs).
      const timer = setTimeout(() => deliver('{"error":"the page posted no result within 30 s"}'), 30_000);
      void result.then(() => {
        clearTimeout(timer);
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('done');
      });
      return;
    }
    if (req.url === '/result' && req.method === 'POST') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        res.end('ok');
        deliver(body);
      });
      return;
    }
    if (req.url === '/amplitude-min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(SDK_SCRIPT);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    result,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Loads `url` in headless Chromium (a fresh profile) until the page has loaded. */
async function runInChromium(binary: string, url: string): Promise<void> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'es-chromium-'));
  try {
    await promisify(execFile)(binary, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, '--dump-dom', url], {
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } finally {
    removeDir(profile);
  }
}

describe('Amplitude Browser SDK (headless Chromium) → extole-stream → Extole', () => {
  // Outside CI Chromium may be missing: skip with the reason.
  it.skipIf(chromium !== undefined || inCi)('skipped: no Chromium on PATH (install chromium or set CHROMIUM_PATH)', () => {});

  let fake: FakeExtole;
  let s: RunningServer;
  beforeAll(async () => {
    if (chromium === undefined && !inCi) return;
    fake = await startFakeExtole();
    s = await startServer(makeConfigDir({ baseUrl: fake.url, destinations: { referrals: referralsYaml(fake.url) } }));
  });
  afterAll(async () => {
    if (s === undefined) return;
    await s.close();
    await fake.close();
    removeDir(s.dir);
  });

  it.skipIf(chromium === undefined && !inCi)(
    'delivers what a page tracks, across origins (CORS preflight), with exactly the transformer\'s bodies',
    { timeout: 90_000 },
    async () => {
      expect(chromium, 'CI=true needs Chromium: .ci/run installs it (apt-get install chromium)').toBeDefined();
      const page = await startPageServer(pageHtml(`${s.url}/2/httpapi`, WEB_KEY));
      let text: string;
      try {
        await runInChromium(chromium!, page.url);
        text = await page.result;
      } finally {
        await page.close();
      }
      const results = JSON.parse(text) as Array<{ code: number; message: string; event: Record<string, unknown> }> | { error: string };
      expect(results, text).toBeInstanceOf(Array);
      const tracked = results as Array<{ code: number; message: string; event: Record<string, unknown> }>;
      // 200 reached the SDK: the preflight and the POST both passed CORS, and it understood our answer.
      expect(tracked.map((r) => r.code)).toEqual([200, 200]);
      expect(tracked.map((r) => r.event.platform)).toEqual(['Web', 'Web']);

      await waitFor(() => fake.bodies.length >= 2, 15_000, 'two deliveries');
      const transformer = s.runtime.active.transformers[0]!;
      for (const r of tracked) {
        const outcome = (await transformer.transform(normalizeEvent(r.event), 'web')) as Outcome;
        if (outcome.outcome !== 'send') throw new Error(`transformer dropped the event: ${outcome.reason}`);
        const delivered = fake.bodies.filter((b) => (b.data as Record<string, unknown>).partner_conversion_id === r.event.insert_id);
        expect(delivered).toEqual([JSON.parse(outcome.bodyJson)]);
      }
      const order = fake.bodies.find((b) => (b.data as Record<string, unknown>).partner_conversion_id === 'browser-order-1')!;
      expect(order).toMatchObject({ event_name: 'Order Completed', data: { email: 'ann@example.com', revenue: 42, coupon: 'SPRING' } });
    },
  );
});
