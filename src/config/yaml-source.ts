/**
 * YAML files with their source positions: parse (YAML 1.2 core schema, unique keys), convert to
 * plain prototype-safe JS values with an alias budget, and map any value path — or any character
 * inside a scalar — back to `line:col` in the file.
 */
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, Scalar } from 'yaml';
import type { Diagnostic, RuleId } from './diagnostics.js';
import type { NodePath, SourcePosition } from './model.js';

/** Most alias references (`*name`) one file may use. Real configs need a handful. */
export const MAX_ALIAS_COUNT = 100;
/** Most nodes that alias references may expand to in one file (billion-laughs guard). */
export const MAX_ALIAS_EXPANSION = 10_000;
/** Deepest nesting of lists and maps; keeps every later recursive pass (ajv, walks) shallow. */
export const MAX_DEPTH = 100;

export interface SourceFile {
  /** Absolute path. */
  file: string;
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** The node holding the config: the document root, or `package.json`'s `extole` value. */
  rootNode: YamlNode | null;
  /** Plain JS value of `rootNode` (prototype-safe), or undefined when the file is unusable. */
  value: unknown;
  /** yaml-syntax, duplicate-key and alias-limit problems. */
  diagnostics: Diagnostic[];
  /** Syntax errors or an alias bomb: the value must not be validated further. */
  fatal: boolean;
}

/** Parses YAML (or JSON) text; `packageProp` selects a key of the document root as the config. */
export function parseSource(file: string, text: string, opts: { packageProp?: string } = {}): SourceFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    version: '1.2',
    schema: 'core',
    // Keys must be unique, but yaml's own check (`uniqueKeys: true`) compares every key with
    // every other one: quadratic, 13 s for a 20,000-key map. The converter checks with a Set.
    uniqueKeys: false,
    prettyErrors: false,
    // Merge keys (`<<`) are a YAML 1.1 feature; in 1.2 core they are ordinary (unknown) keys.
    merge: false,
  });
  const source: SourceFile = { file, text, doc, lineCounter, rootNode: doc.contents, value: undefined, diagnostics: [], fatal: false };
  const diag = (offset: number, rule: RuleId, message: string): void => {
    source.diagnostics.push({ file, ...linePos(source, offset), severity: 'error', message, rule });
  };
  for (const error of doc.errors) {
    const message = cleanYamlMessage(error.message);
    diag(error.pos[0], 'yaml-syntax', message);
    source.fatal = true;
  }
  if (source.fatal) return source;

  if (opts.packageProp !== undefined) {
    const contents = doc.contents;
    source.rootNode = isMap(contents) ? findPair(contents, opts.packageProp)?.value as YamlNode ?? null : null;
  }
  const converter = new Converter(doc, (offset) => linePos(source, offset).line);
  try {
    source.value = converter.convert(source.rootNode);
  } catch (err) {
    if (!(err instanceof ConversionError)) throw err;
    diag(err.offset, err.rule, err.message);
    source.fatal = true;
    source.value = undefined;
  }
  for (const problem of converter.problems) diag(problem.offset, problem.rule, problem.message);
  return source;
}

/** 1-based line/col of a character offset in the file. */
export function linePos(source: Pick<SourceFile, 'lineCounter'>, offset: number): { line: number; col: number } {
  const { line, col } = source.lineCounter.linePos(Math.max(0, offset));
  return { line, col };
}

