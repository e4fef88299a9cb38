/**
 * The built command line (`dist/`) for end-to-end tests: where it is, and building it when a
 * test file runs on its own (`npm test` builds first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built executable, run as `node BUILT_CLI …`. */
export const BUILT_CLI = path.join(REPO_ROOT, 'dist/bin/extole-stream.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Build `dist/` when `builtFile` (a file of it) is missing or older than anything in `src/`;
 * throw when it is still missing. Slow when it builds: call it from a `beforeAll` with a long
 * timeout.
 */
export function buildIfStale(builtFile: string): void {
  if (!existsSync(builtFile) || statSync(builtFile).mtimeMs < newestMtime(path.join(REPO_ROOT, 'src'))) {
    spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'ignore' });
  }
  if (!existsSync(builtFile)) throw new Error(`the CLI is not built: ${builtFile} (run npm run build)`);
}
