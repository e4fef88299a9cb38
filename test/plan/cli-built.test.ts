/**
 * One run of the built CLI (`npm test` builds first) to prove plan's exit codes reach the process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo, REFERRALS, SECRET_TOKEN, type Repo } from './fixture.js';

const BIN = fileURLToPath(new URL('../../dist/bin/extole-stream.js', import.meta.url));
const built = existsSync(BIN);
if (!built && process.env.CI === 'true') throw new Error(`${BIN} is missing: run npm run build before the tests`);

describe.skipIf(!built)('built CLI: extole-stream plan (skipped when dist/ is not built: run npm run build)', () => {
  let repo: Repo;
  beforeAll(() => {
    repo = makeRepo();
  });
  afterAll(() => repo?.cleanup());
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'plan', ...args], { cwd: repo.dir, env: repo.env, encoding: 'utf8' });

  it('exits 0 with changes, 2 for an unknown REF, 1 for an invalid working tree', () => {
    repo.write('destinations/referrals.yaml', REFERRALS.replace('event_properties.revenue > 0', 'event_properties.revenue > 30'));
    const changed = run('--base', 'main', '--format', 'json');
    expect(changed.stderr).toBe('');
    expect(changed.status).toBe(0);
    expect(JSON.parse(changed.stdout).destinations[0]).toMatchObject({ name: 'referrals', status: 'changed', changed: 7 });
    expect(changed.stdout).not.toContain(SECRET_TOKEN);

    const unknown = run('--base', 'does-not-exist');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown git REF');

    repo.write('destinations/referrals.yaml', REFERRALS.replace('events:\n', 'events: 5\nunused:\n'));
    const invalid = run('--base', 'main');
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toContain('working tree config does not validate');
  });
});
