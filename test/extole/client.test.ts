/**
 * ExtoleClient against a real HTTP server on 127.0.0.1: headers per SPEC §3.1, Extole error
 * bodies parsed, Retry-After surfaced, timeouts and connection resets reported (never thrown),
 * keep-alive reuse.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ExtoleClient } from '../../src/extole/client.js';
import { USER_AGENT } from '../../src/version.js';

let server: Server | undefined;
let client: ExtoleClient | undefined;
const sockets = new Set<Socket>();

async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, res, body));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await client?.destroy();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  client = undefined;
});

describe('ExtoleClient', () => {
  it('sends the SPEC headers and body, and reuses the connection', async () => {
    const seen: { headers: IncomingMessage['headers']; body: string; path: string; port: number }[] = [];
    const url = await serve((req, res, body) => {
      seen.push({ headers: req.headers, body, path: req.url!, port: req.socket.remotePort! });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"event_id":"1"}');
    });
    client = new ExtoleClient({ baseUrl: `${url}/prefix/`, connections: 1 });
    const r1 = await client.send('/v6/async-events', '{"event_name":"a"}', 'tok-1', 2000);
    const r2 = await client.send('/v6/async-events', '{"event_name":"b"}', 'tok-1', 2000);
    expect(r1).toMatchObject({ kind: 'response', status: 200, extoleCode: null, body: '{"event_id":"1"}' });
    expect(r2).toMatchObject({ kind: 'response', status: 200 });
    expect(seen[0]!.path).toBe('/prefix/v6/async-events');
    expect(seen[0]!.headers.authorization).toBe('Bearer tok-1');
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[0]!.headers['user-agent']).toBe(USER_AGENT);
    expect(seen[0]!.body).toBe('{"event_name":"a"}');
    expect(seen[1]!.port).toBe(seen[0]!.port); // keep-alive
  });

  it('parses an Extole error body and Retry-After', async () => {
    const url = await serve((_req, res) => {
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' })
        .end(JSON.stringify({ unique_id: 'u', http_status_code: 429, code: 'too_many_requests', message: 'slow down', parameters: {} }));
    });
    client = new ExtoleClient({ baseUrl: url, connections: 2 });
    expect(await client.send('/v6/events', '{}', 't', 2000)).toEqual({
      kind: 'response',
      status: 429,
      extoleCode: 'too_many_requests',
      extoleMessage: 'slow down',
      retryAfter: '7',
      body: expect.any(String),
    });
  });

  it('reports a hung response as a timeout', async () => {
    const url = await serve(() => {
      /* never answers */
    });
    client = new ExtoleClient({ baseUrl: url, connections: 1 });
    expect(await client.send('/v6/events', '{}', 't', 150)).toMatchObject({ kind: 'timeout' });
  });

  it('reports a connection reset as a network error', async () => {
    const url = await serve((req) => req.socket.destroy());
    client = new ExtoleClient({ baseUrl: url, connections: 1 });
    const result = await client.send('/v6/events', '{}', 't', 2000);
    expect(result.kind).toBe('network-error');
  });

  it('reports a refused connection as a network error', async () => {
    const url = await serve(() => {});
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    client = new ExtoleClient({ baseUrl: url, connections: 1 });
    expect(await client.send('/v6/events', '{}', 't', 2000)).toMatchObject({ kind: 'network-error', code: 'ECONNREFUSED' });
  });

  it('times out a request still waiting for a connection, and never sends it', async () => {
    const paths: string[] = [];
    const url = await serve((req) => {
      paths.push(req.url!);
      /* never answers */
    });
    client = new ExtoleClient({ baseUrl: url, connections: 1 });
    // The only connection is held by a request that would wait far longer than the test may run.
    const holding = client.send('/v6/first', '{}', 't', 60_000);
    expect(await client.send('/v6/second', '{}', 't', 100)).toMatchObject({ kind: 'timeout' });
    void holding;
    expect(paths).toEqual(['/v6/first']);
  });

  it('keeps a long body up to the cap, multi-byte characters intact across chunks', async () => {
    const big = 'é'.repeat(70_000); // 140,000 bytes, sent in several chunks
    const url = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      const bytes = Buffer.from(big, 'utf8');
      // An odd split lands in the middle of a two-byte character.
      res.write(bytes.subarray(0, 1001));
      setImmediate(() => res.end(bytes.subarray(1001)));
    });
    client = new ExtoleClient({ baseUrl: url, connections: 1 });
    const result = await client.send('/v6/events', '{}', 't', 2000);
    expect(result).toMatchObject({ kind: 'response', status: 500, extoleCode: null, retryAfter: null });
    const body = (result as { body: string }).body;
    expect(body).toHaveLength(64 * 1024);
    expect(body).toBe('é'.repeat(64 * 1024));
  });

  it('sends the token of each call (a new token replaces the cached headers) and finds Retry-After in any case', async () => {
    const auth: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      auth.push(req.headers.authorization);
      res.writeHead(503, { 'RETRY-AFTER': 'Wed, 21 Oct 2015 07:28:00 GMT', 'content-type': 'application/json' }).end('{}');
    });
    client = new ExtoleClient({ baseUrl: url, connections: 1 });
    const first = await client.send('/v6/events', '{}', 'tok-a', 2000);
    await client.send('/v6/events', '{}', 'tok-b', 2000);
    await client.send('/v6/events', '{}', 'tok-a', 2000);
    expect(auth).toEqual(['Bearer tok-a', 'Bearer tok-b', 'Bearer tok-a']);
    expect(first).toMatchObject({ status: 503, retryAfter: 'Wed, 21 Oct 2015 07:28:00 GMT' });
  });
});
