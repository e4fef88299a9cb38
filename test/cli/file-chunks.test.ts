import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFileChunks } from '../../src/cli/file-chunks.js';

const dir = mkdtempSync(path.join(tmpdir(), 'extole-stream-chunks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Copies every chunk as it comes (the reader reuses its buffer). */
async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of chunks) out.push(Buffer.from(chunk));
  return out;
}

/** How many of this process's descriptors are open on `file` (Linux). */
function descriptorsOn(file: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) count++;
    } catch {
      // closed between the listing and the look-up
    }
  }
  return count;
}

describe('readFileChunks', () => {
  it('gives every byte of a regular file, in chunks of the given size', async () => {
    const bytes = Buffer.from(Array.from({ length: 10_000 }, (_, i) => `line ${i} é😀\n`).join(''));
    const file = path.join(dir, 'events.jsonl');
    writeFileSync(file, bytes);
    const chunks = await collect(readFileChunks(file, 4096));
    expect(chunks.length).toBe(Math.ceil(bytes.length / 4096));
    expect(chunks.slice(0, -1).every((c) => c.length === 4096)).toBe(true);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    const byDefault = await collect(readFileChunks(file));
    expect(byDefault.map((c) => c.length)).toEqual([65536, 65536, bytes.length - 2 * 65536]);
  });

  it('reuses one buffer for a regular file: a chunk is valid until the next is asked for', async () => {
    const file = path.join(dir, 'ab.txt');
    writeFileSync(file, 'aaaabbbb');
    const seen: Buffer[] = [];
    for await (const chunk of readFileChunks(file, 4)) seen.push(chunk);
    expect(seen.map((c) => c.buffer)).toEqual([seen[0]!.buffer, seen[0]!.buffer]);
    expect(seen[0]!.toString()).toBe('bbbb');
  });

  it('streams what is not a regular file (a FIFO)', async () => {
    const fifo = path.join(dir, 'events.fifo');
    execFileSync('mkfifo', [fifo]);
    const text = 'x'.repeat(200_000);
    const source = path.join(dir, 'source.txt');
    writeFileSync(source, text);
    const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', source, fifo]);
    const exited = new Promise((resolve) => writer.on('exit', resolve));
    const chunks = await collect(readFileChunks(fifo, 65536));
    expect(Buffer.concat(chunks).toString()).toBe(text);
    expect(await exited).toBe(0);
  });

  it('throws fs errors from the first read, and closes the file however the reading ends', async () => {
    await expect(collect(readFileChunks(path.join(dir, 'missing.jsonl')))).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open' });
    await expect(collect(readFileChunks(dir))).rejects.toMatchObject({ code: 'EISDIR', syscall: 'read' });

    const file = path.join(dir, 'many.txt');
    writeFileSync(file, 'z'.repeat(100_000));
    for await (const chunk of readFileChunks(file, 1000)) {
      expect(chunk.length).toBe(1000);
      expect(descriptorsOn(file)).toBe(1);
      break; // return() runs the generator's finally
    }
    expect(descriptorsOn(file)).toBe(0);
    const dangling = readFileChunks(file, 1000);
    await dangling.next();
    expect(descriptorsOn(file)).toBe(1);
    await dangling.return(undefined);
    expect(descriptorsOn(file)).toBe(0);
  });
});