/** The node at `path` under the config root (aliases followed), or the nearest existing parent. */
export function nodeAt(source: SourceFile, path: NodePath): { node: YamlNode | null; keyNode?: YamlNode; exact: boolean } {
  let node: YamlNode | null = source.rootNode;
  let keyNode: YamlNode | undefined;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    const current = resolveAlias(source.doc, node);
    if (isMap(current)) {
      const pair = findPair(current, String(segment));
      if (!pair) return { node: current, exact: false };
      keyNode = pair.key as YamlNode;
      node = (pair.value as YamlNode | null) ?? null;
      // `key:` with no value: the key is the best position we have.
      if (!node) return { node: keyNode, keyNode, exact: i === path.length - 1 };
    } else if (isSeq(current) && /^\d+$/.test(String(segment))) {
      const item = (current as { items: unknown[] }).items[Number(segment)] as YamlNode | undefined;
      if (!item) return { node: current, exact: false };
      keyNode = undefined;
      node = item;
    } else {
      return { node: current, exact: false };
    }
  }
  return { node, keyNode, exact: true };
}

/** Position of the value at `path` (falls back to the nearest existing parent, then 1:1). */
export function locate(source: SourceFile, path: NodePath): SourcePosition {
  const { node } = nodeAt(source, path);
  return { file: source.file, ...linePos(source, node?.range?.[0] ?? 0) };
}

/** Position of the KEY of the last segment of `path` (for unknown/duplicate keys), else of its value. */
export function locateKey(source: SourceFile, path: NodePath): SourcePosition {
  const found = nodeAt(source, path);
  const node = found.exact && found.keyNode ? found.keyNode : found.node;
  return { file: source.file, ...linePos(source, node?.range?.[0] ?? 0) };
}

/**
 * For a scalar node, maps each character index of its (parsed) string value to the offset in the
 * file where that character comes from; index `value.length` maps just past the last character.
 * Handles plain, single- and double-quoted (escapes, folded lines) and block (| and >) scalars.
 */
export function scalarOffsets(text: string, node: Scalar): number[] {
  const value = String(node.value);
  const [start, end] = [node.range?.[0] ?? 0, node.range?.[1] ?? 0];
  const seq = scalarSourceChars(text, start, end, node.type);
  const map: number[] = new Array<number>(value.length + 1);
  let j = 0;
  let last = start - 1;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    while (j < seq.length) {
      const s = seq[j]!;
      if (s.ch === ch || (ch === ' ' && s.ch === '\n')) break;
      j++; // a source character folded away (line break, indentation, escape remainder)
    }
    if (j < seq.length) {
      last = seq[j]!.off;
      j++;
    } else {
      last = last + 1;
    }
    map[i] = last;
  }
  map[value.length] = value.length === 0 ? start : last + 1;
  return map;
}

interface SourceChar { ch: string; off: number }

/** The characters a scalar's source contributes, before line folding, each with its offset. */
function scalarSourceChars(text: string, start: number, end: number, type: Scalar['type']): SourceChar[] {
  const out: SourceChar[] = [];
  if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') {
    // Header line (`|-`, `>+2`, comment) first; content lines follow with their indentation.
    const headerEnd = text.indexOf('\n', start);
    if (headerEnd < 0 || headerEnd >= end) return out;
    const lines = splitLines(text, headerEnd + 1, end);
    const firstContent = lines.find((l) => l.text.trim() !== '');
    const indent = firstContent ? firstContent.text.length - firstContent.text.trimStart().length : 0;
    for (const line of lines) {
      const strip = Math.min(indent, line.text.length - line.text.trimStart().length);
      for (let k = strip; k < line.text.length; k++) out.push({ ch: line.text[k]!, off: line.start + k });
      out.push({ ch: '\n', off: line.start + line.text.length });
    }
    return out;
  }
  const quoted = type === 'QUOTE_SINGLE' || type === 'QUOTE_DOUBLE';
  const lines = splitLines(text, quoted ? start + 1 : start, quoted ? Math.max(start + 1, end - 1) : end);
  lines.forEach((line, index) => {
    let from = 0;
    let to = line.text.length;
    // Flow scalars fold: continuation lines lose leading, broken lines lose trailing whitespace.
    if (index > 0) while (from < to && (line.text[from] === ' ' || line.text[from] === '\t')) from++;
    if (index < lines.length - 1) while (to > from && (line.text[to - 1] === ' ' || line.text[to - 1] === '\t')) to--;
    for (let k = from; k < to; k++) {
      const ch = line.text[k]!;
      const off = line.start + k;
      if (type === 'QUOTE_SINGLE' && ch === "'" && line.text[k + 1] === "'") {
        out.push({ ch: "'", off });
        k++;
      } else if (type === 'QUOTE_DOUBLE' && ch === '\\') {
        const { decoded, length } = decodeEscape(line.text, k);
        for (const d of decoded) out.push({ ch: d, off });
        k += length - 1;
      } else {
        out.push({ ch, off });
      }
    }
    if (index < lines.length - 1) out.push({ ch: '\n', off: line.start + line.text.length });
  });
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '0': '\0', a: '\x07', b: '\b', t: '\t', '\t': '\t', n: '\n', v: '\v', f: '\f', r: '\r', e: '\x1b',
  ' ': ' ', '"': '"', '/': '/', '\\': '\\', N: '\u0085', _: '\u00a0', L: '\u2028', P: '\u2029',
};

