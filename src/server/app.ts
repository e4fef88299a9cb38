/**
 * The HTTP server (SPEC §5) on fastify 5:
 *
 * - `POST /2/httpapi`, `POST /batch`: Amplitude's HTTP V2 and Batch contracts, answered the way
 *   Amplitude answers (`code` always equals the HTTP status), 200 only after the queue commit.
 * - `POST /webhook/:project`: Amplitude's Webhook destination (Export-shape events,
 *   `Authorization: Bearer <that project's api_key>`).
 * - `GET /healthz`, `GET /readyz`, `GET /metrics`, `GET /status` (admin), `POST /-/reload` (admin),
 *   `GET /events/live` (admin; Server-Sent Events of every ingestion decision and delivery result).
 *
 * Every answer is JSON with `code` = status, including 404/405/415 and fastify's own errors,
 * because Amplitude SDKs read `code` from the body to decide whether to retry.
 */
import type { IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import { QueueUnavailableError } from '../errors.js';
import type { ActiveConfig, BodyIngestResult, Runtime } from '../runtime/runtime.js';
import type { IngestRequestKind } from '../runtime/ingest-request.js';
import { AMPLITUDE_ERRORS, type AmplitudeErrorBody } from '../runtime/ingest.js';
import { HttpError, payloadTooLarge, readBody } from './body.js';
import { bearerToken, findProjectByKey, isLoopback, secretEquals } from './auth.js';
import { parseLiveQuery } from '../runtime/live.js';

/** Which limit applies to a route's body. */
type BodyKind = 'httpapi' | 'batch' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    bodyKind?: BodyKind;
  }
}

/** Paths that take events (CORS is on for these only: browser SDKs post here). */
const INGEST_PATHS = ['/2/httpapi', '/batch'];
const ADMIN_BODY_LIMIT = 64 * 1024;

export interface BuildServerOptions {
  /** Passed to fastify; tests keep the default. */
  requestTimeoutMs?: number;
}

function isIngestUrl(url: string | undefined): boolean {
  if (!url) return false;
  const path = url.split('?')[0]!;
  return INGEST_PATHS.includes(path) || path.startsWith('/webhook/');
}

function limitFor(kind: BodyKind | undefined, active: ActiveConfig): number {
  if (kind === 'httpapi') return active.limits.httpapiBytes;
  if (kind === 'batch') return active.limits.batchBytes;
  return ADMIN_BODY_LIMIT;
}

/** JSON media types we read: JSON itself, text/plain (browser beacons), or none given. */
function acceptedMediaType(header: string | undefined): boolean {
  if (header === undefined || header.trim() === '') return true;
  const type = header.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type === 'text/plain' || type.endsWith('+json');
}

function sendError(
  reply: FastifyReply,
  body: AmplitudeErrorBody | { code: number; error: string; [key: string]: unknown },
  close = false,
): FastifyReply {
  if (close) reply.header('connection', 'close');
  return reply.code(body.code).send(body);
}

/**
 * Build the fastify app for `runtime`. Call `listen()` on it; `close()` stops accepting and
 * waits for requests in flight (the runtime is closed separately, after it).
 */
