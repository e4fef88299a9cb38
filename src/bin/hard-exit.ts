/**
 * The last resort behind SPEC §5 "SIGTERM/SIGINT: … exit 0 within 30 s": once `serve` has
 * received a stop signal, an unref'd timer ends the process after `timeoutMs` whatever is still
 * open (a socket a client holds, a queue that does not close), so an orchestrator's grace period
 * never ends in SIGKILL. The timer is unref'd: a clean shutdown exits on its own before it.
 *
 * Exit code when it fires: 0 when serve had finished its shutdown cleanly (the queue closed;
 * only stray handles kept the process alive), 2 otherwise (the shutdown itself had not finished:
 * an I/O problem; nothing acknowledged is lost, leased deliveries come back after their lease).
 */
import type { ShutdownListener } from '../cli/context.js';

/** SPEC §5: within 30 s of the stop signal. */
export const HARD_EXIT_MS = 30_000;

export interface HardExitOptions {
  /** Default HARD_EXIT_MS. */
  timeoutMs?: number;
  /** Ends the process (bin passes `process.exit`; only bin may). */
  exit: (code: number) => void;
  /** Where the notice goes (stderr). */
  write: (text: string) => void;
  /** Kinds of handles keeping the process alive (default `process.getActiveResourcesInfo()`). */
  activeResources?: () => string[];
}

/** `TCPSocketWrap ×2, Timeout ×1` from a list of resource kinds. */
export function describeResources(kinds: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  if (counts.size === 0) return 'nothing';
  return [...counts].map(([kind, n]) => `${kind} ×${n}`).join(', ');
}

/**
 * A `ShutdownListener` for the CLI context: the first `requested()` arms the timer, `finished()`
 * records how the shutdown ended. Returns the listener and a `cancel()` for tests.
 */
export function hardExitOnStop(options: HardExitOptions): ShutdownListener & { cancel(): void } {
  const timeoutMs = options.timeoutMs ?? HARD_EXIT_MS;
  let timer: NodeJS.Timeout | undefined;
  let outcome: 'running' | 'clean' | 'unclean' = 'running';
  let reason = 'stop';
  return {
    requested(signal: string): void {
      if (timer) return;
      reason = signal;
      timer = setTimeout(() => {
        const code = outcome === 'clean' ? 0 : 2;
        const open = describeResources((options.activeResources ?? (() => process.getActiveResourcesInfo()))());
        const state = outcome === 'running' ? 'the shutdown has not finished' : outcome === 'clean' ? 'the shutdown finished' : 'the queue did not close in time';
        options.write(`extole-stream serve: ${Math.round(timeoutMs / 1000)} s after ${reason} and ${state}; exiting with code ${code}. Still open: ${open}\n`);
        options.exit(code);
      }, timeoutMs);
      timer.unref();
    },
    finished(clean: boolean): void {
      outcome = clean ? 'clean' : 'unclean';
    },
    cancel(): void {
      if (timer) clearTimeout(timer);
    },
  };
}

/**
 * The timeout from `EXTOLE_STREAM_HARD_EXIT_MS` (whole ms, 1 … 30 000: shorter for a tighter
 * grace period, never longer than SPEC's 30 s), else HARD_EXIT_MS.
 */
export function hardExitTimeout(env: NodeJS.ProcessEnv): number {
  const text = env.EXTOLE_STREAM_HARD_EXIT_MS;
  if (text === undefined || !/^[0-9]{1,6}$/.test(text)) return HARD_EXIT_MS;
  const ms = Number(text);
  return ms >= 1 && ms <= HARD_EXIT_MS ? ms : HARD_EXIT_MS;
}
