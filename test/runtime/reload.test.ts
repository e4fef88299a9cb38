/**
 * Reloads over a long life: a server that reloads its config (SIGHUP, POST /-/reload, a GitOps
 * sync every minute) must not keep the configs it replaced, yet must go on hiding their secrets.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { Runtime } from '../../src/runtime/runtime.js';
import { LogSink, makeConfigDir, removeDir, rootYaml, TEST_ENV } from '../server/helpers.js';

// A real collection on demand: --expose-gc set at run time, `gc` taken from a fresh context.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startRuntime(dir: string, delivery = true): Promise<{ runtime: Runtime; logs: LogSink }> {
  const logs = new LogSink();
  const runtime = await Runtime.start({ cwd: dir, env: TEST_ENV, logOut: logs, logLevel: 'info', delivery });
  cleanups.push(() => runtime.close());
  return { runtime, logs };
}

describe('Runtime reload', () => {
  it('keeps no replaced config alive (each one holds its YAML sources and compiled mappings), delivery running', async () => {
    const dir = makeConfigDir();
    cleanups.push(() => removeDir(dir));
    const { runtime } = await startRuntime(dir);
    const replaced = new WeakRef(runtime.active.loaded);
    for (let i = 0; i < 3; i++) expect(await runtime.reload()).toMatchObject({ ok: true });
    expect(runtime.active.loaded).not.toBe(replaced.deref());
    // A WeakRef's target lives at least until the current job ends: collect after a turn.
    await nextTurn();
    collectGarbage();
    await nextTurn();
    collectGarbage();
    expect(replaced.deref(), 'the first config is still reachable after three reloads').toBeUndefined();
  });

  it('still hides a secret that a reload replaced, and the new one', async () => {
    const dir = makeConfigDir();
    cleanups.push(() => removeDir(dir));
    // The web project's key comes from a file, so a reload can rotate it.
    const keyFile = path.join(dir, 'web.key');
    writeFileSync(keyFile, 'old-web-key-0123456789');
    writeFileSync(path.join(dir, 'extole.config.yaml'), rootYaml({}).replace('${env:TEST_WEB_KEY}', '${file:web.key}'));
    const { runtime, logs } = await startRuntime(dir, false);
    writeFileSync(keyFile, 'new-web-key-9876543210');
    expect(await runtime.reload()).toMatchObject({ ok: true });
    expect(runtime.redact('old-web-key-0123456789 / new-web-key-9876543210 / ios')).toBe('*** / *** / ios');
    runtime.logger.warn({ detail: 'old-web-key-0123456789' }, 'sent new-web-key-9876543210');
    expect(logs.text).not.toContain('web-key-');
    expect(logs.text).toContain('***');
  });
});
