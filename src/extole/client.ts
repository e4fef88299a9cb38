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

/** A keep-alive client for one destination's Extole base URL. */
export class ExtoleClient {
  readonly baseUrl: string;
  readonly connections: number;
  private readonly pool: Pool;
  private readonly prefix: string;

  constructor(options: ExtoleClientOptions) {
    const url = new URL(options.baseUrl);
    this.baseUrl = options.baseUrl;
    this.connections = Math.max(1, Math.floor(options.connections));
    // A base URL may carry a path (a proxy in front of Extole); request paths go under it.
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.pool = new Pool(url.origin, {
      connections: this.connections,
      pipelining: 1,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      keepAliveMaxTimeout: 600_000,
    });
  }

  /**
   * POST `bodyJson` to `{base_url}{path}` with the SPEC §3.1 headers. `timeoutMs` bounds the whole
   * exchange (connect, headers and body). Resolves with a `SendResult`; never rejects.
   */
  async send(path: string, bodyJson: string, accessToken: string, timeoutMs: number): Promise<SendResult> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const response = await this.pool.request({
        method: 'POST',
        path: this.prefix + path,
        headers: {
          authorization: `Bearer ${accessToken}`,
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          accept: 'application/json',
        },
        body: bodyJson,
        signal: controller.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const body = await readCapped(response.body);
      const retryAfterHeader = response.headers['retry-after'];
      const retryAfter = Array.isArray(retryAfterHeader) ? retryAfterHeader[0] ?? null : retryAfterHeader ?? null;
      const status = response.statusCode;
      const error = status >= 300 ? parseExtoleError(body) : null;
      return {
        kind: 'response',
        status,
        extoleCode: error?.code ?? null,
        extoleMessage: error?.message ?? null,
        retryAfter,
        body,
      };
    } catch (err) {
      const e = err as { code?: string; name?: string; message?: string };
      if (
        timedOut ||
        e.code === 'UND_ERR_HEADERS_TIMEOUT' ||
        e.code === 'UND_ERR_BODY_TIMEOUT' ||
        e.code === 'UND_ERR_CONNECT_TIMEOUT'
      ) {
        return { kind: 'timeout', message: `no complete response within ${timeoutMs} ms` };
      }
      // Messages of network errors never contain the request headers; keep them short anyway.
      return {
        kind: 'network-error',
        code: e.code ?? e.name ?? 'ERROR',
        message: String(e.message ?? err).slice(0, 500),
      };
    } finally {
      clearTimeout(timer);
    }
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

async function readCapped(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<string> {
  let text = '';
  for await (const chunk of body) {
    if (text.length < MAX_BODY_CHARS) text += chunk.toString('utf8');
    // Keep draining so the socket can be reused, but stop keeping bytes.
  }
  return text.length > MAX_BODY_CHARS ? text.slice(0, MAX_BODY_CHARS) : text;
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
