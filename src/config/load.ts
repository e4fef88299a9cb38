/**
 * Loading a config: find the root file → parse every file with positions → check and resolve
 * secrets → validate against the schemas → cross-file and JSONata checks. Pure: reads only the
 * config files, secret files and `env`; the same code serves CI commands, `serve` and reload.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, relative, resolve } from 'node:path';
import { glob } from 'tinyglobby';
import { isScalar } from 'yaml';
import type { Destination } from '../generated/destination.js';
import type { ExtoleConfig } from '../generated/extole-config.js';
import type { Diagnostic, RuleId, Severity } from './diagnostics.js';
import { ConfigNotFoundError } from './errors.js';
import { findConfigFile } from './find.js';
import { checkExpression } from './jsonata-check.js';
import type { LoadedConfig, LoadedDestination, LoadedProject, NodePath } from './model.js';
import { addDefaultObjects, isPlainObject, walkWithSchema } from './schema-walk.js';
import { pathLabel, validateAgainstSchema } from './schema-validate.js';
import { loadSchema } from './schemas.js';
import { redactionTexts, redactorFor, scanSecrets } from './secrets.js';
import type { ResolvedSecret } from './secrets.js';
import { linePos, locate, locateKey, nodeAt, parseSource, scalarOffsets } from './yaml-source.js';
import type { SourceFile } from './yaml-source.js';

/**
 * Config files larger than this are refused before parsing. Real configs are KBs; the yaml
 * parser needs about 3 s per MB of dense YAML, so a larger cap would make a stray file slow.
 */
export const MAX_CONFIG_FILE_BYTES = 1_000_000;

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** `--config PATH` (file or folder), relative to `cwd`; otherwise cosmiconfig searches from `cwd`. */
  configPath?: string;
  cwd: string;
  /** Where `${env:NAME}` references are looked up. */
  env: NodeJS.ProcessEnv;
}

/**
 * Loads, validates and resolves the config. Never throws for an invalid config: every problem
 * is a diagnostic and `ok` is false. Throws {@link ConfigNotFoundError} when no root file is
 * found or it cannot be read.
 */
