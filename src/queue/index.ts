/**
 * The durable queue: pick the driver the config names. See docs/queue.md.
 */
import path from 'node:path';
import type { LoadedConfig } from '../config/model.js';
import { ConfigError } from '../errors.js';
import { DEFAULT_POOL_SIZE, PostgresQueue } from './postgres.js';
import { SqliteQueue } from './sqlite.js';
import type { Queue } from './types.js';

export type * from './types.js';
export { SqliteQueue, type SqliteQueueOptions } from './sqlite.js';
export { PostgresQueue, DEFAULT_POOL_SIZE, type PostgresQueueOptions } from './postgres.js';

/** Default SQLite file, relative to the folder of the root config file. */
export const DEFAULT_SQLITE_PATH = '.extole-stream/queue.db';
/** Default PostgreSQL schema for the queue tables. */
export const DEFAULT_POSTGRES_SCHEMA = 'extole_stream';

/**
 * Builds the queue the config asks for (`queue.driver`, default sqlite). The queue is not opened
 * yet: call `open()`.
 *
 * - sqlite: `queue.path` (default `.extole-stream/queue.db`) resolved against `loaded.rootDir`.
 * - postgres: `loaded.queueUrl` (the resolved `queue.url` secret), `queue.schema` and
 *   `queue.pool_size` (main pool; the settle pool is half of it, at least 2).
 *
 * @throws ConfigError (`ES_CONFIG_INVALID`) when the driver is postgres and the URL is missing or
 *   its secret is not available, when the schema name is not a plain identifier, or when
 *   `queue.pool_size` is not a positive integer.
 */
export function createQueue(loaded: LoadedConfig): Queue {
  const queue = loaded.root.queue ?? {};
  const driver = queue.driver ?? 'sqlite';
  if (driver === 'postgres') {
    if (!loaded.queueUrl) {
      throw new ConfigError(
        queue.url
          ? 'queue.driver is postgres but the secret in queue.url is not available'
          : 'queue.driver is postgres but queue.url is not set',
      );
    }
    return new PostgresQueue({
      url: loaded.queueUrl,
      schema: queue.schema ?? DEFAULT_POSTGRES_SCHEMA,
      poolSize: queue.pool_size ?? DEFAULT_POOL_SIZE,
    });
  }
  const file = queue.path ?? DEFAULT_SQLITE_PATH;
  return new SqliteQueue({ path: file === ':memory:' ? file : path.resolve(loaded.rootDir, file) });
}
