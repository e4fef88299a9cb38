import type { Readable, Writable } from 'node:stream';

/** Everything a command touches of the outside world, so tests can run commands in-process. */
export interface CliContext {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Set by a command's action; `main` returns it. 0 success, 1 check failed, 2 usage/I-O. */
  exitCode: number;
  /** Resolves when a long-running command (serve, sandbox) should stop; tests may call `stop()`. */
  signal?: AbortSignal;
  /**
   * Told by `serve` when a stop signal arrived and when its shutdown finished (`clean`: the
   * queue closed in time). src/bin arms its hard-exit fallback with it (SPEC §5: exit within 30 s).
   */
  shutdown?: ShutdownListener;
}

/** See `CliContext.shutdown`. */
export interface ShutdownListener {
  requested(reason: string): void;
  finished(clean: boolean): void;
}

/** Global options every command has. */
export interface GlobalOptions {
  config?: string;
}