export async function loadConfig(opts: LoadConfigOptions): Promise<LoadedConfig> {
  const found = await findConfigFile(opts);
  const rootFile = found.file;
  const rootDir = dirname(rootFile);
  const diagnostics: Diagnostic[] = [];
  const secrets: ResolvedSecret[] = [];
  const hashed: { file: string; content: string }[] = [];

  const rootRead = await readConfigFile(rootFile, { packageProp: found.packageProp, isRoot: true });
  hashed.push({ file: rootFile, content: rootRead.content });
  diagnostics.push(...rootRead.diagnostics);
  const rootSource = rootRead.source;
  if (rootSource && !rootSource.fatal && found.packageProp !== undefined && rootSource.rootNode === null) {
    diagnostics.push(diag(rootFile, 1, 1, 'error', 'no-config', `package.json has no "${found.packageProp}" key`));
  }

  let root = {} as ExtoleConfig;
  let projectKeys: Set<string> | undefined;
  const destinations: LoadedDestination[] = [];
  const rootSecrets: ResolvedSecret[] = [];

  const noPackageKey = found.packageProp !== undefined && rootSource?.rootNode === null;
  if (rootSource && !rootSource.fatal && !noPackageKey) {
    const checked = await checkFile(rootSource, 'extole-config', { rootDir, env: opts.env });
    diagnostics.push(...checked.diagnostics);
    rootSecrets.push(...checked.secrets);
    root = checked.withDefaults as ExtoleConfig;
    const rawRoot = rootSource.value;
    projectKeys = projectKeysOf(rootSource, rawRoot, diagnostics);

    const globs = isPlainObject(root) ? patternsOf(root.destinations) : undefined;
    if (globs) {
      const files = (await glob(globs, { cwd: rootDir, absolute: true, onlyFiles: true, expandDirectories: false }))
        .map((f) => resolve(f))
        .filter((f) => f !== rootFile)
        .sort();
      if (files.length === 0) {
        const at = locate(rootSource, ['destinations']);
        diagnostics.push(diag(rootFile, at.line, at.col, 'error', 'no-destinations', `no destination files match ${globs.map((g) => `'${g}'`).join(', ')} (relative to the folder of ${basename(rootFile)})`));
      }
      for (const file of files) {
        const loaded = await loadDestination(file, { rootDir, env: opts.env, projectKeys });
        hashed.push({ file, content: loaded.content });
        diagnostics.push(...loaded.diagnostics);
        secrets.push(...loaded.secrets);
        if (loaded.destination) destinations.push(loaded.destination);
      }
    }
  }

  // Names must be unique: the second (in file order) of two equal names is the error.
  const byName = new Map<string, LoadedDestination>();
  for (const destination of destinations) {
    const first = byName.get(destination.name);
    if (!first) {
      byName.set(destination.name, destination);
      continue;
    }
    const at = destination.locate(['name']);
    diagnostics.push(diag(destination.file, at.line, at.col, 'error', 'duplicate-destination',
      `destination name '${destination.name}' is already used by ${relative(rootDir, first.file)}`));
  }

  const allSecrets = [...rootSecrets, ...secrets];
  const projects: LoadedProject[] = (isPlainObject(root) && Array.isArray(root.projects) ? root.projects : [])
    .filter((p): p is ExtoleConfig['projects'][number] => isPlainObject(p) && typeof p.key === 'string')
    .map((p) => ({ key: p.key, apiKey: secretAt(rootSecrets, ['projects', (root.projects as unknown[]).indexOf(p), 'api_key']) }));

  const fileOrder = new Map<string, number>([[rootFile, 0], ...destinations.map((d, i) => [d.file, i + 1] as [string, number])]);
  diagnostics.sort((a, b) =>
    (fileOrder.get(a.file) ?? fileOrder.size) - (fileOrder.get(b.file) ?? fileOrder.size) ||
    a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);

  const secretValues = [...new Set(allSecrets.map((s) => s.value).filter((v): v is string => v !== undefined && v !== ''))];
  const redact = redactorFor(redactionTexts(secretValues));
  return {
    rootFile,
    rootDir,
    root,
    projects,
    destinations,
    adminToken: secretAt(rootSecrets, ['server', 'admin_token']),
    queueUrl: secretAt(rootSecrets, ['queue', 'url']),
    missingSecrets: [...new Set(allSecrets.filter((s) => s.value === undefined).map((s) => s.reference))],
    diagnostics,
    ok: !diagnostics.some((d) => d.severity === 'error'),
    revision: await revisionOf(rootDir, hashed),
    secretValues,
    redact,
  };
}

interface FileRead {
  source?: SourceFile;
  content: string;
  diagnostics: Diagnostic[];
}

/** Reads and parses one file; too big or unreadable → `file-read` (the root unreadable → throw). */
async function readConfigFile(file: string, opts: { packageProp?: string; isRoot: boolean }): Promise<FileRead> {
  let text: string;
  try {
    const info = await stat(file);
    if (info.size > MAX_CONFIG_FILE_BYTES) {
      return {
        content: `<${info.size} bytes>`,
        diagnostics: [diag(file, 1, 1, 'error', 'file-read', `file is ${(info.size / 1e6).toFixed(1)} MB; config files may be at most ${MAX_CONFIG_FILE_BYTES / 1e6} MB`)],
      };
    }
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (opts.isRoot) throw new ConfigNotFoundError(`cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
    return { content: '', diagnostics: [diag(file, 1, 1, 'error', 'file-read', `cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)] };
  }
  const source = parseSource(file, text, { packageProp: opts.packageProp });
  return { source, content: text, diagnostics: [...source.diagnostics] };
}

interface CheckedFile {
  withDefaults: unknown;
  diagnostics: Diagnostic[];
  secrets: ResolvedSecret[];
}

