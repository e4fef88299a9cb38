/**
 * One HTTP client per destination: an undici `Pool` with keep-alive towards the destination's
 * `base_url` (SPEC §6). It sends one Extole request and reports what happened as data — a
 * response (status, Extole error code/message, Retry-After) or a network error/timeout — and
 * never throws for anything the remote side does. Deciding what a result means is classify.ts.
 *
 * The access token is passed per call and only ever placed in the Authorization header.
 */
import { Pool } from 'undici';
import { USER_AGENT } from '../version.js';

/** What one send produced. */
export type SendResult =
  | {
      kind: 'response';
      status: number;
      /** `code` of a `RestExceptionResponse` body, when the body is one. */
      extoleCode: string | null;
      /** `message` of a `RestExceptionResponse` body, when the body is one. */
      extoleMessage: string | null;
      /** The raw `Retry-After` header, when present. */
      retryAfter: string | null;
      /** Response body as text, cut at `MAX_BODY_CHARS`. */
      body: string;
    }
  | {
      kind: 'network-error';
      /** undici / Node error code, e.g. `ECONNRESET`, `UND_ERR_SOCKET`, `ECONNREFUSED`. */
      code: string;
      message: string;
    }
  | {
      kind: 'timeout';
      message: string;
    };

export interface ExtoleClientOptions {
  /** Destination base URL, e.g. `https://events.extole.io` (a path prefix is kept). */
  baseUrl: string;
  /** Connections in the pool: `delivery.concurrency`. */
  connections: number;
  /** Idle keep-alive per socket; undici default is 4 s, Extole sits behind load balancers. */
  keepAliveTimeoutMs?: number;
}

/** Longest response body kept: error bodies are small; a huge one must not cost memory. */
const MAX_BODY_CHARS = 64 * 1024;
/** Bytes kept to decode at most `MAX_BODY_CHARS` characters (UTF-8: up to 4 bytes each). */
const MAX_BODY_BYTES = MAX_BODY_CHARS * 4;

/** A keep-alive client for one destination's Extole base URL. */
export class ExtoleClient {
  readonly baseUrl: string;
  readonly connections: number;
  private readonly pool: Pool;
  private readonly prefix: string;
  /** The SPEC §3.1 headers for the last token used: one object per token, not per request. */
  private headers: Record<string, string> | undefined;
  private headersToken: string | undefined;

  constructor(options: ExtoleClientOptions) {
    const url = new URL(options.baseUrl);
    this.baseUrl = options.baseUrl;
    this.connections = Math.max(1, Math.floor(options.connections));
    // A base URL may carry a path (a proxy in front of Extole); request paths go under it.
    this.prefix = url.pathname.replace(/\/+$/, '');
    // One connection per concurrent request and no pipelining: a slow answer must not hold up the
    // requests queued behind it on the same socket.
    this.pool = new Pool(url.origin, {
      connections: this.connections,
      pipelining: 1,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      keepAliveMaxTimeout: 600_000,
    });
  }

  /**
   * POST `bodyJson` to `{base_url}{path}` with the SPEC §3.1 headers. `timeoutMs` bounds the whole
   * exchange (waiting for a connection, connect, headers and body). Resolves with a `SendResult`;
   * never rejects.
   */
  send(path: string, bodyJson: string, accessToken: string, timeoutMs: number): Promise<SendResult> {
    if (this.headersToken !== accessToken || this.headers === undefined) {
      this.headers = {
        authorization: `Bearer ${accessToken}`,
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        accept: 'application/json',
      };
      this.headersToken = accessToken;
    }
    return new Promise<SendResult>((resolve) => {
      const handler = new SendHandler(resolve, timeoutMs);
      try {
        this.pool.dispatch(
          { method: 'POST', path: this.prefix + path, headers: this.headers, body: bodyJson, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
          handler,
        );
      } catch (err) {
        handler.onError(err as Error);
      }
    });
  }

  /** Let in-flight requests finish, then close the sockets. */
  async close(): Promise<void> {
    if (!this.pool.closed) await this.pool.close();
  }

  /** Close at once, failing in-flight requests. */
  async destroy(): Promise<void> {
    if (!this.pool.destroyed) await this.pool.destroy();
  }
}

/**
 * Collects one response for `send` through undici's dispatch handler interface (the one its own
 * `request()` is built on in undici 7): no body stream, async iterator, AbortSignal or header
 * object per request, which is most of a request's cost on a fast local link. The timeout is one
 * timer that aborts the exchange wherever it is (still queued for a connection, or on a socket).
 */
class SendHandler {
  private status = 0;
  private retryAfter: string | null = null;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private abortRequest: ((err: Error) => void) | undefined;
  private timedOut = false;
  private finished = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly resolve: (result: SendResult) => void,
    private readonly timeoutMs: number,
  ) {
    this.timer = setTimeout(this.onTimeout, timeoutMs);
  }

