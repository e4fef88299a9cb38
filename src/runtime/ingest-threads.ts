/**
 * Ingest worker threads (`server.ingest_threads`). An ingest request's CPU work (JSON parse,
 * Amplitude's checks, validation, normalization, every transformer, the event and delivery
 * JSON) runs on a worker thread; the event loop keeps only what needs it: HTTP, the queue
 * commit, metrics, the live view and delivery. Delivery's requests then wait on a short event
 * loop turn instead of behind whole ingest batches.
 *
 * Each thread holds the compiled transformers of the configs it was sent, by id: a request
 * names the config it started with, so a reload never splits a request (as in the event loop).
 * A thread that dies fails its requests in flight (their senders get a 500 and retry; nothing
 * was committed) and is replaced on the next request.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Destination } from '../generated/destination.js';
import type { AmplitudeErrorBody, TransformedBatch } from './ingest.js';
import type { ActiveProject, IngestRequestKind } from './ingest-request.js';

/** What a thread needs of a config: destinations to compile, projects and the event limit. */
export interface WorkerConfig {
  id: number;
  destinations: Array<{ name: string; definition: Destination }>;
  projects: ActiveProject[];
  eventsPerRequest: number;
}

/** Event loop → thread. */
export type IngestThreadMessage =
  | { type: 'config'; config: WorkerConfig }
  | { type: 'forget'; id: number }
  | {
      type: 'ingest';
      id: number;
      config: number;
      body: Uint8Array;
      kind: IngestRequestKind;
      now: number;
      dedupOn: boolean;
      live: boolean;
    };

/** Thread → event loop, one per `ingest` message. */
export type IngestThreadAnswer =
  | { id: number; type: 'rejected'; error: AmplitudeErrorBody }
  | { id: number; type: 'transformed'; project: string; size: number; batch: TransformedBatch }
  /** `body`: the request's bytes handed back, so that the event loop can read them itself. */
  | { id: number; type: 'failed'; message: string; body?: Uint8Array };

/** What `IngestThreads.read` resolves with. */
export type ThreadResult =
  | { ok: false; error: AmplitudeErrorBody }
  | { ok: true; project: string; size: number; batch: TransformedBatch };

/**
 * A thread failed a request (it died, or its code threw): nothing was committed. `body` holds
 * the request's bytes when the thread handed them back (a thread that died took them along).
 */
export class IngestThreadError extends Error {
  readonly code = 'ES_INGEST_THREAD';
  readonly body: Uint8Array | undefined;
  constructor(message: string, body?: Uint8Array) {
    super(message);
    this.name = 'IngestThreadError';
    this.body = body;
  }
}

/** How many configs a thread keeps: the active one and those requests in flight may still name. */
const CONFIGS_HELD = 4;

/** Threads that died (all together) before the pool gives up and the event loop reads bodies itself. */
const MAX_THREAD_DEATHS = 3;

/**
 * The built worker file. From the TypeScript sources (vitest) the sibling `.js` does not exist:
 * then the build's (`npm test` builds first). Undefined when neither is there.
 */
