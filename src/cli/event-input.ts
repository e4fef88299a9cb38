/**
 * Reading events for `transform` (and any other command that takes event files): JSON lines,
 * or one JSON array, streamed so a file of a million events never sits in memory whole.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** One input item: a parsed value, or why it could not be parsed. `line` is 1-based. */
export type InputItem = { line: number; value: unknown } | { line: number; error: string; fatal?: boolean };

/**
 * Parse the events in `input`, one item at a time, in input order.
 *
 * The format is chosen by the first non-blank character:
 * - `[`: one JSON array (any formatting, may span lines; several arrays or objects may follow
 *   one another). Elements are cut out by a bracket scanner and parsed one by one. A broken
 *   element is an error item and the scan goes on; broken structure (e.g. a stray `}`) is a
 *   fatal error item that ends the input.
 * - anything else: JSON lines, one value per line; blank lines are skipped; a line that is not
 *   JSON is an error item and the next line is read as usual.
 */
export async function* readJsonEvents(input: AsyncIterable<Buffer | string> | Readable): AsyncGenerator<InputItem> {
  for await (const batch of readJsonEventBatches(input)) yield* batch;
}

/**
 * {@link readJsonEvents}, one array of items per chunk of input (possibly empty), for callers that
 * handle many small events: one await per chunk instead of one per event.
 */
export async function* readJsonEventBatches(input: AsyncIterable<Buffer | string> | Readable): AsyncGenerator<InputItem[]> {
  const decoder = new StringDecoder('utf8');
  let mode = 'unknown' as 'unknown' | 'lines' | 'array'; // set inside itemsOf
  const lines = new LineSplitter();
  const scanner = new JsonScanner();
  let first = true;

  /** The items of the next piece of text; undefined while the input is blank so far. */
  const itemsOf = (piece: string): InputItem[] | undefined => {
    let text = piece;
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // UTF-8 byte order mark
      first = false;
    }
    if (mode === 'unknown') {
      const m = /\S/.exec(text);
      if (m === null) {
        lines.push(text, []); // only blank so far: keep counting lines
        return undefined;
      }
      mode = m[0] === '[' ? 'array' : 'lines';
      if (mode === 'array') {
        scanner.line = lines.line; // lines already seen (all blank)
        text = lines.takeRest() + text;
      }
    }
    const items: InputItem[] = [];
    if (mode === 'array') scanner.push(text, items);
    else lines.push(text, items);
    return items;
  };

  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    for (const text of decodedPieces(decoder, chunk)) {
      const items = itemsOf(text);
      if (items === undefined) continue;
      yield items;
      if (scanner.failed) return;
    }
  }
  const rest = decoder.end();
  const items: InputItem[] = [];
  if (mode === 'array') {
    scanner.push(rest, items);
    if (!scanner.failed) scanner.end(items);
  } else {
    lines.push(rest, items);
    lines.end(items);
  }
  yield items;
}

/**
 * Input bytes decoded into one string at a time. V8 allocates a string over 128 KiB in its
 * large-object space (an mmap and munmap each): decoding 1 MiB reads whole cost 0.2-0.4 s of
 * system time on 86 MB of input on the 2-core VM, 64 KiB slices about nothing.
 */
const DECODE_SLICE_BYTES = 64 * 1024;

/** The text of one input chunk: a string as it is, bytes decoded a slice at a time. */
function* decodedPieces(decoder: StringDecoder, chunk: Buffer | string): Generator<string> {
  if (typeof chunk === 'string') {
    yield chunk;
    return;
  }
  for (let at = 0; at < chunk.length; at += DECODE_SLICE_BYTES) yield decoder.write(chunk.subarray(at, at + DECODE_SLICE_BYTES));
}

function parse(text: string, line: number): InputItem {
  try {
    return { line, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { line, error: `invalid JSON: ${(err as Error).message}` };
  }
}

/** True when `text` has a character other than JSON whitespace (or other Unicode space, as /\S/). */
function isNotBlank(text: string): boolean {
  // A JSON line almost always starts with `{`: decide on the first character before the regex.
  const c = text.charCodeAt(0);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) return true;
  return /\S/.test(text);
}

