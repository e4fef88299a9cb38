/**
 * The server and the dlq/replay commands on the PostgreSQL queue driver (SPEC §7): same
 * answers, same de-duplication, delivery from the shared tables.
 */
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { dropSchema, postgresSkipReason, TEST_PG_URL as URL, testPostgresUnreachable, uniqueSchemaName } from '../support/postgres.js';
import { LogSink, TEST_ENV, WEB_KEY, makeConfigDir, post, removeDir, startFakeExtole, startServer, waitFor } from './helpers.js';

const SCHEMA = uniqueSchemaName('es_server');

const unreachable = await testPostgresUnreachable();

describe.skipIf(unreachable !== undefined)(`server on the postgres queue${unreachable ? ` (${postgresSkipReason(unreachable)})` : ''}`, () => {
  afterAll(async () => {
    await dropSchema(SCHEMA);
  });

  it('ingests, de-duplicates, delivers and dead-letters through PostgreSQL', async () => {
    const fake = await startFakeExtole();
    fake.respond = (body) => (String((body.data as Record<string, unknown>).email).startsWith('bad') ? 400 : 200);
    const env = { ...TEST_ENV, TEST_PG_URL: URL };
    const dir = makeConfigDir({ baseUrl: fake.url, queue: ['driver: postgres', 'url: ${env:TEST_PG_URL}', `schema: ${SCHEMA}`, 'lease: 2s'] });
    const s = await startServer(dir, { env });
    try {
      const events = [
        { event_type: 'Sign Up', user_id: 'pg1@example.com', insert_id: 'pg-1' },
        { event_type: 'Sign Up', user_id: 'bad-pg@example.com', insert_id: 'pg-2' },
      ];
      expect((await post(`${s.url}/batch`, { api_key: WEB_KEY, events })).body).toMatchObject({ code: 200, events_ingested: 2 });
      expect((await post(`${s.url}/batch`, { api_key: WEB_KEY, events })).body).toMatchObject({ code: 200, events_ingested: 2 });
      await waitFor(async () => (await s.runtime.queue.listDeadLetters()).length === 1, 15_000, 'a dead letter');
      const delivered = fake.bodies.map((b) => (b.data as Record<string, unknown>).email);
      expect(delivered).toEqual(['pg1@example.com']);
    } finally {
      await s.close();
      await fake.close();
    }
    const stdout = new LogSink();
    const stderr = new LogSink();
    const code = await main(['dlq', 'list', '--format', 'json'], { stdout, stderr, stdin: Readable.from([]), cwd: dir, env });
    expect(stderr.text).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout.text.trim())).toMatchObject({ destination: 'referrals', reason: 'rejected', http_status: 400 });
    removeDir(dir);
  });
});
