import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readJsonEvents, type InputItem } from '../../src/cli/event-input.js';

async function collect(chunks: (string | Buffer)[]): Promise<InputItem[]> {
  const items: InputItem[] = [];
  for await (const item of readJsonEvents(Readable.from(chunks, { objectMode: true }))) items.push(item);
  return items;
}

/** Split a text into chunks of `size` characters (or bytes, for Buffers), to cross every boundary. */
function chunked(text: string, size: number, bytes = false): (string | Buffer)[] {
  const out: (string | Buffer)[] = [];
  if (bytes) {
    const buf = Buffer.from(text, 'utf8');
    for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  } else {
    for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  }
  return out;
}

const a = { event_type: 'Sign Up', user_id: 'ann@example.com', event_properties: { note: 'brackets ] } [ { and "quotes" \\ here', emoji: 'é😀' } };
const b = { event_type: 'Order Completed', user_id: 'bob@example.com' };

describe('readJsonEvents', () => {
  it('reads JSON lines with blank lines, CRLF and a byte order mark, numbering lines', async () => {
    const items = await collect([`\uFEFF${JSON.stringify(a)}\r\n\n${JSON.stringify(b)}\n`]);
    expect(items).toEqual([
      { line: 1, value: a },
      { line: 3, value: b },
    ]);
  });

  it('reports a bad line and goes on with the next', async () => {
    const items = await collect([`${JSON.stringify(a)}\n{"event_type": \n${JSON.stringify(b)}`]);
    expect(items[0]).toEqual({ line: 1, value: a });
    expect(items[1]).toMatchObject({ line: 2 });
    expect((items[1] as { error: string }).error).toMatch(/^invalid JSON: /);
    expect(items[2]).toEqual({ line: 3, value: b });
  });

  it('reads a pretty-printed array, whatever the chunk boundaries (also inside UTF-8 characters)', async () => {
    const text = `\n  ${JSON.stringify([a, b, a], null, 2)}\n`;
    for (const size of [1, 2, 3, 7, 64]) {
      for (const bytes of [false, true]) {
        const items = await collect(chunked(text, size, bytes));
        expect(items.map((i) => ('value' in i ? i.value : i))).toEqual([a, b, a]);
      }
    }
    const items = await collect([text]);
    expect(items.map((i) => i.line)).toEqual([3, 11, 15]) // a spans 8 lines, b 4;
  });

  it('reads several arrays and objects one after another, and scalar elements', async () => {
    const items = await collect([`[${JSON.stringify(a)}]\n${JSON.stringify(b)}\n[1, "x", null]`]);
    expect(items.map((i) => ('value' in i ? i.value : 'error'))).toEqual([a, b, 1, 'x', null]);
  });

  it('reports a broken element of an array and goes on; broken structure ends the input', async () => {
    const items = await collect(['[{"event_type": "A" "B"},\n', JSON.stringify(b), ']']);
    expect('error' in items[0]!).toBe(true);
    expect(items[1]).toEqual({ line: 2, value: b });

    const fatal = await collect(['[{"a":1}]]', JSON.stringify(b)]);
    expect(fatal).toHaveLength(2);
    expect(fatal[1]).toMatchObject({ fatal: true });

    const unclosed = await collect(['[{"a":1}, {"b":']);
    expect(unclosed.at(-1)).toMatchObject({ fatal: true, error: 'invalid JSON: unexpected end of input inside a value' });
  });

  it('reads one big Buffer (decoded in 64 KiB slices) exactly as the same bytes in small chunks', async () => {
    // ~400 KiB of lines whose multi-byte characters land on every slice boundary sooner or later.
    const lines = Array.from({ length: 2_000 }, (_, i) => JSON.stringify({ ...a, insert_id: `id-${i}`, pad: 'é'.repeat(i % 97) }));
    const text = `${lines.join('\n')}\n`;
    const big = await collect([Buffer.from(text, 'utf8')]);
    expect(Buffer.byteLength(text)).toBeGreaterThan(6 * 64 * 1024);
    expect(big).toEqual(await collect(chunked(text, 4096, true)));
    expect(big).toHaveLength(2_000);
    expect(big[1_999]).toEqual({ line: 2_000, value: JSON.parse(lines[1_999]!) });

    // An array whose structure breaks in the first slice ends the input there.
    const broken = `[${JSON.stringify(a)}]]\n${lines.join('\n')}`;
    const items = await collect([Buffer.from(broken, 'utf8')]);
    expect(items).toHaveLength(2);
    expect(items[1]).toMatchObject({ fatal: true });
  });

  it('yields nothing for empty input', async () => {
    expect(await collect([])).toEqual([]);
    expect(await collect(['\n  \n'])).toEqual([]);
  });
});
