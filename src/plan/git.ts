/**
 * The little git `plan` needs: find the repository of a folder, resolve a REF to a commit, and
 * write a commit's files (one subtree) into a temporary folder.
 *
 * The base is read with `git ls-tree` + `git cat-file --batch` rather than `git worktree add`
 * or `git archive`: it changes nothing in the user's repository (no `.git/worktrees` entry to
 * leak when the process is killed, no checkout hooks run), needs no `tar`, and applies no
 * `export-ignore` attributes, so the files are exactly the committed blobs.
 */
import { spawn } from 'node:child_process';
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PlanGitError } from './errors.js';

interface GitRun {
  cwd: string;
  env: NodeJS.ProcessEnv;
  input?: string;
}

/** Run git and resolve with its stdout; rejects with {@link PlanGitError} carrying git's stderr. */
function git(args: string[], run: GitRun): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // LC_ALL=C keeps git's messages stable; no pager, no prompts in CI.
    const child = spawn('git', args, {
      cwd: run.cwd,
      env: { ...run.env, LC_ALL: 'C', GIT_PAGER: 'cat', GIT_TERMINAL_PROMPT: '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        new PlanGitError(e.code === 'ENOENT' ? 'git is not installed (plan needs git on PATH)' : `git failed: ${e.message}`, {
          cause: e,
        }),
      );
    });
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else {
        const message = Buffer.concat(err).toString('utf8').trim() || `exit code ${code}`;
        reject(new PlanGitError(`git ${args[0]} failed: ${message}`));
      }
    });
    // Ignore EPIPE when git exits before reading all of its input; 'close' reports the failure.
    child.stdin.on('error', () => {});
    child.stdin.end(run.input ?? '');
  });
}

/**
 * The top folder of the git repository that holds `dir` (real path, symlinks resolved).
 * @throws PlanGitError when `dir` is not inside a git working tree.
 */
export async function findRepository(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  let top: string;
  try {
    top = (await git(['rev-parse', '--show-toplevel'], { cwd: dir, env })).toString('utf8').trim();
  } catch (err) {
    if (err instanceof PlanGitError && /not a git repository/i.test(err.message)) {
      throw new PlanGitError(`${dir} is not inside a git repository (plan compares against a git REF)`, { cause: err });
    }
    throw err;
  }
  return realpath(top);
}

/**
 * Resolve `ref` (branch, tag, sha, `origin/main`, `HEAD~1`) to a full commit id.
 * @throws PlanGitError naming the REF when git does not know it.
 */
export async function resolveCommit(top: string, ref: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (ref === '' || ref.startsWith('-')) throw new PlanGitError(`invalid git REF ${JSON.stringify(ref)}`);
  try {
    const out = await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], { cwd: top, env });
    return out.toString('utf8').trim();
  } catch (err) {
    throw new PlanGitError(
      `unknown git REF ${JSON.stringify(ref)} (in a shallow CI checkout, fetch it first, e.g. \`git fetch origin main\`)`,
      { cause: err },
    );
  }
}

/** Resolve true when the file `relFile` (relative to the repository top, `/` separated) exists at `commit`. */
export async function existsAtCommit(top: string, commit: string, relFile: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    await git(['cat-file', '-e', `${commit}:${relFile}`], { cwd: top, env });
    return true;
  } catch {
    return false;
  }
}

/** Reject paths that would escape the destination folder (git never writes them, but be sure). */
function safeRelative(p: string): boolean {
  if (p === '' || path.posix.isAbsolute(p) || p.includes('\0')) return false;
  return !p.split('/').some((seg) => seg === '..' || seg === '.git');
}

/**
 * Write the files of `commit` under `relDir` (repository-relative, `''` for all) into `dest`,
 * keeping their repository-relative paths. Submodules are skipped; symlinks are recreated.
 * Returns how many files were written.
 */
export async function materializeTree(
  top: string,
  commit: string,
  relDir: string,
  dest: string,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const args = ['ls-tree', '-r', '-z', '--full-tree', commit];
  if (relDir !== '') args.push('--', relDir);
  const listing = (await git(args, { cwd: top, env })).toString('utf8');
  const entries: { mode: string; oid: string; file: string }[] = [];
  for (const record of listing.split('\0')) {
    if (record === '') continue;
    // `<mode> SP <type> SP <object> TAB <path>`
    const tab = record.indexOf('\t');
    const [mode, type, oid] = record.slice(0, tab).split(' ');
    const file = record.slice(tab + 1);
    if (type !== 'blob' || !safeRelative(file)) continue;
    entries.push({ mode, oid, file });
  }
  if (entries.length === 0) return 0;

  // One `cat-file --batch` process for every blob: output is `<oid> blob <size>\n<bytes>\n` each.
  const batch = await git(['cat-file', '--batch'], {
    cwd: top,
    env,
    input: entries.map((e) => e.oid).join('\n') + '\n',
  });
  let offset = 0;
  for (const entry of entries) {
    const newline = batch.indexOf(0x0a, offset);
    const header = batch.subarray(offset, newline).toString('utf8');
    const size = Number(header.split(' ')[2]);
    if (!Number.isSafeInteger(size)) throw new PlanGitError(`git cat-file: unexpected output ${JSON.stringify(header)}`);
    const content = batch.subarray(newline + 1, newline + 1 + size);
    offset = newline + 1 + size + 1;
    const target = path.join(dest, ...entry.file.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    if (entry.mode === '120000') await symlink(content.toString('utf8'), target);
    else await writeFile(target, content, { mode: entry.mode === '100755' ? 0o755 : 0o644 });
  }
  return entries.length;
}
