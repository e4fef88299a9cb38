/** Helpers for the CLI tests: a copy of the example config to break, and a strict little XML reader. */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A temp folder holding a copy of the repository's example config (root file, destinations, samples). */
export function copyExampleConfig(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'extole-stream-cli-'));
  cpSync(path.join(REPO_ROOT, 'extole.config.yaml'), path.join(dir, 'extole.config.yaml'));
  cpSync(path.join(REPO_ROOT, 'destinations'), path.join(dir, 'destinations'), { recursive: true });
  cpSync(path.join(REPO_ROOT, 'samples'), path.join(dir, 'samples'), { recursive: true });
  return dir;
}

/** Replace `from` (which must occur) in a file. */
export function editFile(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not contain ${JSON.stringify(from)}`);
  writeFileSync(file, text.replace(from, to));
}

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(text)) throw new Error(`bare & in ${JSON.stringify(text)}`);
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ENTITIES[e]!,
  );
}

/**
 * Parse a small XML document strictly enough to catch what a reporter could get wrong:
 * unbalanced tags, unescaped `<` or `&`, bad attribute quoting, characters XML forbids.
 */
export function parseXml(xml: string): XmlElement {
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(xml)) throw new Error('control character in XML');
  let i = 0;
  const prolog = /^<\?xml [^?]*\?>\s*/.exec(xml);
  if (prolog) i = prolog[0].length;
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  while (i < xml.length) {
    const top = stack[stack.length - 1]!;
    if (xml[i] === '<') {
      if (xml[i + 1] === '/') {
        const m = /^<\/([\w:-]+)\s*>/.exec(xml.slice(i));
        if (!m || m[1] !== top.name) throw new Error(`unexpected closing tag at ${i}`);
        stack.pop();
        i += m[0].length;
        continue;
      }
      const m = /^<([\w:-]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/.exec(xml.slice(i));
      if (!m) throw new Error(`bad tag at ${i}: ${xml.slice(i, i + 40)}`);
      const attrs: Record<string, string> = {};
      for (const a of m[2]!.matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]!] = decode(a[2]!);
      const el: XmlElement = { name: m[1]!, attrs, children: [], text: '' };
      top.children.push(el);
      if (m[3] !== '/') stack.push(el);
      i += m[0].length;
      continue;
    }
    const next = xml.indexOf('<', i);
    const raw = xml.slice(i, next === -1 ? xml.length : next);
    top.text += decode(raw);
    i = next === -1 ? xml.length : next;
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (root.children.length !== 1 || root.text.trim() !== '') throw new Error('not exactly one root element');
  return root.children[0]!;
}
