/**
 * Typed errors with stable codes, in the style of undici and Fastify: callers branch on
 * `err.code`, never on message text.
 */
export class ExtoleStreamError extends Error {
  /** Stable machine-readable code, e.g. `ES_CONFIG_INVALID`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Config could not be loaded or is invalid; `diagnostics` lists every problem. */
export class ConfigError extends ExtoleStreamError {
  constructor(message: string, readonly diagnostics: import('./config/diagnostics.js').Diagnostic[] = []) {
    super('ES_CONFIG_INVALID', message);
  }
}

/** A usage or I/O problem on the command line (exit code 2). */
export class UsageError extends ExtoleStreamError {
  constructor(message: string) {
    super('ES_USAGE', message);
  }
}

/** The queue cannot take or give events (ingest answers 503). */
export class QueueUnavailableError extends ExtoleStreamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ES_QUEUE_UNAVAILABLE', message, options);
  }
}
