import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../src/config/model.js';
import { ConfigError } from '../../src/errors.js';
import { createQueue, PostgresQueue, SqliteQueue } from '../../src/queue/index.js';

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