/** Decodes a double-quoted escape starting at `text[k] === '\\'`. */
function decodeEscape(text: string, k: number): { decoded: string; length: number } {
  const c = text[k + 1];
  if (c === undefined) return { decoded: '', length: 1 }; // escaped line break: folds to nothing
  const hexLength = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
  if (hexLength) {
    const code = Number.parseInt(text.slice(k + 2, k + 2 + hexLength), 16);
    return { decoded: Number.isFinite(code) ? String.fromCodePoint(code) : '', length: 2 + hexLength };
  }
  return { decoded: SIMPLE_ESCAPES[c] ?? c, length: 2 };
}

function splitLines(text: string, from: number, to: number): { start: number; text: string }[] {
  const lines: { start: number; text: string }[] = [];
  let lineStart = from;
  for (let i = from; i <= to; i++) {
    if (i === to || text[i] === '\n') {
      let lineText = text.slice(lineStart, i);
      if (lineText.endsWith('\r')) lineText = lineText.slice(0, -1);
      lines.push({ start: lineStart, text: lineText });
      lineStart = i + 1;
    }
  }
  // A trailing newline (block scalars end with one) does not start another line.
  if (lines.length > 1 && lines[lines.length - 1]!.text === '' && text[to - 1] === '\n') lines.pop();
  return lines;
}

function findPair(map: { items: unknown[] }, key: string): { key: unknown; value: unknown } | undefined {
  for (const pair of map.items) {
    if (isPair(pair) && keyString(pair.key) === key) return pair as { key: unknown; value: unknown };
  }
  return undefined;
}

function keyString(key: unknown): string | undefined {
  if (key === null || key === undefined) return '';
  if (isScalar(key)) return key.value === null ? '' : String(key.value);
  return undefined;
}

function resolveAlias(doc: Document.Parsed, node: YamlNode | null): YamlNode | null {
  let current = node;
  for (let hops = 0; isAlias(current) && hops < 10; hops++) current = (current.resolve(doc) as YamlNode | undefined) ?? null;
  return current;
}

/** yaml's messages end with " at line L, column C:" plus a snippet; we print our own position. */
function cleanYamlMessage(message: string): string {
  const cut = message.search(/ at line \d+, column \d+/);
  return (cut >= 0 ? message.slice(0, cut) : message).trim();
}

class ConversionError extends Error {
  constructor(readonly offset: number, readonly rule: RuleId, message: string) {
    super(message);
  }
}

/**
 * AST → plain JS. Objects are built with `Object.defineProperty`, so a `__proto__` or
 * `constructor` key is an ordinary own property and never touches a prototype. Aliases are
 * expanded (copies, not shared objects) under a count and size budget.
 */