export function buildServer(runtime: Runtime, options: BuildServerOptions = {}): FastifyInstance {
  const app = Fastify({
    loggerInstance: runtime.logger as FastifyBaseLogger,
    // Per-request lines would dominate the logs at ingest volume; errors are logged explicitly.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: false,
    requestTimeout: options.requestTimeoutMs ?? 60_000,
    // Default (1 MB) would reject before our own reader; our reader enforces the real limits.
    bodyLimit: 1024 * 1024 * 1024,
  });
  let closing = false;

  app.register(cors, {
    hook: 'onRequest',
    delegator: (req, cb) => {
      if (isIngestUrl(req.url)) {
        cb(null, {
          origin: '*',
          methods: ['POST', 'OPTIONS'],
          allowedHeaders: ['Content-Type', 'Content-Encoding', 'Accept', 'Authorization'],
          maxAge: 86_400,
        });
      } else {
        cb(null, { origin: false });
      }
    },
  });

  // Our own body reader for every content type: size caps after decompression, gzip bombs,
  // text/plain beacons, and Amplitude-shaped errors instead of fastify's.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', async (request: FastifyRequest, payload: IncomingMessage) => {
    if (!acceptedMediaType(request.headers['content-type'])) {
      payload.resume();
      throw new HttpError(415, {
        code: 415,
        error: `Unsupported Media Type: ${String(request.headers['content-type']).slice(0, 80)}; send application/json`,
      });
    }
    const lengthHeader = request.headers['content-length'];
    const contentLength = lengthHeader !== undefined ? Number(lengthHeader) : undefined;
    const encodingHeader = request.headers['content-encoding'];
    return readBody(payload, {
      limit: limitFor(request.routeOptions.config.bodyKind, runtime.active),
      encoding: Array.isArray(encodingHeader) ? encodingHeader.join(',') : encodingHeader,
      contentLength: Number.isFinite(contentLength) ? contentLength : undefined,
    });
  });

  app.addHook('onRequest', async (request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      return sendError(reply, { code: 503, error: 'Server is shutting down' });
    }
    return undefined;
  });
  app.addHook('preClose', async () => {
    closing = true;
    // Live-view streams never end by themselves; close() would wait for them forever.
    runtime.live.closeAll();
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, request, reply) => {
    if (err instanceof HttpError) return sendError(reply, err.body, err.closeConnection);
    if (err instanceof QueueUnavailableError) return sendError(reply, { code: 503, error: 'Service unavailable: the queue cannot take events' });
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status === 413) return sendError(reply, payloadTooLarge().body);
    if (status >= 500) {
      request.log.error({ err: runtime.redact(err.message), code: err.code }, 'request failed');
      return sendError(reply, { code: status, error: 'Internal server error' });
    }
    const text = status === 415 ? 'Unsupported Media Type' : status === 400 ? AMPLITUDE_ERRORS.invalidJson : err.message;
    return sendError(reply, { code: status, error: text });
  });

  app.setNotFoundHandler((request, reply) => sendError(reply, { code: 404, error: AMPLITUDE_ERRORS.invalidPath }));

  /** 405 for a known path with the wrong method (fastify would say 404). */
  const methodNotAllowed = (url: string, allow: string): void => {
    const all = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'];
    app.route({
      method: all.filter((m) => !allow.split(', ').includes(m)),
      url,
      exposeHeadRoute: false,
      handler: async (_request, reply) => {
        reply.header('allow', allow);
        return sendError(reply, { code: 405, error: 'Method not allowed' });
      },
    });
  };

  // ---- ingestion -------------------------------------------------------------------------

  /** Read, transform and commit a body (see `Runtime.ingestBody`), then answer as Amplitude does. */
  async function ingestAndAnswer(request: FastifyRequest, reply: FastifyReply, active: ActiveConfig, kind: IngestRequestKind): Promise<FastifyReply> {
    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    let result: BodyIngestResult;
    try {
      result = await runtime.ingestBody(active, body, kind);
    } catch (err) {
      if (err instanceof QueueUnavailableError) {
        return sendError(reply, { code: 503, error: 'Service unavailable: the queue cannot take events' });
      }
      throw err;
    }
    if (!result.ok) return sendError(reply, result.error);
    request.log.debug({ endpoint: kind.endpoint, ...result.summary }, 'ingested');
    // Only now, after the commit: Amplitude's success summary.
    return reply.code(200).send({
      code: 200,
      events_ingested: result.events,
      payload_size_bytes: result.size,
      server_upload_time: Date.now(),
    });
  }

  const amplitudeIngest = (endpoint: 'httpapi' | 'batch') =>
    async function handler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
      return ingestAndAnswer(request, reply, runtime.active, { endpoint });
    };

  app.post('/2/httpapi', { config: { bodyKind: 'httpapi' } }, amplitudeIngest('httpapi'));
  app.post('/batch', { config: { bodyKind: 'batch' } }, amplitudeIngest('batch'));
  methodNotAllowed('/2/httpapi', 'POST, OPTIONS');
  methodNotAllowed('/batch', 'POST, OPTIONS');

  app.post<{ Params: { project: string } }>('/webhook/:project', { config: { bodyKind: 'batch' } }, async (request, reply) => {
    const active = runtime.active;
    const token = bearerToken(request.headers.authorization);
    const wanted = request.params.project;
    // Same answer for an unknown project and a wrong key: project names are not revealed.
    const project = token !== undefined ? findProjectByKey(active.projects, token) : undefined;
    if (!project || project.key !== wanted) {
      reply.header('www-authenticate', 'Bearer realm="extole-stream"');
      return sendError(reply, { code: 401, error: AMPLITUDE_ERRORS.invalidApiKey });
    }
    return ingestAndAnswer(request, reply, active, { endpoint: 'webhook', project: project.key });
  });
  methodNotAllowed('/webhook/:project', 'POST, OPTIONS');

  // ---- operations ------------------------------------------------------------------------

  app.get('/healthz', async (_request, reply) => reply.send({ code: 200, status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const ready = runtime.ready();
    if (!ready.ready) return sendError(reply, { code: 503, error: `not ready: ${ready.reason ?? 'unknown'}` });
    return reply.send({ code: 200, status: 'ready', revision: runtime.active.revision });
  });

  app.get('/metrics', async (request, reply) => {
    try {
      await runtime.refreshQueueDepth();
    } catch (err) {
      // Still serve the other metrics; the depth gauge keeps its last value.
      request.log.warn({ err: runtime.redact(err instanceof Error ? err.message : String(err)) }, 'queue depth unavailable');
    }
    const text = await runtime.metrics.registry.metrics();
    return reply.type(runtime.metrics.registry.contentType).send(text);
  });

  /** Admin: the bearer token when configured, else loopback peers only. */
  const admin = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const expected = runtime.active.adminToken;
    if (expected) {
      const token = bearerToken(request.headers.authorization);
      if (token === undefined || !secretEquals(token, expected)) {
        reply.header('www-authenticate', 'Bearer realm="extole-stream admin"');
        return sendError(reply, { code: 401, error: 'Unauthorized: admin token required' });
      }
      return undefined;
    }
    if (!isLoopback(request.socket.remoteAddress)) {
      return sendError(reply, { code: 403, error: 'Forbidden: set server.admin_token to use this from another host' });
    }
    return undefined;
  };

  app.get('/status', { preHandler: admin }, async (_request, reply) => reply.send({ code: 200, ...(await runtime.status()) }));
  methodNotAllowed('/status', 'GET, HEAD');

  // Live view: `?destination=a,b&project=p&outcome=drop,duplicate&full=1`. Hijacked: the stream
  // is written by the hub, outside fastify's reply cycle.
  app.get('/events/live', { preHandler: admin, exposeHeadRoute: false }, async (request, reply) => {
    const parsed = parseLiveQuery(request.query as Record<string, unknown>);
    if (!parsed.ok) return sendError(reply, { code: 400, error: parsed.error });
    reply.hijack();
    runtime.live.attach(reply.raw, parsed.filter);
    return reply;
  });
  methodNotAllowed('/events/live', 'GET');

  app.post('/-/reload', { preHandler: admin, config: { bodyKind: 'admin' } }, async (_request, reply) => {
    const result = await runtime.reload();
    const status = result.ok ? 200 : 422;
    return reply.code(status).send({ code: status, ...result });
  });
  methodNotAllowed('/-/reload', 'POST');

  return app;
}
