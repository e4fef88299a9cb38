/** `extole-stream sandbox`: prints where it listens, answers, stops on ctx.signal; bad flags exit 2. */
import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout, stderr, out: () => out, err: () => err };
}

describe('extole-stream sandbox', () => {
  it('listens, answers like Extole, and stops when the signal aborts', async () => {
    const { stdout, stderr, out } = io();
    const controller = new AbortController();
    const run = main(['sandbox', '--port', '0', '--throttle', '0'], {
      stdout,
      stderr,
      stdin: new PassThrough(),
      cwd: process.cwd(),
      env: {},
      signal: controller.signal,
    });
    let url: string | undefined;
    for (let i = 0; i < 500 && !url; i++) {
      url = /listening on (http:\/\/\S+)/.exec(out())?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 5));
    }
    expect(url).toBeDefined();
    const res = await request(`${url}/v6/async-events`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: JSON.stringify({ event_name: 'signup', event_time: '2024-11-27T09:33:20Z', data: { email: 'a@example.com' } }),
    });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    controller.abort();
    expect(await run).toBe(0);
    expect(out()).toContain('POST /v6/async-events 200 "signup"');
    expect(out()).toContain('stopped');
  });

  it.each([
    [['sandbox', '--throttle', '1.5']],
    [['sandbox', '--throttle', 'lots']],
    [['sandbox', '--port', '-1']],
  ])('rejects %j with exit code 2', async (argv) => {
    const { stdout, stderr, err } = io();
    const code = await main(argv, { stdout, stderr, stdin: new PassThrough(), cwd: process.cwd(), env: {} });
    expect(code).toBe(2);
    expect(err()).toMatch(/--(throttle|port)/);
  });
});
