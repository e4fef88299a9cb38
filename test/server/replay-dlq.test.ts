/**
 * `replay` (Export files: .jsonl, .gz, .zip) and `dlq list|show|replay|purge`, run through the
 * real CLI entry (in-process) against a temp config and a real SQLite queue, with a server
 * delivering to a fake Extole.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { zipSync, strToU8 } from 'fflate';
import { main } from '../../src/cli/main.js';
import { SqliteQueue } from '../../src/queue/sqlite.js';
import {
  EXTOLE_TOKEN,
  LogSink,
  TEST_ENV,
  WEB_KEY,
  makeConfigDir,
  post,
  referralsYaml,
  removeDir,
  startFakeExtole,
  startServer,
  waitFor,
  type FakeExtole,
} from './helpers.js';

async function cli(dir: string, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new LogSink();
  const stderr = new LogSink();
  const code = await main(argv, { stdout, stderr, stdin: Readable.from([]), cwd: dir, env: TEST_ENV });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const exportEvent = (n: number): string =>
  JSON.stringify({
    event_type: 'Order Completed',
    user_id: `replay${n}@example.com`,
    event_time: '2024-11-27 09:33:20.000000',
    $insert_id: `exp-${n}`,
    event_properties: { revenue: n },
    amplitude_id: 1000 + n,
    ip_address: '10.0.0.1',
  });

describe('replay and dlq', () => {
  let fake: FakeExtole;
  let dir: string;

  beforeAll(async () => {
    fake = await startFakeExtole();
    dir = makeConfigDir({ baseUrl: fake.url });
  });
  afterAll(async () => {
    await fake.close();
    removeDir(dir);
  });

  const emails = (): string[] => fake.bodies.map((b) => String((b.data as Record<string, unknown>).email));

  it('replays .jsonl, .gz and .zip (with .json.gz entries) exports, skipping bad lines, de-duplicating reruns', async () => {
    writeFileSync(path.join(dir, 'a.jsonl'), `${exportEvent(1)}\n\nnot json\n${exportEvent(2)}\r\n`);
    writeFileSync(path.join(dir, 'b.jsonl.gz'), gzipSync(`${exportEvent(3)}\n${exportEvent(4)}\n`));
    writeFileSync(
      path.join(dir, 'c.zip'),
      zipSync({
        '412345/412345_2024-11-27_9#0.json.gz': gzipSync(`${exportEvent(5)}\n${exportEvent(6)}`),
        'extra/plain.json': strToU8(`${exportEvent(7)}\n{"event_type":"no ids"}\n`),
      }),
    );
    const run = await cli(dir, 'replay', 'a.jsonl', 'b.jsonl.gz', 'c.zip', '--project', 'web');
    expect(run.code).toBe(1); // two lines were not events
    expect(run.stdout).toContain('replay: 7 events from 3 files (project web)');
    expect(run.stdout).toMatch(/enqueued\s+7 events → 7 deliveries/);
    expect(run.stderr).toContain('a.jsonl:3: not JSON');
    expect(run.stderr).toMatch(/c\.zip!extra\/plain\.json:2: Request missing required field \(missing user_id, missing device_id\)/);

    const again = await cli(dir, 'replay', 'b.jsonl.gz', '--project', 'web');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/enqueued\s+0 events/);
    expect(again.stdout).toMatch(/duplicates\s+2/);

    expect((await cli(dir, 'replay', 'missing.jsonl')).code).toBe(2);
    expect((await cli(dir, 'replay', 'a.jsonl', '--project', 'nope')).code).toBe(2);

    // A server on the same queue delivers what replay enqueued, mapped like live events.
    const s = await startServer(dir);
    try {
      await waitFor(() => [1, 2, 3, 4, 5, 6, 7].every((n) => emails().includes(`replay${n}@example.com`)), 15_000, 'replayed deliveries');
      expect(fake.bodies.find((b) => (b.data as Record<string, unknown>).email === 'replay5@example.com')).toEqual({
        event_name: 'Order Completed',
        event_time: '2024-11-27T09:33:20.000Z',
        data: { revenue: 5, partner_conversion_id: 'exp-5', extole_app_type: 'extole-stream', email: 'replay5@example.com' },
      });
    } finally {
      await s.close();
    }
  });

  it('lists, shows, replays and purges dead letters', async () => {
    // Extole rejects "bad" people: those become dead letters (rejected, 400, event_blocked).
    fake.respond = (body) => (String((body.data as Record<string, unknown>).email).startsWith('bad') ? 400 : 200);
    const s = await startServer(dir);
    try {
      const events = ['bad1@example.com', 'bad2@example.com', 'good@example.com'].map((u, i) => ({ event_type: 'Sign Up', user_id: u, insert_id: `dl-${i}` }));
      expect((await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events })).status).toBe(200);
      await waitFor(async () => (await s.runtime.queue.listDeadLetters()).length === 2, 15_000, 'two dead letters');
    } finally {
      await s.close();
    }

    const list = await cli(dir, 'dlq', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+DESTINATION\s+REASON\s+STATUS\s+CODE\s+ATTEMPTS\s+LAST ATTEMPT/);
    expect(list.stdout.match(/referrals\s+rejected\s+400\s+event_blocked\s+1\s+\d{4}-/g)).toHaveLength(2);

    const json = await cli(dir, 'dlq', 'list', '--format', 'json', '--reason', 'rejected');
    const ids = json.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toHaveLength(2);

    const show = await cli(dir, 'dlq', 'show', ids[0]!);
    expect(show.code).toBe(0);
    const letter = JSON.parse(show.stdout) as Record<string, any>;
    expect(letter).toMatchObject({ id: ids[0], destination: 'referrals', reason: 'rejected', http_status: 400, extole_code: 'event_blocked' });
    expect(letter.event).toMatchObject({ event_type: 'Sign Up' });
    expect(letter.request.headers.authorization).toBe('Bearer ***');
    expect(show.stdout).not.toContain(EXTOLE_TOKEN);
    expect((await cli(dir, 'dlq', 'show', 'no-such-id')).code).toBe(1);
    expect((await cli(dir, 'dlq', 'list', '--reason', 'bogus')).code).toBe(2);

    // Paging: --limit with --after the last id shown.
    const page1 = await cli(dir, 'dlq', 'list', '--format', 'json', '--limit', '1');
    const page1Ids = page1.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
    expect(page1Ids).toEqual([ids[0]]);
    const page2 = await cli(dir, 'dlq', 'list', '--format', 'json', '--limit', '1', '--after', page1Ids[0]!);
    expect(page2.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual([ids[1]]);
    const page3 = await cli(dir, 'dlq', 'list', '--format', 'json', '--limit', '1', '--after', ids[1]!);
    expect(page3.code).toBe(0);
    expect(page3.stdout).toBe('');
    expect((await cli(dir, 'dlq', 'list', '--after', 'x1')).code).toBe(2);

    // Extole now takes them: replay through the current config, then deliver.
    fake.respond = () => 200;
    const replayed = await cli(dir, 'dlq', 'replay', '--destination', 'referrals');
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain('2 dead letters replayed → 2 deliveries enqueued');
    expect((await cli(dir, 'dlq', 'list')).stdout).toBe('no dead letters\n');
    const s2 = await startServer(dir);
    try {
      await waitFor(() => emails().includes('bad1@example.com') && emails().includes('bad2@example.com'), 15_000, 'replayed dead letters delivered');

      // One more dead letter, then purge it.
      fake.respond = () => 400;
      expect((await post(`${s2.url}/2/httpapi`, { api_key: WEB_KEY, events: [{ event_type: 'Sign Up', user_id: 'bad3@example.com' }] })).status).toBe(200);
      await waitFor(async () => (await s2.runtime.queue.listDeadLetters()).length === 1, 15_000, 'one dead letter');
    } finally {
      await s2.close();
    }
    const purge = await cli(dir, 'dlq', 'purge', '--reason', 'rejected');
    expect(purge).toMatchObject({ code: 0, stdout: 'dlq purge: deleted 1 dead letter\n' });
    expect((await cli(dir, 'dlq', 'list')).stdout).toBe('no dead letters\n');
  });
});

/**
 * Seed dead letters straight into the SQLite queue: `plan` lists destination names in id order,
 * so the letters of a destination no longer in the config can come first.
 */
