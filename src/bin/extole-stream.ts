#!/usr/bin/env node
import { main } from '../cli/main.js';
import { hardExitOnStop, hardExitTimeout } from './hard-exit.js';

const controller = new AbortController();
main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  cwd: process.cwd(),
  env: process.env,
  signal: controller.signal,
  // serve's stop signal arms an unref'd timer: whatever is still open, the process ends within 30 s.
  shutdown: hardExitOnStop({
    timeoutMs: hardExitTimeout(process.env),
    // The one place the program ends itself (a clean run simply lets the event loop drain).
    exit: (code) => process.exit(code),
    write: (text) => void process.stderr.write(text),
  }),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`extole-stream: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
