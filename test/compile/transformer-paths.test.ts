/**
 * The transformer has two implementations of SPEC §3.1: a synchronous one (every expression
 * compiled to JavaScript) and an awaiting one (the jsonata evaluator). They must decide alike:
 * every sample and every `tests:` event of the example config, through every destination and
 * project, gives the same outcome and the same bytes on both paths.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { compileDestination } from '../../src/compile/transformer.js';
import { normalizeEvent } from '../../src/events/normalize.js';
import type { Outcome } from '../../src/compile/types.js';

const repoRoot = new URL('../../', import.meta.url).pathname;

function comparable(outcome: Outcome): unknown {
  return outcome.outcome === 'send'
    ? { outcome: 'send', request: outcome.request, bodyJson: outcome.bodyJson }
    : { outcome: 'drop', reason: outcome.reason, message: outcome.message };
}

describe('synchronous and jsonata transformer paths', () => {
  it('decide alike on every sample and test event of the example config', async () => {
    const config = await loadConfig({ cwd: repoRoot, env: {} });
    expect(config.ok).toBe(true);
    const events: Record<string, unknown>[] = [];
    for (const file of ['samples/http-v2.jsonl', 'samples/export.jsonl']) {
      for (const line of readFileSync(repoRoot + file, 'utf8').split('\n')) {
        if (line.trim()) events.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
    for (const dest of config.destinations) {
      for (const t of dest.definition.tests ?? []) events.push(t.event as Record<string, unknown>);
    }
    expect(events.length).toBeGreaterThan(60);

    let compared = 0;
    const outcomes = new Set<string>();
    for (const dest of config.destinations) {
      const fast = compileDestination(dest, { fastPath: true });
      // A loaded CI machine must not turn a slow evaluation into a time-limit mapping_error here:
      // this test compares decisions, the guardrails have their own tests.
      const slow = compileDestination(dest, { fastPath: false, guardrails: { timeoutMs: 30_000 } });
      expect(fast.sync).toBe(true);
      expect(slow.sync).toBe(false);
      for (const raw of events) {
        const event = normalizeEvent(raw, { now: 0 });
        for (const project of config.projects.map((p) => p.key)) {
          const a = fast.transform(event, project);
          expect(a).not.toBeInstanceOf(Promise);
          const b = await slow.transform(event, project);
          expect(comparable(a as Outcome)).toEqual(comparable(b));
          outcomes.add(a instanceof Promise ? 'promise' : a.outcome === 'send' ? 'send' : a.reason);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(400);
    // The comparison covers sends and every drop reason, or it proves less than it claims.
    expect([...outcomes].sort()).toEqual(
      ['destination_disabled', 'event_not_selected', 'mapping_error', 'no_identity', 'project_not_enabled', 'send', 'too_large'].sort(),
    );
  });
});
