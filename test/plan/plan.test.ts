import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { computePlan, type DestinationPlan, type Plan, type PlanResult } from '../../src/plan/index.js';
import { makeRepo, REFERRALS, runCli, SECRET_TOKEN, SIGNUPS, type Repo } from './fixture.js';

let repo: Repo | undefined;
afterEach(() => {
  repo?.cleanup();
  repo = undefined;
});

function setup(opts?: Parameters<typeof makeRepo>[0]): Repo {
  repo = makeRepo(opts);
  return repo;
}

async function plan(r: Repo, extra: { events?: string; maxDiffs?: number; cwd?: string } = {}): Promise<Plan> {
  const result: PlanResult = await computePlan({ base: 'main', cwd: extra.cwd ?? r.dir, env: r.env, ...extra });
  if (result.kind !== 'plan') throw new Error(`expected a plan, got ${JSON.stringify(result.invalid.map((s) => s.side))}`);
  return result.plan;
}

function dest(p: Plan, name: string): DestinationPlan {
  const d = p.destinations.find((x) => x.name === name);
  if (!d) throw new Error(`no destination ${name} in plan`);
  return d;
}

// 6 samples × 2 projects (the sample file names no project) + 1 test event (web-prod).
const RUNS = 13;

describe('plan against a real git repository', () => {
  it('an unchanged working tree plans no changes, with counts from samples and tests', async () => {
    const r = setup();
    const p = await plan(r);
    expect(p.events).toMatchObject({ source: 'samples', files: ['samples/events.jsonl'], tests: 1, runs: RUNS });
    expect(p.baseHasConfig).toBe(true);
    expect(p.baseCommit).toMatch(/^[0-9a-f]{40}$/);
    const referrals = dest(p, 'referrals');
    expect(referrals).toMatchObject({ status: 'unchanged', events: RUNS, changed: 0, changes: [] });
    expect(referrals.before).toEqual({ send: 7, drop: { event_not_selected: 4, no_identity: 2 } });
    expect(referrals.after).toEqual(referrals.before);
    expect(dest(p, 'signups').before).toEqual({ send: 1, drop: { project_not_enabled: 6, event_not_selected: 6 } });
  });

  it('a changed predicate: purchases under the new threshold go from send to drop(event_not_selected)', async () => {
    const r = setup();
    r.write('destinations/referrals.yaml', REFERRALS.replace('event_properties.revenue > 0', 'event_properties.revenue > 30'));
    const p = await plan(r);
    const referrals = dest(p, 'referrals');
    expect(referrals.status).toBe('changed');
    // o-2, o-secret (both projects), the test's t-1, and o-3 (no_identity → event_not_selected, both projects).
    expect(referrals.changed).toBe(7);
    expect(referrals.after).toEqual({ send: 2, drop: { event_not_selected: 11 } });
    const o2 = referrals.changes.find((c) => c.insertId === 'o-2' && c.project === 'web-prod');
    expect(o2?.before?.outcome).toBe('send');
    expect(o2?.after).toEqual({ outcome: 'drop', reason: 'event_not_selected' });
    expect(dest(p, 'signups')).toMatchObject({ status: 'unchanged', changed: 0 });

    const text = await runCli(['plan', '--base', 'main'], { cwd: r.dir, env: r.env });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('send → drop(event_not_selected)');
    expect(text.stdout).toContain('drop(no_identity) → drop(event_not_selected)');
    expect(text.stdout).not.toMatch(/\x1b\[/); // not a TTY: no colors
    const colored = await runCli(['plan', '--base', 'main'], { cwd: r.dir, env: { ...r.env, NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(colored.stdout).toMatch(/\x1b\[33m~\x1b\[0m referrals/);
  });

  it('a changed mapping shows the request field by field', async () => {
    const r = setup();
    r.write('destinations/referrals.yaml', REFERRALS.replace('properties:\n', 'properties:\n  as_strings: true\n'));
    const p = await plan(r);
    const referrals = dest(p, 'referrals');
    expect(referrals).toMatchObject({ status: 'changed', changed: 7 });
    expect(referrals.after?.send).toBe(7);
    const text = await runCli(['plan', '--base', 'main', '--format', 'text'], { cwd: r.dir, env: r.env });
    expect(text.stdout).toContain('data.revenue: 42 → "42"');
    const md = await runCli(['plan', '--base', 'main', '--format', 'markdown'], { cwd: r.dir, env: r.env });
    expect(md.stdout).toContain('- data.revenue: 42\n+ data.revenue: "42"');
  });

  it('an added and a removed destination: null on the side where it does not exist', async () => {
    const r = setup();
    r.remove('destinations/signups.yaml');
    r.write(
      'destinations/challenges.yaml',
      'name: challenges\nprojects: [ios-prod]\nextole:\n  access_token: ${env:PLAN_TEST_EXTOLE_TOKEN}\nevents:\n  - type: "*"\n',
    );
    const p = await plan(r);
    const challenges = dest(p, 'challenges');
    const signups = dest(p, 'signups');
    expect(challenges).toMatchObject({ status: 'added', before: null, events: RUNS });
    // ios-prod samples with a user_id are new sends (o-3 has none: dropping is no change from "absent").
    expect(challenges.changed).toBe(5);
    expect(challenges.after).toEqual({ send: 5, drop: { project_not_enabled: 7, no_identity: 1 } });
    expect(signups).toMatchObject({ status: 'removed', after: null, changed: 1 });
    expect(signups.changes[0]).toMatchObject({ insertId: 's-1', project: 'web-prod', after: null, before: { outcome: 'send' } });

    const json = JSON.parse((await runCli(['plan', '--base', 'main', '--format', 'json'], { cwd: r.dir, env: r.env })).stdout);
    const removed = json.changes.filter((c: { destination: string }) => c.destination === 'signups');
    expect(removed).toHaveLength(1);
    expect(removed[0].after).toBeNull();
    expect(json.changes.filter((c: { destination: string }) => c.destination === 'challenges').every((c: { before: unknown }) => c.before === null)).toBe(true);
  });

  it('a project disabled for a destination: its events become drop(project_not_enabled)', async () => {
    const r = setup();
    r.write('destinations/referrals.yaml', REFERRALS.replace('projects: [web-prod, ios-prod]', 'projects: [web-prod]'));
    const p = await plan(r);
    const referrals = dest(p, 'referrals');
    expect(referrals.status).toBe('changed');
    expect(referrals.changed).toBe(6); // every ios-prod sample run: 3 sends and 3 other drops
    expect(referrals.after).toEqual({ send: 4, drop: { project_not_enabled: 6, event_not_selected: 2, no_identity: 1 } });
    expect(referrals.changes.every((c) => c.project === 'ios-prod')).toBe(true);
    expect(referrals.changes.every((c) => c.after?.outcome === 'drop' && c.after.reason === 'project_not_enabled')).toBe(true);
  });

  it('--max-diffs limits the listed changes, not the counts', async () => {
    const r = setup();
    r.write('destinations/referrals.yaml', REFERRALS.replace('event_properties.revenue > 0', 'event_properties.revenue > 30'));
    const p = await plan(r, { maxDiffs: 2 });
    expect(dest(p, 'referrals').changed).toBe(7);
    expect(dest(p, 'referrals').changes).toHaveLength(2);
    const text = await runCli(['plan', '--base', 'main', '--max-diffs', '2'], { cwd: r.dir, env: r.env });
    expect(text.stdout).toContain('… 5 more (--max-diffs)');
  });

  it('an invalid working tree config exits 1 and names the side with its diagnostics', async () => {
    const r = setup();
    r.write('destinations/referrals.yaml', REFERRALS.replace('name: referrals\n', 'name: referrals\nbogus_key: 1\n'));
    const out = await runCli(['plan', '--base', 'main'], { cwd: r.dir, env: r.env });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('working tree config does not validate');
    expect(out.stderr).toMatch(/destinations\/referrals\.yaml:2:\d+/);
    expect(out.stdout).toBe('');
    const md = await runCli(['plan', '--base', 'main', '--format', 'markdown'], { cwd: r.dir, env: r.env });
    expect(md.code).toBe(1);
    expect(md.stdout).toContain('does not validate');
  });

  it('an invalid base config exits 1 and says it is the base', async () => {
    const r = setup();
    r.write('destinations/signups.yaml', SIGNUPS.replace('projects: [web-prod]', 'projects: [no-such-project]'));
    r.commitAll('broken');
    r.write('destinations/signups.yaml', SIGNUPS);
    const out = await runCli(['plan', '--base', 'main'], { cwd: r.dir, env: r.env });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('the base config (at main) does not validate');
    expect(out.stderr).not.toContain('working tree config does not validate');
    // Paths print as in the working tree, not as the temporary copy.
    expect(out.stderr).toMatch(/^destinations\/signups\.yaml:\d+:\d+/m);
    expect(out.stderr).not.toContain('extole-stream-plan-');
  });

  it('an unknown REF and a folder outside git exit 2', async () => {
    const r = setup();
    const unknown = await runCli(['plan', '--base', 'no-such-branch'], { cwd: r.dir, env: r.env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown git REF "no-such-branch"');
    const missing = await runCli(['plan'], { cwd: r.dir, env: r.env });
    expect(missing.code).toBe(2);

    r.cleanup();
    const plain = makeRepo({ commit: false });
    repo = plain;
    rmSync(path.join(plain.dir, '.git'), { recursive: true, force: true }); // the same files, outside git
    const outside = await runCli(['plan', '--base', 'main'], { cwd: plain.dir, env: plain.env });
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain('not inside a git repository');
  });

  it('prints JSON exactly in the fixed shape', async () => {
    const r = setup();
    r.write('destinations/referrals.yaml', REFERRALS.replace('event_properties.revenue > 0', 'event_properties.revenue > 30'));
    const out = await runCli(['plan', '--base', 'main', '--format', 'json'], { cwd: r.dir, env: r.env });
    expect(out.code).toBe(0);
    const json = JSON.parse(out.stdout);
    expect(Object.keys(json)).toEqual(['base', 'destinations', 'changes']);
    expect(json.base).toBe('main');
    for (const d of json.destinations) {
      expect(Object.keys(d)).toEqual(['name', 'status', 'events', 'changed', 'before', 'after']);
      expect(Object.keys(d.before)).toEqual(['send', 'drop']);
    }
    expect(json.destinations.map((d: { name: string }) => d.name)).toEqual(['referrals', 'signups']);
    expect(json.changes).toHaveLength(7);
    for (const c of json.changes) expect(Object.keys(c)).toEqual(['destination', 'insert_id', 'before', 'after']);
    const o2 = json.changes.find((c: { insert_id: string }) => c.insert_id === 'o-2');
    expect(o2.after).toEqual({ outcome: 'drop', reason: 'event_not_selected' });
    expect(Object.keys(o2.before)).toEqual(['outcome', 'request']);
    expect(o2.before.request).toMatchObject({
      method: 'POST',
      url: 'https://events.extole.io/v6/async-events',
      path: '/v6/async-events',
      body: { event_name: 'Order Completed', data: { revenue: 20, partner_conversion_id: 'o-2', email: 'bob@example.com' } },
    });
    expect(o2.before.request.headers.authorization).toBe('Bearer ***');
  });

  it('markdown has the marker, the summary table and collapsible details with diffs', async () => {
    const r = setup();
    r.write('destinations/referrals.yaml', REFERRALS.replace('event_properties.revenue > 0', 'event_properties.revenue > 30'));
    const out = await runCli(['plan', '--base', 'main', '--format', 'markdown'], { cwd: r.dir, env: r.env });
    expect(out.code).toBe(0);
    const md = out.stdout;
    expect(md.startsWith('<!-- extole-stream-plan -->\n')).toBe(true);
    expect(md).toContain('| destination | status | events | changed | send before→after | drops before→after |');
    expect(md).toContain(`| \`referrals\` | **changed** | ${RUNS} | 7 | 7 → 2 | event_not_selected 4 → 11, no_identity 2 → 0 |`);
    expect(md).toContain(`| \`signups\` | unchanged | ${RUNS} | 0 | 1 → 1 |`);
    expect(md.indexOf('| destination')).toBeLessThan(md.indexOf('<details>'));
    expect(md).toContain('<details><summary><code>referrals</code> (changed): 7 changed event runs</summary>');
    expect(md).toContain('```diff\n- send POST https://events.extole.io/v6/async-events\n+ drop(event_not_selected)\n```');
    expect(md).toContain('</details>');
    expect(md).not.toContain('<code>signups</code>');
  });

  it('never prints a secret, in any format, even when an event carries its value', async () => {
    const r = setup();
    // Leaving coupon_code out changes exactly the event whose coupon equals the token.
    r.write('destinations/referrals.yaml', REFERRALS.replace('[revenue, currency, coupon_code]', '[revenue, currency]'));
    const p = await plan(r);
    expect(dest(p, 'referrals').changed).toBe(2);
    for (const format of ['text', 'markdown', 'json']) {
      const out = await runCli(['plan', '--base', 'main', '--format', format], { cwd: r.dir, env: r.env });
      expect(out.code).toBe(0);
      expect(out.stdout + out.stderr).not.toContain(SECRET_TOKEN);
      expect(out.stdout + out.stderr).not.toContain('web-key-0123456789');
      // The o-secret event is in the output, with its coupon redacted.
      expect(out.stdout).toContain('***');
      expect(out.stdout).toContain('o-secret');
    }
  });

  it('--events GLOB plans with only those files; an Export event with `app` runs for its project only', async () => {
    const r = setup();
    r.write(
      'other/recorded.jsonl',
      [
        JSON.stringify({ event_type: 'Order Completed', user_id: 'x@example.com', time: 1732700000000, insert_id: 'x-1', event_properties: { revenue: 3 } }),
        JSON.stringify({ event_type: 'Order Completed', user_id: 'y@example.com', event_time: '2024-11-27 09:33:20.000000', $insert_id: 'y-1', app: 2, event_properties: { revenue: 4 } }),
      ].join('\n'),
    );
    r.write('destinations/referrals.yaml', REFERRALS.replace('projects: [web-prod, ios-prod]', 'projects: [web-prod]'));
    const p = await plan(r, { events: 'other/*.jsonl' });
    expect(p.events).toMatchObject({ source: 'events', files: ['other/recorded.jsonl'], tests: 0, runs: 3 });
    const referrals = dest(p, 'referrals');
    expect(referrals.changed).toBe(2);
    expect(referrals.changes.map((c) => `${c.insertId}@${c.project}`)).toEqual(['x-1@ios-prod', 'y-1@ios-prod']);

    const none = await runCli(['plan', '--base', 'main', '--events', 'nothing/*.jsonl'], { cwd: r.dir, env: r.env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no file matches --events');
  });

  it('a config in a subfolder that did not exist at the base: every destination is added', async () => {
    const r = setup({ prefix: 'stream', commit: false });
    r.write('README.md', 'app\n');
    r.git('add', 'README.md');
    r.git('commit', '-q', '-m', 'before extole-stream');
    const p = await plan(r, { cwd: `${r.dir}/stream` });
    expect(p.baseHasConfig).toBe(false);
    expect(p.destinations.map((d) => `${d.name}:${d.status}`)).toEqual(['referrals:added', 'signups:added']);
    expect(dest(p, 'referrals').changed).toBe(7);

    // Once committed, the same subfolder config at HEAD is found and unchanged.
    r.commitAll('add extole-stream');
    const again = await plan(r, { cwd: `${r.dir}/stream` });
    expect(again.baseHasConfig).toBe(true);
    expect(again.destinations.every((d) => d.status === 'unchanged' && d.changed === 0)).toBe(true);
  });
});