async function seedDeadLetters(file: string, plan: string[], reason: 'rejected' | 'expired' = 'rejected'): Promise<void> {
  const queue = new SqliteQueue({ path: file });
  await queue.open();
  try {
    const now = Date.now();
    const events = plan.map((destination, i) => ({
      insertId: `page-${i}`,
      event: JSON.stringify({ event_type: 'Sign Up', user_id: `page${i}@example.com`, insert_id: `page-${i}`, time: now }),
      deliveries: [{ destination, path: '/v6/async-events', body: '{}' }],
    }));
    for (let i = 0; i < events.length; i += 1000) await queue.enqueue('web', events.slice(i, i + 1000), { now, dedupWindowMs: 0 });
    for (const destination of new Set(plan)) {
      for (;;) {
        const items = await queue.claim(destination, 1000, now, 60_000);
        if (items.length === 0) break;
        for (const item of items) {
          await queue.deadLetter(item, {
            reason,
            httpStatus: 400,
            extoleCode: 'event_blocked',
            extoleMessage: null,
            attempts: 1,
            firstAttemptAt: now,
            lastAttemptAt: now,
            configRevision: 'seed',
            request: '{}',
          });
        }
      }
    }
  } finally {
    await queue.close();
  }
}

describe('dlq replay pages through the dead letters', () => {
  it('replays more dead letters than one page, keeping (and not looping on) those of a destination not in the config', { timeout: 60_000 }, async () => {
    const dir = makeConfigDir();
    try {
      // 3 letters of "gone" first (lowest ids), then 1,201 of referrals (pages of 500: 500, 500, 201),
      // then 2 more of "gone" in the middle of the last page.
      const plan = [...Array(3).fill('gone'), ...Array(1100).fill('referrals'), ...Array(2).fill('gone'), ...Array(101).fill('referrals')] as string[];
      await seedDeadLetters(path.join(dir, 'queue.db'), plan);

      // Every read of the dead letters is one bounded page, never the whole DLQ.
      const spy = vi.spyOn(SqliteQueue.prototype, 'listDeadLetters');
      let replayed: Awaited<ReturnType<typeof cli>>;
      try {
        replayed = await cli(dir, 'dlq', 'replay');
        const limits = spy.mock.calls.map(([filter]) => filter?.limit);
        expect(limits.length).toBeGreaterThanOrEqual(3);
        for (const limit of limits) expect(limit).toBeLessThanOrEqual(500);
        const pages = await Promise.all(spy.mock.results.map((r) => r.value as Promise<unknown[]>));
        expect(pages.map((p) => p.length).filter((n) => n > 0)).toEqual([500, 500, 201]);
      } finally {
        spy.mockRestore();
      }
      expect(replayed.code).toBe(0);
      expect(replayed.stdout).toContain('dlq replay: 1201 dead letters replayed → 1201 deliveries enqueued');
      expect(replayed.stderr).toBe('dlq replay: kept 5 dead letters of destinations not in the config: gone\n');

      const queue = new SqliteQueue({ path: path.join(dir, 'queue.db') });
      await queue.open();
      try {
        const stats = await queue.stats(Date.now());
        expect(stats.referrals).toMatchObject({ pending: 1201, deadLetters: 0 });
        expect(stats.gone?.deadLetters).toBe(5);
        expect((await queue.listDeadLetters()).map((l) => l.destination)).toEqual(Array(5).fill('gone'));
      } finally {
        await queue.close();
      }

      // Again, with a filter: nothing left to replay, the kept letters are still counted.
      const again = await cli(dir, 'dlq', 'replay', '--reason', 'rejected');
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('dlq replay: 0 dead letters replayed → 0 deliveries enqueued');
      expect(again.stderr).toBe('dlq replay: kept 5 dead letters of destinations not in the config: gone\n');
      const only = await cli(dir, 'dlq', 'replay', '--destination', 'gone');
      expect(only.stdout).toContain('dlq replay: 0 dead letters replayed');
      expect(only.stderr).toContain('kept 5 dead letters');
    } finally {
      removeDir(dir);
    }
  });

  it('counts kept dead letters exactly under --reason, a page at a time, beyond one page', { timeout: 60_000 }, async () => {
    const dir = makeConfigDir();
    try {
      await seedDeadLetters(path.join(dir, 'queue.db'), Array(1203).fill('gone') as string[]);
      const spy = vi.spyOn(SqliteQueue.prototype, 'listDeadLetters');
      let replayed: Awaited<ReturnType<typeof cli>>;
      try {
        replayed = await cli(dir, 'dlq', 'replay', '--reason', 'rejected');
        const gone = spy.mock.calls.map(([filter]) => filter).filter((f) => f?.destination === 'gone');
        // Pages of 500 (500, 500, 203), each after the last id of the one before.
        expect(gone.map((f) => f?.limit)).toEqual([500, 500, 500]);
        expect(gone[0]?.afterId).toBeUndefined();
        expect(gone[1]?.afterId).toMatch(/^[1-9][0-9]*$/);
        expect(Number(gone[2]?.afterId)).toBeGreaterThan(Number(gone[1]?.afterId));
      } finally {
        spy.mockRestore();
      }
      expect(replayed.code).toBe(0);
      expect(replayed.stderr).toBe('dlq replay: kept 1203 dead letters of destinations not in the config: gone\n');
      const expired = await cli(dir, 'dlq', 'replay', '--reason', 'expired');
      expect(expired.stderr).toBe('');
    } finally {
      removeDir(dir);
    }
  });
});

describe('replay and dlq when the runtime cannot start', () => {
  it('end with 1 on an invalid config and 2 without one, saying why after the command name', async () => {
    const invalid = makeConfigDir({ destinations: { referrals: referralsYaml('http://127.0.0.1:9').replace('projects: [web]', 'projects: [nowhere]') } });
    const empty = mkdtempSync(path.join(os.tmpdir(), 'es-no-config-'));
    const file = path.join(invalid, 'a.jsonl');
    writeFileSync(file, `${exportEvent(1)}\n`);
    try {
      for (const argv of [['replay', file], ['dlq', 'list']]) {
        const bad = await cli(invalid, ...argv);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(new RegExp(`^extole-stream ${argv[0]}: the config is invalid`));
        expect(bad.stderr).toContain("unknown project 'nowhere'");
        const none = await cli(empty, ...argv);
        expect(none.code).toBe(2);
        expect(none.stderr).toMatch(new RegExp(`^extole-stream ${argv[0]}: `));
      }
    } finally {
      removeDir(invalid);
      removeDir(empty);
    }
  });
});