/** Secrets, schema and JSONata checks of one parsed file against its schema. */
async function checkFile(source: SourceFile, schemaName: 'extole-config' | 'destination', opts: { rootDir: string; env: NodeJS.ProcessEnv }): Promise<CheckedFile> {
  const schema = loadSchema(schemaName);
  const raw = source.value;
  const diagnostics: Diagnostic[] = [];
  const at = (path: NodePath, atKey: boolean) => (atKey ? locateKey(source, path) : locate(source, path));

  const scan = await scanSecrets(raw, schema, opts);
  for (const p of scan.problems) {
    const pos = p.index === undefined ? at(p.path, false) : positionInside(source, p.path, p.index);
    diagnostics.push(diag(source.file, pos.line, pos.col, p.severity, p.rule, p.message));
  }

  // ajv writes defaults into what it validates: validate a copy, keep `raw` as written.
  const withDefaults = cloneSafe(raw);
  addDefaultObjects(withDefaults, schema);
  for (const p of validateAgainstSchema(schemaName, withDefaults)) {
    const pos = at(p.path, p.atKey);
    diagnostics.push(diag(source.file, pos.line, pos.col, 'error', p.rule, p.message));
  }

  walkWithSchema(raw, schema, (node) => {
    if (!node.jsonata || typeof node.value !== 'string' || node.value.trim() === '') return;
    for (const problem of checkExpression(node.value)) {
      const pos = positionInside(source, node.path, problem.offset);
      diagnostics.push(diag(source.file, pos.line, pos.col, problem.severity, problem.rule, `${pathLabel(node.path)}: ${problem.message}`));
    }
  });
  return { withDefaults, diagnostics, secrets: scan.secrets };
}

/**
 * Position of character `index` of the string at `path`: the scalar's start plus the offset,
 * through quoting, escapes and block indentation (falls back to the node's start).
 */
function positionInside(source: SourceFile, path: NodePath, index: number): { line: number; col: number } {
  const { node } = nodeAt(source, path);
  if (isScalar(node) && typeof node.value === 'string') {
    const offsets = scalarOffsets(source.text, node);
    return linePos(source, offsets[Math.min(Math.max(0, index), node.value.length)]!);
  }
  return linePos(source, node?.range?.[0] ?? 0);
}

/** Keys the body builder writes after `mapping.data` (SPEC §3.1 step 4), with when and why. */
function overwrittenDataKeys(raw: Record<string, unknown>): Map<string, string> {
  const extole = isPlainObject(raw.extole) ? raw.extole : {};
  const identity = isPlainObject(raw.identity) ? raw.identity : {};
  const keys = new Map<string, string>([
    ['extole_app_type', 'extole.app_type (default "extole-stream")'],
    ['email', 'the email from identity.email (default user_id); map it there instead'],
  ]);
  if (extole.labels !== undefined) keys.set('labels', 'extole.labels');
  if (identity.partner_user_id !== undefined) keys.set('partner_user_id', 'identity.partner_user_id');
  return keys;
}

