/**
 * SPEC §5 with the built CLI: SIGTERM/SIGINT end `serve` with exit code 0, also with a live-view
 * stream and an idle keep-alive connection open; and the hard-exit fallback ends a shutdown that
 * cannot finish (a request whose body never completes) with exit code 2.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { request as httpRequest, Agent } from 'node:http';
import { spawnServe, type ServeProcess } from '../server/cli-helpers.js';
import { ADMIN_TOKEN, TEST_ENV, WEB_KEY, makeConfigDir, removeDir } from '../server/helpers.js';

const ENV = TEST_ENV as Record<string, string>;

let dir: string | undefined;
let serve: ServeProcess | undefined;
const sockets: Socket[] = [];

afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  if (serve && serve.child.exitCode === null && serve.child.signalCode === null) serve.child.kill('SIGKILL');
  if (dir) removeDir(dir);
  serve = undefined;
  dir = undefined;
});

/** Open `GET /events/live` and resolve once the greeting arrived. */
function openLiveView(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/events/live`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    req.on('error', () => {});
    req.on('response', (res) => {
      if (res.statusCode !== 200) reject(new Error(`live view answered ${String(res.statusCode)}`));
      res.once('data', () => resolve());
      res.on('error', () => {});
      req.on('socket', (s) => sockets.push(s));
    });
    req.on('socket', (s) => sockets.push(s));
    req.end();
  });
}

describe('serve stops on SIGTERM/SIGINT with exit code 0', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s with a live viewer and an idle keep-alive client connected', async (signal) => {
    dir = makeConfigDir({ adminToken: true });
    serve = await spawnServe(['--port', '0'], { cwd: dir, env: ENV });
    await openLiveView(serve.url);
    // An idle keep-alive connection after one answered request.
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${serve!.url}/healthz`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.on('socket', (s) => sockets.push(s));
      req.end();
    });

    serve.child.kill(signal);
    const code = await serve.exited;
    agent.destroy();
    expect(code).toBe(0);
    expect(serve.stderr()).toContain(`${signal}: stopping`);
    expect(serve.stderr()).toMatch(/stopped after \d+ ms/);
    expect(serve.stderr()).not.toContain('Still open');
  }, 40_000);
});

describe('the hard-exit fallback', () => {
  it('ends a shutdown that cannot finish (a request body that never completes) with exit code 2 and names what was open', async () => {
    dir = makeConfigDir();
    // The fallback at 1.5 s instead of 30 s; the HTTP drain alone would wait 10 s for this request.
    serve = await spawnServe(['--port', '0'], { cwd: dir, env: { ...ENV, EXTOLE_STREAM_HARD_EXIT_MS: '1500' } });
    const { hostname, port } = new URL(serve.url);
    const socket = connect(Number(port), hostname);
    sockets.push(socket);
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const body = JSON.stringify({ api_key: WEB_KEY, events: [{ event_type: 'x', user_id: 'stuck@example.com' }] });
    // Headers and half the body; the rest never comes.
    socket.write(`POST /2/httpapi HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
    await new Promise((r) => setTimeout(r, 200));

    serve.child.kill('SIGTERM');
    const code = await serve.exited;
    expect(code).toBe(2);
    expect(serve.stderr()).toContain('after SIGTERM and the shutdown has not finished; exiting with code 2. Still open:');
    expect(serve.stderr()).toMatch(/Still open: .*TCP/);
  }, 40_000);
});
