import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { LoadedConfig } from '../../src/config/model.js';
import { ConfigError } from '../../src/errors.js';
import { createQueue, DEFAULT_POOL_SIZE, PostgresQueue, SqliteQueue } from '../../src/queue/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Just the parts of a LoadedConfig that createQueue reads. */
function loaded(queue: LoadedConfig['root']['queue'], queueUrl?: string): LoadedConfig {
  const rootDir = mkdtempSync(path.join(tmpdir(), 'extole-createqueue-'));
  dirs.push(rootDir);
  return {
    rootDir,
    rootFile: path.join(rootDir, 'extole.config.yaml'),
    root: { version: 1, projects: [{ key: 'web', api_key: '${env:K}' }], ...(queue ? { queue } : {}) },
    queueUrl,
  } as unknown as LoadedConfig;
}

describe('createQueue', () => {
  it('defaults to SQLite at .extole-stream/queue.db next to the root file, created on open', async () => {
    const config = loaded(undefined);
    const queue = createQueue(config);
    expect(queue).toBeInstanceOf(SqliteQueue);
    expect((queue as SqliteQueue).path).toBe(path.join(config.rootDir, '.extole-stream', 'queue.db'));
    await queue.open();
    expect(existsSync(path.join(config.rootDir, '.extole-stream', 'queue.db'))).toBe(true);
    await queue.close();
  });

  it('resolves queue.path against the root folder and keeps :memory: as is', () => {
    const config = loaded({ driver: 'sqlite', path: 'var/q.sqlite' });
    expect((createQueue(config) as SqliteQueue).path).toBe(path.join(config.rootDir, 'var', 'q.sqlite'));
    expect((createQueue(loaded({ path: ':memory:' })) as SqliteQueue).path).toBe(':memory:');
  });

  it('builds a PostgresQueue from the resolved URL and schema', async () => {
    const queue = createQueue(loaded({ driver: 'postgres', url: '${env:DATABASE_URL}', schema: 'tenant_a' }, 'postgres://u@127.0.0.1:1/x'));
    expect(queue).toBeInstanceOf(PostgresQueue);
    expect((queue as PostgresQueue).schema).toBe('tenant_a');
    expect(queue.driver).toBe('postgres');
    await queue.close();
  });

  it('passes queue.pool_size to the PostgresQueue; the settle pool is half of it, at least 2', async () => {
    const url = 'postgres://u@127.0.0.1:1/x';
    const sized = createQueue(loaded({ driver: 'postgres', url: '${env:DATABASE_URL}', pool_size: 24 }, url)) as PostgresQueue;
    expect([sized.poolSize, sized.settlePoolSize]).toEqual([24, 12]);
    const small = createQueue(loaded({ driver: 'postgres', url: '${env:DATABASE_URL}', pool_size: 3 }, url)) as PostgresQueue;
    expect([small.poolSize, small.settlePoolSize]).toEqual([3, 2]);
    const unset = createQueue(loaded({ driver: 'postgres', url: '${env:DATABASE_URL}' }, url)) as PostgresQueue;
    expect([unset.poolSize, unset.settlePoolSize]).toEqual([DEFAULT_POOL_SIZE, 5]);
    expect(DEFAULT_POOL_SIZE).toBe(10);
    await Promise.all([sized.close(), small.close(), unset.close()]);
  });

  it('PostgresQueue rejects a pool size that is not a positive integer', () => {
    for (const poolSize of [0, -1, 2.5, Number.NaN]) {
      expect(() => new PostgresQueue({ url: 'postgres://u@127.0.0.1:1/x', poolSize })).toThrow(/pool_size/);
    }
  });

  it('throws a ConfigError when postgres has no usable URL', () => {
    expect(() => createQueue(loaded({ driver: 'postgres' }))).toThrow(ConfigError);
    expect(() => createQueue(loaded({ driver: 'postgres', url: '${env:DATABASE_URL}' }))).toThrow(/not available/);
    try {
      createQueue(loaded({ driver: 'postgres' }));
    } catch (err) {
      expect((err as ConfigError).code).toBe('ES_CONFIG_INVALID');
    }
  });
});

describe('queue.pool_size in the root file', () => {
  /** A root file with the given `queue:` block (YAML flow map) and no destinations. */
  async function load(queueYaml: string): Promise<LoadedConfig> {
    const dir = mkdtempSync(path.join(tmpdir(), 'extole-poolsize-'));
    dirs.push(dir);
    mkdirSync(path.join(dir, 'destinations'));
    const root = `version: 1\nprojects:\n  - key: web\n    api_key: \${env:K}\nqueue: ${queueYaml}\n`;
    writeFileSync(path.join(dir, 'extole.config.yaml'), root);
    writeFileSync(
      path.join(dir, 'destinations', 'a.yaml'),
      'projects: [web]\nextole:\n  access_token: ${env:T}\nevents:\n  - type: Order Completed\n',
    );
    return loadConfig({ cwd: dir, env: { K: 'k', T: 't', DATABASE_URL: 'postgres://u@127.0.0.1:1/x' } });
  }

  it('accepts an integer of at least 2 and createQueue uses it', async () => {
    const config = await load('{ driver: postgres, url: "${env:DATABASE_URL}", pool_size: 4 }');
    expect(config.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(config.ok).toBe(true);
    expect(config.root.queue?.pool_size).toBe(4);
    const queue = createQueue(config) as PostgresQueue;
    expect([queue.poolSize, queue.settlePoolSize]).toEqual([4, 2]);
    await queue.close();
  });

  it.each([['1'], ['2.5'], ['"ten"']])('rejects pool_size: %s with a diagnostic on queue.pool_size', async (value) => {
    const config = await load(`{ driver: postgres, url: "\${env:DATABASE_URL}", pool_size: ${value} }`);
    expect(config.ok).toBe(false);
    const errors = config.diagnostics.filter((d) => d.severity === 'error');
    expect(errors.length).toBe(1);
    expect(JSON.stringify(errors[0])).toMatch(/pool_size/);
  });
});
