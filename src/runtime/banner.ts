/**
 * The human-readable start-up banner of `serve`: where it listens, the config revision, the
 * active destinations and their projects, the sandbox URL, and a `curl` line that sends an
 * event the config actually delivers (taken from a destination's own `tests:`).
 */
import path from 'node:path';
import type { LoadedConfig } from '../config/model.js';
import { DEFAULT_EXTOLE_BASE_URL } from './runtime.js';
import { VERSION } from '../version.js';
import { isExportShape } from '../events/fields.js';

/** A ready-to-send sample: which project, which api_key text to print, which event. */
export interface SampleEvent {
  project: string;
  /** What to print as the api_key: the real key (sandbox) or a shell expansion of its variable. */
  apiKeyText: string;
  /** True when `apiKeyText` is a shell expression (`$NAME`) rather than the literal key. */
  apiKeyIsShell: boolean;
  event: Record<string, unknown>;
  /** Destination whose test case the event comes from. */
  destination: string | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Quote `text` for a POSIX shell (single quotes). */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Pick an event the config delivers: the first `tests:` case (destinations in name order)
 * that expects a request, comes in HTTP V2 shape and whose project has a key. `insert_id` is
 * left out so running the line twice delivers twice (it would be de-duplicated otherwise).
 */
export function pickSampleEvent(loaded: LoadedConfig, opts: { revealKey: boolean; env: NodeJS.ProcessEnv }): SampleEvent | null {
  const projects = new Map(loaded.projects.map((p) => [p.key, p]));
  const keyText = (projectKey: string): { text: string; shell: boolean } | null => {
    const project = projects.get(projectKey);
    if (!project || project.apiKey === undefined) return null;
    if (opts.revealKey) return { text: project.apiKey, shell: false };
    const ref = loaded.root.projects.find((p) => p.key === projectKey)?.api_key ?? '';
    const m = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(ref);
    return m ? { text: `$${m[1]}`, shell: true } : { text: `<api key of ${projectKey}>`, shell: false };
  };
  const destinations = [...loaded.destinations]
    .filter((d) => d.definition.enabled !== false)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of destinations) {
    for (const test of d.definition.tests ?? []) {
      if (!isRecord(test.expect) || !('request' in test.expect)) continue;
      const event = test.event as unknown;
      if (!isRecord(event) || typeof event.event_type !== 'string' || isExportShape(event)) continue;
      const project = test.project ?? d.definition.projects[0];
      const key = keyText(project);
      if (!key) continue;
      const copy: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(event)) {
        if (k !== 'insert_id') Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      return { project, apiKeyText: key.text, apiKeyIsShell: key.shell, event: copy, destination: d.name };
    }
  }
  // No test case to borrow: a generic event for the first project with a key.
  for (const p of loaded.projects) {
    const key = keyText(p.key);
    if (!key) continue;
    const d = destinations.find((x) => x.definition.projects.includes(p.key));
    const rule = d?.definition.events.find((r) => r.type !== '*');
    const type = rule ? (Array.isArray(rule.type) ? rule.type[0] : rule.type) : 'Test Event';
    return {
      project: p.key,
      apiKeyText: key.text,
      apiKeyIsShell: key.shell,
      event: { event_type: type, user_id: 'test.user@example.com' },
      destination: d?.name ?? null,
    };
  }
  return null;
}

/** The curl command line that posts `sample` to `baseUrl`'s /2/httpapi. */
export function curlLine(baseUrl: string, sample: SampleEvent): string {
  const events = JSON.stringify([sample.event]);
  if (sample.apiKeyIsShell) {
    // '{"api_key":"'"$NAME"'","events":[…]}' — the shell expands only the variable.
    const head = `{"api_key":"`;
    const tail = `","events":${events}}`;
    return `curl -sS -X POST ${baseUrl}/2/httpapi -H 'Content-Type: application/json' -d ${shellQuote(head)}"${sample.apiKeyText}"${shellQuote(tail)}`;
  }
  const body = JSON.stringify({ api_key: sample.apiKeyText, events: [sample.event] });
  return `curl -sS -X POST ${baseUrl}/2/httpapi -H 'Content-Type: application/json' -d ${shellQuote(body)}`;
}

/** The banner text (several lines, ending with a newline). */
export function bannerText(args: {
  url: string;
  loaded: LoadedConfig;
  queueDescription: string;
  sandboxUrl: string | null;
  adminToken: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
}): string {
  const { loaded } = args;
  const lines: string[] = [];
  lines.push(`extole-stream ${VERSION} listening on ${args.url}`);
  lines.push(`  config        ${path.relative(args.cwd, loaded.rootFile) || loaded.rootFile} (revision ${loaded.revision.label})`);
  lines.push(`  queue         ${args.queueDescription}`);
  if (args.sandboxUrl) {
    lines.push(`  sandbox       ${args.sandboxUrl}  (Extole stand-in: every destination delivers here; GET ${args.sandboxUrl}/-/received)`);
  }
  lines.push('  destinations');
  const names = [...loaded.destinations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (names.length === 0) lines.push('    (none)');
  for (const d of names) {
    const def = d.definition;
    const state = def.enabled === false ? 'disabled' : 'enabled ';
    const target = args.sandboxUrl ?? def.extole.base_url ?? DEFAULT_EXTOLE_BASE_URL;
    lines.push(`    ${d.name.padEnd(24)} ${state}  projects ${def.projects.join(', ')}  → ${def.extole.endpoint ?? 'async-events'} @ ${target}`);
  }
  lines.push(`  ingest        POST ${args.url}/2/httpapi · /batch · /webhook/:project`);
  lines.push(
    `  operate       GET /healthz · /readyz · /metrics · /status · /events/live, POST /-/reload${args.adminToken ? ' (admin token)' : ' (loopback only)'}; SIGHUP reloads`,
  );
  const local = args.url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://127.0.0.1:');
  const sample = pickSampleEvent(loaded, { revealKey: args.sandboxUrl !== null, env: args.env });
  if (sample) {
    lines.push(`  try it (project ${sample.project}${sample.destination ? `, delivered by ${sample.destination}` : ''}):`);
    lines.push(`    ${curlLine(local, sample)}`);
  }
  return `${lines.join('\n')}\n`;
}
