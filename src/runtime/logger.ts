/**
 * The server's structured logger: pino, JSON lines, with two layers of secret protection.
 * 1. pino `redact` paths blank out fields that carry credentials by name (authorization
 *    headers, api keys, tokens) wherever a caller logs an object.
 * 2. Every finished line passes through the active config's `redact(text)`, which replaces
 *    each resolved secret VALUE with `***`, so a secret that slips into a message or an error
 *    text is still never written.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import type { Writable } from 'node:stream';

/** pino redact paths: credential-bearing fields by name, at the top level and one level down. */
export const REDACT_PATHS: string[] = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  '*.headers.authorization',
  'api_key',
  '*.api_key',
  'apiKey',
  '*.apiKey',
  'accessToken',
  '*.accessToken',
  'access_token',
  '*.access_token',
  'adminToken',
  'admin_token',
  'token',
  'queueUrl',
];

/** Something that turns text with secrets into text without them. */
export type Redactor = (text: string) => string;

/**
 * Build the process logger. Every line goes through `redactors`, read on every line (not
 * copied); the runtime passes one redactor that each reload extends with the new config's
 * secrets, so lines logged from then on hide them too.
 */
export function createLogger(opts: {
  level?: LevelWithSilent;
  out?: Writable;
  redactors: ReadonlyArray<Redactor>;
}): Logger {
  const out = opts.out ?? process.stdout;
  const destination = {
    write(line: string): void {
      let text = line;
      for (const redact of opts.redactors) text = redact(text);
      out.write(text);
    },
  };
  return pino(
    {
      level: opts.level ?? 'info',
      base: { name: 'extole-stream' },
      redact: { paths: REDACT_PATHS, censor: '***' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
