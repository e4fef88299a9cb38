#!/usr/bin/env node
import { main } from '../cli/main.js';

const controller = new AbortController();
main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  cwd: process.cwd(),
  env: process.env,
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`extole-stream: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