class Converter {
  readonly problems: { offset: number; rule: RuleId; message: string }[] = [];
  /** Key nodes already reported as duplicates (an aliased map is converted more than once). */
  private readonly reportedDuplicates = new Set<unknown>();
  private aliasCount = 0;
  private aliasExpansion = 0;
  private readonly sizes = new Map<unknown, number>();
  private readonly active = new Set<unknown>();
  /** Offset of the outermost alias being expanded, if any. */
  private expanding: number | undefined;

  constructor(private readonly doc: Document.Parsed, private readonly lineOf: (offset: number) => number) {}

  convert(node: unknown): unknown {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const offset = node.range?.[0] ?? 0;
      const target = node.resolve(this.doc);
      if (!target) {
        this.problems.push({ offset, rule: 'yaml-syntax', message: `unknown alias '*${node.source}' (no anchor '&${node.source}' before it)` });
        return null;
      }
      // Report at the alias written where the expansion starts, not one nested inside an anchor.
      const reportAt = this.expanding ?? offset;
      if (this.active.has(target)) throw new ConversionError(reportAt, 'alias-limit', `alias '*${node.source}' refers to a node that contains it`);
      this.aliasCount++;
      this.aliasExpansion += this.size(target);
      if (this.aliasCount > MAX_ALIAS_COUNT || this.aliasExpansion > MAX_ALIAS_EXPANSION) {
        throw new ConversionError(reportAt, 'alias-limit',
          `too many aliases: at most ${MAX_ALIAS_COUNT} alias references expanding to at most ${MAX_ALIAS_EXPANSION} nodes are allowed (a YAML alias bomb?)`);
      }
      const outermost = this.expanding === undefined;
      if (outermost) this.expanding = offset;
      try {
        return this.convert(target);
      } finally {
        if (outermost) this.expanding = undefined;
      }
    }
    if (isScalar(node)) return node.value ?? null;
    if (this.active.size >= MAX_DEPTH) {
      throw new ConversionError((node as YamlNode).range?.[0] ?? 0, 'yaml-syntax', `lists and maps are nested more than ${MAX_DEPTH} levels deep`);
    }
    this.active.add(node);
    try {
      if (isMap(node)) {
        const out: Record<string, unknown> = {};
        const seen = new Map<string, YamlNode | null>();
        for (const pair of node.items) {
          const key = keyString(pair.key);
          const keyNode = pair.key as YamlNode | null;
          if (key === undefined) {
            this.problems.push({ offset: keyNode?.range?.[0] ?? 0, rule: 'yaml-syntax', message: 'keys must be plain scalars, not lists or maps' });
            continue;
          }
          if (seen.has(key) && !this.reportedDuplicates.has(keyNode)) {
            this.reportedDuplicates.add(keyNode);
            const first = seen.get(key)?.range?.[0];
            const firstLine = first === undefined ? undefined : this.lineOf(first);
            this.problems.push({
              offset: keyNode?.range?.[0] ?? 0, rule: 'duplicate-key',
              message: `duplicate key '${key}'${firstLine ? ` (first at line ${firstLine})` : ''}: keys must be unique`,
            });
          }
          seen.set(key, keyNode);
          Object.defineProperty(out, key, { value: this.convert(pair.value), enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      if (isSeq(node)) return node.items.map((item) => this.convert(item));
    } finally {
      this.active.delete(node);
    }
    return null;
  }

  /** Nodes a node expands to, aliases included (memoized, so a bomb is measured, not expanded). */
  private size(node: unknown): number {
    const known = this.sizes.get(node);
    if (known !== undefined) return known;
    this.sizes.set(node, Infinity); // a cycle counts as unbounded
    let total = 1;
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      total = target ? this.size(target) : 1;
    } else if (isMap(node)) {
      for (const pair of node.items) total += 1 + this.size(pair.value);
    } else if (isSeq(node)) {
      for (const item of node.items) total += this.size(item);
    }
    total = Math.min(total, Number.MAX_SAFE_INTEGER);
    this.sizes.set(node, total);
    return total;
  }
}
