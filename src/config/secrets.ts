/**
 * Secret references (SPEC §2.3): `${env:NAME}` and `${file:PATH}` are allowed only in fields the
 * schema marks `x-secret: true`, and are resolved after parsing. Values never enter messages.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { RuleId, Severity } from './diagnostics.js';
import type { JsonSchema } from './schemas.js';
import { isPlainObject, resolveRef, walkWithSchema } from './schema-walk.js';
import { pathLabel } from './schema-validate.js';

/** A problem found in a secret field or a misplaced reference, before it gets a file position. */
export interface SecretProblem {
  path: (string | number)[];
  severity: Severity;
  rule: RuleId;
  message: string;
  /** Index in the string value where the problem starts (a misplaced reference inside text). */
  index?: number;
}

export interface ResolvedSecret {
  /** Where the reference sits, e.g. `['extole', 'access_token']`. */
  path: (string | number)[];
  /** `env:NAME` or `file:PATH`. */
  reference: string;
  /** The value, or undefined when the variable is unset / the file is missing. */
  value: string | undefined;
}

export interface SecretScan {
  problems: SecretProblem[];
  secrets: ResolvedSecret[];
}

const REFERENCE = /^\$\{(env|file):([^}]*)\}$/;
const ANY_REFERENCE = /\$\{\s*(env|file)\s*:/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Secret files are tokens or URLs; anything bigger is a mistake (wrong path). */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

/**
 * Finds every secret field and misplaced reference in `value` (per the schema's `x-secret`
 * markers) and resolves well-formed references from `env` and files under `rootDir`.
 */
export async function scanSecrets(value: unknown, schema: JsonSchema, opts: { rootDir: string; env: NodeJS.ProcessEnv }): Promise<SecretScan> {
  const scan: SecretScan = { problems: [], secrets: [] };
  const secretFieldNames = secretFields(schema);
  const pending: Promise<void>[] = [];
  walkWithSchema(value, schema, (node) => {
    if (typeof node.value !== 'string') return;
    const label = pathLabel(node.path);
    const path = node.path;
    if (!node.secret) {
      const misplaced = ANY_REFERENCE.exec(node.value);
      if (misplaced) {
        scan.problems.push({
          path, severity: 'error', rule: 'secret-misplaced', index: misplaced.index,
          message: `secret reference in '${label}': \${${misplaced[1]}:…} is allowed only in secret fields (${secretFieldNames.join(', ')})`,
        });
      }
      return;
    }
    const match = REFERENCE.exec(node.value);
    if (!match) {
      scan.problems.push(node.value.includes('${')
        ? { path, severity: 'error', rule: 'secret-invalid', message: `'${label}' is not a valid secret reference: write \${env:NAME} or \${file:PATH}` }
        : { path, severity: 'error', rule: 'secret-literal', message: `'${label}' holds a literal value: secrets must be a reference, \${env:NAME} or \${file:PATH}, never the value itself` });
      return;
    }
    const kind = match[1] as 'env' | 'file';
    const target = match[2]!.trim();
    if (kind === 'env' && !ENV_NAME.test(target)) {
      scan.problems.push({ path, severity: 'error', rule: 'secret-invalid', message: `'${label}': '${target}' is not a valid environment variable name (letters, digits and _, not starting with a digit)` });
      return;
    }
    if (kind === 'file' && target === '') {
      scan.problems.push({ path, severity: 'error', rule: 'secret-invalid', message: `'${label}': \${file:} needs a path` });
      return;
    }
    const reference = `${kind}:${target}`;
    const secret: ResolvedSecret = { path, reference, value: undefined };
    scan.secrets.push(secret);
    pending.push((async () => {
      const result = kind === 'env' ? readEnv(opts.env, target) : await readSecretFile(resolve(opts.rootDir, target));
      const what = kind === 'env' ? `environment variable ${target}` : `file ${target}`;
      if (result.kind === 'ok') {
        secret.value = result.value;
      } else if (result.kind === 'unset') {
        scan.problems.push({ path, severity: 'warning', rule: 'secret-unset', message: `'${label}': ${what} ${result.why} (serve needs it)` });
      } else {
        scan.problems.push({ path, severity: 'error', rule: 'secret-invalid', message: `'${label}': the value of ${what} ${result.why}` });
      }
    })());
  });
  await Promise.all(pending);
  return scan;
}

type SecretRead = { kind: 'ok'; value: string } | { kind: 'unset' | 'invalid'; why: string };

function readEnv(env: NodeJS.ProcessEnv, name: string): SecretRead {
  // Own properties only: a variable named like an Object.prototype member is not "set".
  const value = Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
  // An empty variable (`NAME=` in an env file) is as good as unset for a credential.
  if (value === undefined || value === '') return { kind: 'unset', why: value === '' ? 'is empty' : 'is not set' };
  if (/[\r\n]/.test(value)) return { kind: 'invalid', why: 'contains a line break' };
  return { kind: 'ok', value };
}

async function readSecretFile(file: string): Promise<SecretRead> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return { kind: 'unset', why: 'is not a file' };
    if (info.size > MAX_SECRET_FILE_BYTES) return { kind: 'invalid', why: `is larger than ${MAX_SECRET_FILE_BYTES / 1024} KB` };
    let value = await readFile(file, 'utf8');
    // Editors and `echo > file` end files with a newline that is not part of the secret:
    // strip exactly one trailing line break; any other line break makes the value invalid.
    value = value.replace(/\r?\n$/, '');
    if (value === '') return { kind: 'unset', why: 'is empty' };
    if (/[\r\n]/.test(value)) return { kind: 'invalid', why: 'contains a line break' };
    return { kind: 'ok', value };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { kind: 'unset', why: code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})` };
  }
}

/** Names of the properties the schema marks secret (for messages), e.g. `api_key, admin_token`. */
export function secretFields(schema: JsonSchema): string[] {
  const names = new Set<string>();
  const seen = new Set<unknown>();
  const visit = (node: unknown): void => {
    if (!isPlainObject(node) || seen.has(node)) return;
    seen.add(node);
    if (isPlainObject(node.properties)) {
      for (const [name, child] of Object.entries(node.properties)) {
        const target = isPlainObject(child) && typeof child.$ref === 'string' ? resolveRef(schema, child.$ref) : child;
        if (isPlainObject(child) && child['x-secret'] === true || isPlainObject(target) && target['x-secret'] === true) names.add(name);
      }
    }
    for (const child of Object.values(node)) {
      if (Array.isArray(child)) child.forEach(visit);
      else visit(child);
    }
  };
  visit(schema);
  return [...names];
}

/**
 * The texts to hide for these (non-empty) secret values: each value, and each as it reads inside
 * a JSON string (log lines, `--format json`), where a quote, backslash or control character is
 * escaped and the raw value would not match. Longest first, so a value that contains another is
 * hidden whole.
 */
export function redactionTexts(values: Iterable<string>): string[] {
  const raw = [...values];
  return [...new Set([...raw, ...raw.map((v) => JSON.stringify(v).slice(1, -1))])].sort((a, b) => b.length - a.length);
}

/** A function that replaces every one of `texts` (see `redactionTexts`) in its input with `***`. */
export function redactorFor(texts: readonly string[]): (text: string) => string {
  // `includes` first: most texts hold no secret, and a search allocates nothing (`transform`
  // redacts each output line).
  return (text) => {
    let out = text;
    for (const value of texts) if (out.includes(value)) out = out.split(value).join('***');
    return out;
  };
}
