/**
 * Real temporary git repositories for the plan tests: a small config, two destinations and
 * recorded samples, committed on `main`; each test then edits the working tree.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';

/** The access token's value: tests assert it never appears in any output. */
export const SECRET_TOKEN = 'tok-9f8e7d6c5b4a3921';

/** Environment for git (commits on a bare machine, no user/system config) and the config's secrets. */
export function testEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_AUTHOR_NAME: 'Plan Test',
    GIT_AUTHOR_EMAIL: 'plan-test@example.com',
    GIT_COMMITTER_NAME: 'Plan Test',
    GIT_COMMITTER_EMAIL: 'plan-test@example.com',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: os.devNull,
    PLAN_TEST_EXTOLE_TOKEN: SECRET_TOKEN,
    PLAN_TEST_WEB_KEY: 'web-key-0123456789',
    NO_COLOR: '1',
    ...extra,
  };
}

export const ROOT_CONFIG = `version: 1
destinations: destinations/*.yaml
projects:
  - key: web-prod
    amplitude_project_id: 1
    api_key: \${env:PLAN_TEST_WEB_KEY}
  - key: ios-prod
    amplitude_project_id: 2
    api_key: \${env:PLAN_TEST_IOS_KEY}
samples: samples/*.jsonl
`;

export const REFERRALS = `name: referrals
projects: [web-prod, ios-prod]
extole:
  access_token: \${env:PLAN_TEST_EXTOLE_TOKEN}
events:
  - type: Order Completed
    where: event_properties.revenue > 0
identity:
  email: user_id
properties:
  event: [revenue, currency, coupon_code]
mapping:
  data:
    partner_conversion_id: insert_id
tests:
  - name: a purchase is sent
    project: web-prod
    event: { event_type: Order Completed, user_id: t@example.com, time: 1732700000000, insert_id: t-1, event_properties: { revenue: 5 } }
    expect: { request: { path: /v6/async-events } }
`;

export const SIGNUPS = `name: signups
projects: [web-prod]
extole:
  access_token: \${env:PLAN_TEST_EXTOLE_TOKEN}
events:
  - type: Sign Up
`;

const T = 1732700000000;
/** Six recorded events; the file name names no project, so each runs for both projects. */
export const SAMPLE_EVENTS = [
  { event_type: 'Order Completed', user_id: 'ann@example.com', time: T, insert_id: 'o-1', event_properties: { revenue: 42, currency: 'USD' } },
  { event_type: 'Order Completed', user_id: 'bob@example.com', time: T + 1, insert_id: 'o-2', event_properties: { revenue: 20 } },
  { event_type: 'Order Completed', device_id: 'device-3', time: T + 2, insert_id: 'o-3', event_properties: { revenue: 10 } },
  { event_type: 'Page Viewed', user_id: 'ann@example.com', time: T + 3, insert_id: 'p-1' },
  { event_type: 'Sign Up', user_id: 'carla@example.org', time: T + 4, insert_id: 's-1' },
  // A coupon code that happens to equal the token: the plan must print it redacted.
  { event_type: 'Order Completed', user_id: 'dan@example.com', time: T + 5, insert_id: 'o-secret', event_properties: { revenue: 7, coupon_code: SECRET_TOKEN } },
];

export interface Repo {
  dir: string;
  env: NodeJS.ProcessEnv;
  write(file: string, text: string): void;
  remove(file: string): void;
  git(...args: string[]): string;
  commitAll(message: string): void;
  cleanup(): void;
}

/** A fresh repository; `files` default to the standard config (at `prefix`, '' = repository top). */
export function makeRepo(opts: { prefix?: string; commit?: boolean } = {}): Repo {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'plan-test-'));
  const env = testEnv();
  const prefix = opts.prefix ?? '';
  const repo: Repo = {
    dir,
    env,
    write(file, text) {
      const target = path.join(dir, file);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text);
    },
    remove(file) {
      rmSync(path.join(dir, file));
    },
    git(...args) {
      return execFileSync('git', args, { cwd: dir, env, encoding: 'utf8' });
    },
    commitAll(message) {
      repo.git('add', '-A');
      repo.git('commit', '-q', '-m', message);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  repo.git('init', '-q', '-b', 'main');
  repo.write(path.join(prefix, 'extole.config.yaml'), ROOT_CONFIG);
  repo.write(path.join(prefix, 'destinations/referrals.yaml'), REFERRALS);
  repo.write(path.join(prefix, 'destinations/signups.yaml'), SIGNUPS);
  repo.write(path.join(prefix, 'samples/events.jsonl'), SAMPLE_EVENTS.map((e) => JSON.stringify(e)).join('\n') + '\n');
  if (opts.commit !== false) repo.commitAll('config');
  return repo;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** Run the CLI in-process (`extole-stream …args`) and capture its output. */
export async function runCli(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr, stdin: Readable.from([]), cwd: opts.cwd, env: opts.env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
