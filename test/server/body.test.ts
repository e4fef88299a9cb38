import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { gzipSync, deflateSync } from 'node:zlib';
import { HttpError, readBody } from '../../src/server/body.js';

function streamOf(buf: Buffer, chunk = 16 * 1024): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts);
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof HttpError) return err.statusCode;
    throw err;
  }
}

describe('readBody', () => {
  it('reads plain, gzip and deflate bodies', async () => {
    const text = Buffer.from(JSON.stringify({ hello: 'world'.repeat(100) }));
    expect((await readBody(streamOf(text), { limit: 10_000 })).equals(text)).toBe(true);
    expect((await readBody(streamOf(gzipSync(text)), { limit: 10_000, encoding: 'gzip' })).equals(text)).toBe(true);
    expect((await readBody(streamOf(deflateSync(text)), { limit: 10_000, encoding: 'deflate' })).equals(text)).toBe(true);
  });

  it('answers 413 over the limit, plain or decompressed', async () => {
    const big = Buffer.alloc(20_000, 'a');
    expect(await status(readBody(streamOf(big), { limit: 10_000 }))).toBe(413);
    // Small on the wire, big once inflated: the DECOMPRESSED size counts.
    const zipped = gzipSync(big);
    expect(zipped.length).toBeLessThan(10_000);
    expect(await status(readBody(streamOf(zipped), { limit: 10_000, encoding: 'gzip' }))).toBe(413);
  });

  it('stops inflating a gzip bomb at the limit', async () => {
    // 50 MB of zeros compresses to ~50 KB; inflating it all would cost 50 MB of memory.
    const bomb = gzipSync(Buffer.alloc(50_000_000));
    let delivered = 0;
    const source = streamOf(bomb);
    source.on('data', (c: Buffer) => (delivered += c.length));
    const err = await readBody(source, { limit: 1_000_000, encoding: 'gzip' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).statusCode).toBe(413);
    // The raw (compressed) body is drained so the client can read the answer.
    expect(delivered).toBe(bomb.length);
  });

  it('refuses unknown encodings (415), corrupt gzip (400) and declared lengths far over the limit', async () => {
    expect(await status(readBody(streamOf(Buffer.from('x')), { limit: 100, encoding: 'br' }))).toBe(415);
    expect(await status(readBody(streamOf(Buffer.from('not gzip at all')), { limit: 100, encoding: 'gzip' }))).toBe(400);
    const e = await readBody(streamOf(Buffer.from('x')), { limit: 100, contentLength: 50_000_000 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).closeConnection).toBe(true);
  });
});
