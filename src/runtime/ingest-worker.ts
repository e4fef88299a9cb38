/**
 * The ingest worker thread (see `IngestThreads`): reads a request body (JSON, Amplitude's
 * checks, validation, normalization) and runs every transformer on its events, so that the
 * event loop only receives bodies, commits and delivers. It holds the transformers of the
 * configs the event loop sent it, by id; it never touches the queue, metrics or the network.
 */
import { parentPort } from 'node:worker_threads';
import { compileDestination } from '../compile/transformer.js';
import type { Transformer } from '../compile/types.js';
import { packEvents, packedTransferList } from '../queue/packed.js';
import { transformEvents } from './ingest.js';
import { readIngestRequest } from './ingest-request.js';
import type { IngestThreadAnswer, IngestThreadMessage, WorkerConfig } from './ingest-threads.js';

/** A config as this thread holds it; `error` when its destinations did not compile here. */
type HeldConfig = { config: WorkerConfig; transformers: Transformer[]; error?: undefined } | { config: WorkerConfig; error: string };

const configs = new Map<number, HeldConfig>();

async function answer(message: Extract<IngestThreadMessage, { type: 'ingest' }>): Promise<IngestThreadAnswer> {
  const held = configs.get(message.config);
  if (!held) return { id: message.id, type: 'failed', message: `ingest worker: config ${message.config} unknown`, body: message.body };
  if (held.error !== undefined) return { id: message.id, type: 'failed', message: held.error, body: message.body };
  const read = readIngestRequest(message.body, message.kind, {
    projects: held.config.projects,
    eventsPerRequest: held.config.eventsPerRequest,
    now: message.now,
  });
  if (!read.ok) return { id: message.id, type: 'rejected', error: read.error };
  const batch = await transformEvents(held.transformers, read.project, read.events, {
    endpoint: message.kind.endpoint,
    now: message.now,
    dedupOn: message.dedupOn,
    live: message.live,
  });
  // Packed: two moved buffers cross to the event loop instead of an object per event.
  if (Array.isArray(batch.rows)) batch.rows = packEvents(batch.rows);
  return { id: message.id, type: 'transformed', project: read.project, size: read.size, batch };
}

/** The typed arrays an answer hands over instead of copying (this thread no longer needs them). */
function transferable(reply: IngestThreadAnswer): ArrayBuffer[] {
  if (reply.type === 'transformed' && !Array.isArray(reply.batch.rows)) return packedTransferList(reply.batch.rows);
  if (reply.type === 'failed' && reply.body !== undefined) return [reply.body.buffer as ArrayBuffer];
  return [];
}

parentPort!.on('message', (message: IngestThreadMessage) => {
  if (message.type === 'config') {
    const { config } = message;
    try {
      configs.set(config.id, { config, transformers: config.destinations.map((d) => compileDestination(d)) });
    } catch (err) {
      // The event loop compiled the same definitions before activating them; if this thread
      // cannot, it hands each request's body back to the event loop rather than dying.
      configs.set(config.id, { config, error: `ingest worker: ${err instanceof Error ? err.message : String(err)}` });
    }
    return;
  }
  if (message.type === 'forget') {
    configs.delete(message.id);
    return;
  }
  answer(message).then(
    (reply) => parentPort!.postMessage(reply, transferable(reply)),
    (err: unknown) => {
      const reply: IngestThreadAnswer = { id: message.id, type: 'failed', message: err instanceof Error ? err.message : String(err), body: message.body };
      parentPort!.postMessage(reply, transferable(reply));
    },
  );
});
