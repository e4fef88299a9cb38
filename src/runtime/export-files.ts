/**
 * Reading Amplitude Export files for `replay`: JSON lines, plain, gzipped (`.gz`, zlib
 * streams) or zipped (`.zip`, fflate's streaming unzip; every entry, and entries that are
 * themselves `.json.gz`, as Amplitude's Export API delivers them). Lines are yielded as they
 * are decoded, so a multi-gigabyte export never sits in memory, and reading waits while the
 * consumer enqueues (back-pressure through the async generator).
 */
import { createReadStream, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Gunzip, Unzip, UnzipInflate } from 'fflate';

/** One non-empty line of an export file. */
export interface ExportLine {
  text: string;
  /** 1-based line number within the file (or within the zip entry). */
  line: number;
  /** Zip entry name, or null for plain and gzipped files. */
  entry: string | null;
}

/** Progress callback: compressed bytes read so far and the file's size. */
export type ProgressCallback = (bytesRead: number, totalBytes: number) => void;

/** Splits decoded text into lines across chunk boundaries. */
class LineSplitter {
  private rest = '';
  push(text: string): string[] {
    const joined = this.rest + text;
    const parts = joined.split('\n');
    this.rest = parts.pop() ?? '';
    return parts;
  }
  end(): string[] {
    const last = this.rest;
    this.rest = '';
    return last === '' ? [] : [last];
  }
}

function clean(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** The kind of an export file, by its name. */
export function exportFileKind(file: string): 'zip' | 'gzip' | 'plain' {
  const lower = file.toLowerCase();
  if (lower.endsWith('.zip')) return 'zip';
  if (lower.endsWith('.gz')) return 'gzip';
  return 'plain';
}

/** Yield every non-empty line of `file`. Throws (rejects) on I/O or decompression errors. */
export async function* readExportLines(file: string, onProgress?: ProgressCallback): AsyncGenerator<ExportLine> {
  const total = statSync(file).size;
  const kind = exportFileKind(file);
  if (kind === 'zip') {
    yield* readZip(file, total, onProgress);
    return;
  }
  const input = createReadStream(file);
  let bytes = 0;
  input.on('data', (chunk) => {
    bytes += chunk.length;
    onProgress?.(bytes, total);
  });
  let source: NodeJS.ReadableStream = input;
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    input.on('error', (err) => gunzip.destroy(err));
    source = input.pipe(gunzip);
  }
  const decoder = new TextDecoder();
  const splitter = new LineSplitter();
  let lineNo = 0;
  for await (const chunk of source) {
    for (const line of splitter.push(decoder.decode(chunk as Buffer, { stream: true }))) {
      lineNo++;
      const text = clean(line);
      if (text.trim() !== '') yield { text, line: lineNo, entry: null };
    }
  }
  for (const line of splitter.push(decoder.decode()).concat(splitter.end())) {
    lineNo++;
    const text = clean(line);
    if (text.trim() !== '') yield { text, line: lineNo, entry: null };
  }
}

async function* readZip(file: string, total: number, onProgress?: ProgressCallback): AsyncGenerator<ExportLine> {
  let pending: ExportLine[] = [];
  let failure: Error | null = null;
  const unzip = new Unzip((entry) => {
    if (entry.name.endsWith('/')) return; // a folder
    const name = entry.name;
    const decoder = new TextDecoder();
    const splitter = new LineSplitter();
    let lineNo = 0;
    const emit = (lines: string[]): void => {
      for (const line of lines) {
        lineNo++;
        const text = clean(line);
        if (text.trim() !== '') pending.push({ text, line: lineNo, entry: name });
      }
    };
    const onText = (data: Uint8Array, final: boolean): void => {
      emit(splitter.push(decoder.decode(data, { stream: !final })));
      if (final) emit(splitter.end());
    };
    // Amplitude's Export API zips hourly `.json.gz` files: inflate those too.
    const gunzip = name.toLowerCase().endsWith('.gz') ? new Gunzip((data, final) => onText(data, final)) : null;
    entry.ondata = (err, data, final) => {
      if (err) {
        failure = new Error(`${file}: cannot unzip ${name}: ${err.message}`);
        return;
      }
      try {
        if (gunzip) gunzip.push(data, final);
        else onText(data, final);
      } catch (e) {
        failure = new Error(`${file}: cannot decompress ${name}: ${(e as Error).message}`);
      }
    };
    entry.start();
  });
  unzip.register(UnzipInflate);
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    bytes += (chunk as Buffer).length;
    onProgress?.(bytes, total);
    try {
      unzip.push(chunk as Buffer);
    } catch (e) {
      throw new Error(`${file}: not a readable zip file: ${(e as Error).message}`);
    }
    if (failure) throw failure;
    if (pending.length > 0) {
      const ready = pending;
      pending = [];
      yield* ready;
    }
  }
  unzip.push(new Uint8Array(0), true);
  if (failure) throw failure;
  yield* pending;
}