async function loadDestination(file: string, opts: { rootDir: string; env: NodeJS.ProcessEnv; projectKeys: Set<string> | undefined }): Promise<{
  destination?: LoadedDestination; content: string; diagnostics: Diagnostic[]; secrets: ResolvedSecret[];
}> {
  const read = await readConfigFile(file, { isRoot: false });
  const diagnostics = [...read.diagnostics];
  const source = read.source;
  if (!source || source.fatal) return { content: read.content, diagnostics, secrets: [] };

  const checked = await checkFile(source, 'destination', opts);
  diagnostics.push(...checked.diagnostics);
  const raw = isPlainObject(source.value) ? source.value : {};
  const add = (path: NodePath, atKey: boolean, severity: Severity, rule: RuleId, message: string): void => {
    const pos = atKey ? locateKey(source, path) : locate(source, path);
    diagnostics.push(diag(file, pos.line, pos.col, severity, rule, message));
  };

  if (opts.projectKeys) {
    const known = [...opts.projectKeys].join(', ');
    if (Array.isArray(raw.projects)) {
      raw.projects.forEach((key, index) => {
        if (typeof key === 'string' && !opts.projectKeys!.has(key)) {
          add(['projects', index], false, 'error', 'unknown-project', `unknown project '${key}': the root config defines ${known || 'no projects'}`);
        }
      });
    }
    if (Array.isArray(raw.tests)) {
      raw.tests.forEach((test, index) => {
        if (isPlainObject(test) && typeof test.project === 'string' && !opts.projectKeys!.has(test.project)) {
          add(['tests', index, 'project'], false, 'error', 'unknown-project', `unknown project '${test.project}' in test: the root config defines ${known || 'no projects'}`);
        }
      });
    }
  }

  const mapping = isPlainObject(raw.mapping) ? raw.mapping : undefined;
  if (mapping && isPlainObject(mapping.data)) {
    const overwritten = overwrittenDataKeys(raw);
    for (const key of Object.keys(mapping.data)) {
      const by = overwritten.get(key);
      if (by) add(['mapping', 'data', key], true, 'warning', 'data-key-overwritten', `data key '${key}' is overwritten by ${by}`);
    }
  }

  const fileName = basename(file, extname(file));
  const name = typeof raw.name === 'string' ? raw.name : fileName;
  if (raw.name === undefined && !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(fileName)) {
    add([], false, 'error', 'schema', `destination name '${fileName}' (from the file name) must be kebab-case, e.g. referrals: rename the file or set name:`);
  }

  const destination: LoadedDestination = {
    file,
    name,
    definition: checked.withDefaults as Destination,
    accessToken: secretAt(checked.secrets, ['extole', 'access_token']),
    locate: (path: NodePath) => locate(source, path),
  };
  return { destination, content: read.content, diagnostics, secrets: checked.secrets };
}

/** Project keys of the root config; a repeated key is an error at the second one. */
function projectKeysOf(source: SourceFile, rawRoot: unknown, diagnostics: Diagnostic[]): Set<string> | undefined {
  if (!isPlainObject(rawRoot) || !Array.isArray(rawRoot.projects)) return undefined;
  const keys = new Set<string>();
  rawRoot.projects.forEach((project, index) => {
    if (!isPlainObject(project) || typeof project.key !== 'string') return;
    if (keys.has(project.key)) {
      const at = locate(source, ['projects', index, 'key']);
      diagnostics.push(diag(source.file, at.line, at.col, 'error', 'schema', `duplicate project key '${project.key}' (keys must be unique)`));
    }
    keys.add(project.key);
  });
  return keys;
}

function patternsOf(value: unknown): string[] | undefined {
  if (typeof value === 'string' && value !== '') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v !== '')) return value as string[];
  return undefined;
}

function secretAt(secrets: ResolvedSecret[], path: (string | number)[]): string | undefined {
  const key = JSON.stringify(path);
  return secrets.find((s) => JSON.stringify(s.path) === key)?.value;
}

/** Deep copy of plain data; keys are defined (never assigned), so `__proto__` stays data. */
function cloneSafe(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneSafe);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, key, { value: cloneSafe(value[key]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** Content hash of every file (stable order), plus the git commit of the root folder when known. */
async function revisionOf(rootDir: string, files: { file: string; content: string }[]): Promise<LoadedConfig['revision']> {
  const hash = createHash('sha256');
  for (const { file, content } of files) {
    // The file name is part of the revision: a destination's default name is its file name.
    hash.update(relative(rootDir, file)).update('\0').update(content).update('\0');
  }
  const contentHash = hash.digest('hex');
  const git = await gitCommit(rootDir);
  const short = contentHash.slice(0, 12);
  return git ? { hash: contentHash, git, label: `${git.slice(0, 12)}+${short}` } : { hash: contentHash, label: short };
}

function gitCommit(cwd: string): Promise<string | undefined> {
  return new Promise((resolvePromise) => {
    try {
      execFile('git', ['rev-parse', 'HEAD'], { cwd, timeout: 5000, windowsHide: true }, (error, stdout) => {
        const commit = String(stdout).trim();
        resolvePromise(!error && /^[0-9a-f]{40,64}$/.test(commit) ? commit : undefined);
      });
    } catch {
      resolvePromise(undefined); // no git binary, no repository: the revision is the content hash
    }
  });
}

function diag(file: string, line: number, col: number, severity: Severity, rule: RuleId, message: string): Diagnostic {
  return { file, line, col, severity, message, rule };
}
