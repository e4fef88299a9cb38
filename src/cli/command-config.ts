/**
 * Loading the config for a command: the shared part of validate, test and transform
 * (not-found → exit 2; invalid → diagnostics and exit 1).
 */
import type { Command } from 'commander';
import { formatDiagnostics } from '../config/format.js';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/model.js';
import type { CliContext } from './context.js';
import { configOption } from './main.js';

/** Rules whose errors mean the files could not be read at all: an I/O error, exit code 2. */
const IO_RULES: ReadonlySet<string> = new Set(['file-read', 'no-config']);

/**
 * Load the config named by `--config` (or found from `ctx.cwd`). When there is none, write why
 * on stderr, set exit code 2 and return undefined.
 */
export async function loadCommandConfig(cmd: Command, ctx: CliContext): Promise<LoadedConfig | undefined> {
  try {
    return await loadConfig({ configPath: configOption(cmd), cwd: ctx.cwd, env: ctx.env });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ES_CONFIG_NOT_FOUND') {
      ctx.stderr.write(`extole-stream: ${e.message ?? 'no config found'}\n`);
      ctx.exitCode = 2;
      return undefined;
    }
    throw err;
  }
}

/** Exit code for a loaded config: 0 no errors (warnings allowed), 2 I/O errors, 1 other errors. */
export function configExitCode(config: LoadedConfig): 0 | 1 | 2 {
  const errors = config.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length === 0) return 0;
  return errors.some((d) => IO_RULES.has(d.rule)) ? 2 : 1;
}

/**
 * Commands that need a valid config (test, transform): when it has errors, print them on
 * stderr (text format, secrets redacted), set the exit code and return false.
 */
export function requireValidConfig(config: LoadedConfig, ctx: CliContext, command: string): boolean {
  const code = configExitCode(config);
  if (code === 0) return true;
  const errors = config.diagnostics.filter((d) => d.severity === 'error');
  const text = formatDiagnostics(errors, 'text', { cwd: ctx.cwd });
  ctx.stderr.write(config.redact(text.endsWith('\n') || text === '' ? text : `${text}\n`));
  ctx.stderr.write(`extole-stream ${command}: the config is invalid; fix it first (\`extole-stream validate\`)\n`);
  ctx.exitCode = code;
  return false;
}

/** `1 error`, `2 errors`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
