/**
 * The test PostgreSQL (127.0.0.1:5432, db `test`, user `postgres`, trust auth; override with
 * EXTOLE_STREAM_TEST_PG_URL) for every test file that needs it: whether it is reachable (an
 * unreachable one skips with a reason, or fails when CI=true), schema names unique to this run,
 * and dropping them afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';

/** Connection URL of the test database. */
export const TEST_PG_URL = process.env.EXTOLE_STREAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Tells this process's schemas from those of other runs (and other test files running at once). */
const RUN_TAG = `${process.pid}_${randomBytes(3).toString('hex')}`;
let schemaCounter = 0;

/**
 * Why the test database cannot be used (`undefined` when it can). With CI=true an unreachable
 * database throws instead, so CI never passes by skipping.
 */
export async function testPostgresUnreachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 3_000 });
  let why: string | undefined;
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    why = err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => {});
  }
  if (why !== undefined && process.env.CI === 'true') {
    // The URL without its user info: a password must not reach the CI log.
    throw new Error(`PostgreSQL at ${TEST_PG_URL.replace(/\/\/[^@]*@/, '//')} is required in CI: ${why}`);
  }
  return why;
}

/** The one-line reason a skipped PostgreSQL test shows. */
export function postgresSkipReason(why: string): string {
  return `skipped: PostgreSQL at 127.0.0.1:5432 db test unreachable (${why})`;
}

/** When `why` is set, register suite `name` with one skipped case that says why it did not run. */
export function describeSkippedWithoutPostgres(name: string, why: string | undefined): void {
  if (why === undefined) return;
  describe(name, () => {
    it.skip(postgresSkipReason(why), () => {});
  });
}

/** A schema name no other call, test file or run uses: `<prefix>_<pid>_<random>_<n>`. */
export function uniqueSchemaName(prefix: string): string {
  return `${prefix}_${RUN_TAG}_${++schemaCounter}`;
}

/** Drop `schema` and everything in it (missing is fine). */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