export function ingestWorkerFile(): URL | undefined {
  const sibling = new URL('./ingest-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return sibling;
  const built = new URL('../../dist/runtime/ingest-worker.js', import.meta.url);
  return existsSync(fileURLToPath(built)) ? built : undefined;
}

interface Pending {
  resolve: (result: ThreadResult) => void;
  reject: (err: Error) => void;
}

/** One worker thread and its requests in flight. */
class IngestThread {
  private worker: Worker | undefined;
  readonly pending = new Map<number, Pending>();
  /** Config ids this thread holds, oldest first. */
  private held: number[] = [];

  constructor(
    private readonly file: URL,
    private readonly onExit: (err: Error | undefined) => void,
  ) {}

  private start(): Worker {
    const worker = new Worker(this.file, { name: 'extole-stream ingest' });
    worker.on('message', (answer: IngestThreadAnswer) => {
      const p = this.pending.get(answer.id);
      if (!p) return;
      this.pending.delete(answer.id);
      if (answer.type === 'transformed') p.resolve({ ok: true, project: answer.project, size: answer.size, batch: answer.batch });
      else if (answer.type === 'rejected') p.resolve({ ok: false, error: answer.error });
      else p.reject(new IngestThreadError(answer.message, answer.body));
    });
    const fail = (err: Error | undefined): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.held = [];
      const reason = new IngestThreadError(`ingest worker thread stopped${err ? `: ${err.message}` : ''}`);
      for (const p of this.pending.values()) p.reject(reason);
      this.pending.clear();
      this.onExit(err);
    };
    worker.on('error', (err) => fail(err));
    worker.on('exit', (code) => fail(code === 0 ? undefined : new Error(`exit code ${code}`)));
    return worker;
  }

  send(id: number, config: WorkerConfig, message: Omit<Extract<IngestThreadMessage, { type: 'ingest' }>, 'type' | 'id' | 'config'>, p: Pending): void {
    const worker = (this.worker ??= this.start());
    if (!this.held.includes(config.id)) {
      worker.postMessage({ type: 'config', config } satisfies IngestThreadMessage);
      this.held.push(config.id);
      // Messages arrive in order: a request already sent with the forgotten id was answered first.
      while (this.held.length > CONFIGS_HELD) worker.postMessage({ type: 'forget', id: this.held.shift()! } satisfies IngestThreadMessage);
    }
    this.pending.set(id, p);
    // A body that owns its whole ArrayBuffer (Buffer.concat's, 4 KiB and up) moves to the thread
    // instead of being copied: copying a fresh 100 KB body cost the event loop about 200 µs on
    // the 2-core VM, moving it about 10. It is detached here from then on.
    const { body } = message;
    const owned = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.byteLength >= 4096;
    worker.postMessage({ type: 'ingest', id, config: config.id, ...message } satisfies IngestThreadMessage, owned ? [body.buffer as ArrayBuffer] : []);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
    for (const p of this.pending.values()) p.reject(new IngestThreadError('ingest worker thread closed'));
    this.pending.clear();
  }
}

/**
 * A fixed number of ingest worker threads; each request goes to the one with the fewest in
 * flight. Threads start on their first request.
 */
export class IngestThreads {
  private readonly threads: IngestThread[];
  private nextId = 1;
  private nextConfigId = 1;
  private readonly configIds = new WeakMap<object, WorkerConfig>();
  private deaths = 0;

  /**
   * `onExit` hears of every thread that stopped on its own (`err` undefined: exit code 0), and
   * whether the pool has given up (see `usable`).
   */
  constructor(count: number, file: URL, onExit: (err: Error | undefined, givenUp: boolean) => void = () => {}) {
    this.threads = Array.from(
      { length: Math.max(1, Math.trunc(count)) },
      () =>
        new IngestThread(file, (err) => {
          this.deaths++;
          onExit(err, !this.usable);
        }),
    );
  }

  /**
   * False once threads died `MAX_THREAD_DEATHS` times: a thread that keeps dying would turn every
   * request that moved its body to it into a 503, so bodies stay in the event loop from then on.
   */
  get usable(): boolean {
    return this.deaths < MAX_THREAD_DEATHS;
  }

  get size(): number {
    return this.threads.length;
  }

  /**
   * Read `body` and transform its events on a thread, with the config `snapshot` (any object
   * that stays the same for one config; `describe` is called once per snapshot).
   */
  read(
    snapshot: object,
    describe: () => Omit<WorkerConfig, 'id'>,
    body: Uint8Array,
    opts: { kind: IngestRequestKind; now: number; dedupOn: boolean; live: boolean },
  ): Promise<ThreadResult> {
    const config = this.configIds.get(snapshot) ?? { id: this.nextConfigId++, ...describe() };
    this.configIds.set(snapshot, config);
    const thread = this.threads.reduce((least, t) => (t.pending.size < least.pending.size ? t : least));
    const id = this.nextId++;
    return new Promise<ThreadResult>((resolve, reject) => thread.send(id, config, { body, ...opts }, { resolve, reject }));
  }

  /** Stop every thread; requests in flight fail with `IngestThreadError`. */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.close()));
  }
}