  private readonly onTimeout = (): void => {
    this.timedOut = true;
    const abort = this.abortRequest;
    // Answer now, even for a request still queued for a connection: onConnect then aborts it
    // before a byte is written.
    if (!this.finish()) this.resolve({ kind: 'timeout', message: `no complete response within ${this.timeoutMs} ms` });
    abort?.(new Error(`no complete response within ${this.timeoutMs} ms`));
  };

  onConnect(abort: (err: Error) => void): void {
    if (this.timedOut) abort(new Error(`no complete response within ${this.timeoutMs} ms`));
    else this.abortRequest = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], _resume: () => void, _statusText: string): boolean {
    this.status = statusCode;
    // Only Retry-After is needed: find it without building a header object.
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      if (name.length === 11 && this.retryAfter === null && name.toString('latin1').toLowerCase() === 'retry-after') {
        this.retryAfter = rawHeaders[i + 1]!.toString('latin1');
      }
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    // Keep draining so the socket can be reused, but stop keeping bytes past the cap.
    if (this.bytes < MAX_BODY_BYTES) {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
    }
    return true;
  }

  onComplete(_trailers: unknown): void {
    if (this.finish()) return;
    const raw = this.chunks.length === 1 ? this.chunks[0]!.toString('utf8') : Buffer.concat(this.chunks).toString('utf8');
    const body = raw.length > MAX_BODY_CHARS ? raw.slice(0, MAX_BODY_CHARS) : raw;
    const status = this.status;
    const error = status >= 300 ? parseExtoleError(body) : null;
    this.resolve({
      kind: 'response',
      status,
      extoleCode: error?.code ?? null,
      extoleMessage: error?.message ?? null,
      retryAfter: this.retryAfter,
      body,
    });
  }

  onError(err: Error): void {
    if (this.finish()) return;
    const e = err as { code?: string; name?: string; message?: string };
    if (
      this.timedOut ||
      e.code === 'UND_ERR_HEADERS_TIMEOUT' ||
      e.code === 'UND_ERR_BODY_TIMEOUT' ||
      e.code === 'UND_ERR_CONNECT_TIMEOUT'
    ) {
      this.resolve({ kind: 'timeout', message: `no complete response within ${this.timeoutMs} ms` });
      return;
    }
    // Messages of network errors never contain the request headers; keep them short anyway.
    this.resolve({ kind: 'network-error', code: e.code ?? e.name ?? 'ERROR', message: String(e.message ?? err).slice(0, 500) });
  }

  /** True when the result was already given (undici may report an error after completion). */
  private finish(): boolean {
    if (this.finished) return true;
    this.finished = true;
    clearTimeout(this.timer);
    return false;
  }
}

/**
 * `{code, message}` of an Extole `RestExceptionResponse` body, or null when the body is not one.
 * Values are cut to a sane length: they end up in dead letters and logs.
 */
export function parseExtoleError(body: string): { code: string | null; message: string | null } | null {
  if (!body || body[0] !== '{') return null;
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const code = typeof parsed.code === 'string' ? parsed.code.slice(0, 200) : null;
    const message = typeof parsed.message === 'string' ? parsed.message.slice(0, 2000) : null;
    return code === null && message === null ? null : { code, message };
  } catch {
    return null;
  }
}