/** JSON lines: cut at `\n`, parse each non-blank line. */
class LineSplitter {
  /** Number of the line `pending` belongs to. */
  line = 1;
  private pending = '';

  /** Parse the complete lines of `text` into `items`; keep the unterminated rest. */
  push(text: string, items: InputItem[]): void {
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      const lineText = this.pending === '' ? text.slice(start, nl) : this.pending + text.slice(start, nl);
      this.pending = '';
      if (isNotBlank(lineText)) items.push(parse(lineText, this.line));
      this.line++;
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    this.pending += text.slice(start);
  }

  end(items: InputItem[]): void {
    if (isNotBlank(this.pending)) items.push(parse(this.pending, this.line));
    this.pending = '';
  }

  /** Hand back the unterminated text (used when the format turns out to be an array). */
  takeRest(): string {
    const rest = this.pending;
    this.pending = '';
    return rest;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * A bracket scanner over a stream of JSON text: top-level arrays are flattened into their
 * elements; top-level objects are elements themselves. Strings are skipped with their escapes,
 * so brackets inside them do not count.
 */
class JsonScanner {
  line = 1;
  failed = false;
  private buf = '';
  private pos = 0;
  private depth = 0;
  private inString = false;
  private escape = false;
  private inTopArray = false;
  private elementStart = -1;
  private elementLine = 0;
  private elementIsScalar = false;

  push(text: string, items: InputItem[]): void {
    this.buf += text;
    const buf = this.buf;
    for (; this.pos < buf.length; this.pos++) {
      const c = buf.charCodeAt(this.pos);
      if (c === NEWLINE) this.line++;
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === BACKSLASH) this.escape = true;
        else if (c === QUOTE) this.inString = false;
        continue;
      }
      const base = this.inTopArray ? 1 : 0;
      if (this.elementStart >= 0 && this.elementIsScalar && this.depth === base) {
        // A scalar element ends at whitespace, a comma or the closing bracket.
        if (isSpace(c) || c === COMMA || c === CLOSE_BRACKET || c === OPEN_BRACE || c === OPEN_BRACKET) {
          items.push(this.complete(this.pos));
        }
      }
      if (isSpace(c)) continue;
      if (this.elementStart < 0) {
        if (this.depth === 0 && !this.inTopArray && c === OPEN_BRACKET) {
          this.inTopArray = true;
          this.depth = 1;
          continue;
        }
        if (this.inTopArray && this.depth === 1 && c === COMMA) continue;
        if (this.inTopArray && this.depth === 1 && c === CLOSE_BRACKET) {
          this.inTopArray = false;
          this.depth = 0;
          continue;
        }
        if (c === CLOSE_BRACE || c === CLOSE_BRACKET || c === COMMA) {
          items.push(this.fail(`unexpected "${String.fromCharCode(c)}"`));
          return;
        }
        this.elementStart = this.pos;
        this.elementLine = this.line;
        this.elementIsScalar = c !== OPEN_BRACE && c !== OPEN_BRACKET;
      }
      if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        this.depth--;
        if (this.depth < base) {
          items.push(this.fail(`unexpected "${String.fromCharCode(c)}"`));
          return;
        }
        if (this.depth === base && !this.elementIsScalar) items.push(this.complete(this.pos + 1));
      }
    }
    // Keep only what the next chunk still needs.
    const keepFrom = this.elementStart >= 0 ? this.elementStart : this.pos;
    this.buf = this.buf.slice(keepFrom);
    this.pos -= keepFrom;
    if (this.elementStart >= 0) this.elementStart -= keepFrom;
  }

  end(items: InputItem[]): void {
    if (this.elementStart >= 0) {
      if (this.elementIsScalar && this.depth === (this.inTopArray ? 1 : 0)) items.push(this.complete(this.buf.length));
      else {
        items.push(this.fail('unexpected end of input inside a value', this.elementLine));
        return;
      }
    }
    if (this.inTopArray) items.push(this.fail('unexpected end of input: the array is not closed'));
  }

  private complete(end: number): InputItem {
    const item = parse(this.buf.slice(this.elementStart, end), this.elementLine);
    this.elementStart = -1;
    return item;
  }

  private fail(message: string, line = this.line): InputItem {
    this.failed = true;
    return { line, error: `invalid JSON: ${message}`, fatal: true };
  }
}
