/**
 * The live view (`GET /events/live`, SPEC §2.1): what ingestion decides for each event and
 * destination, and what delivery makes of it, streamed as Server-Sent Events to whoever
 * listens, like Extole's Event Live View or Amplitude's ingestion debugger.
 *
 * Costs nothing when nobody listens: producers check `listening` (one boolean) before building
 * a single record. When somebody does, records are handed over synchronously but serialized and
 * written on a later tick (`setImmediate`), so a request's 200 never waits for a viewer, and
 * every viewer has a bounded buffer: a viewer that cannot keep up loses lines (counted and
 * reported to it as an `event: dropped` message), it never slows ingestion or delivery down.
 *
 * No secret is ever streamed: records carry names, ids, outcomes and messages, never tokens or
 * keys, and every line goes through the config's redactor before it is written. The Extole
 * request body (what the mapping sends) is included only when a viewer asks for it (`?full=1`).
 */
import type { ServerResponse } from 'node:http';
import type { ExtoleRequestBody } from '../compile/types.js';
import type { Queue, QueueItem, DeadLetterInput } from '../queue/types.js';

/** What happened: the three ingestion decisions, then the three delivery results. */
export type LiveOutcome = 'send' | 'drop' | 'duplicate' | 'delivered' | 'retry' | 'dead_letter';

export const LIVE_OUTCOMES: readonly LiveOutcome[] = ['send', 'drop', 'duplicate', 'delivered', 'retry', 'dead_letter'];

/** One event × destination decision or delivery result, before serialization. */
export interface LiveRecord {
  /** Epoch ms of the decision. */
  time: number;
  stage: 'ingest' | 'delivery';
  project: string;
  /** How the event came in (`httpapi`, `batch`, `webhook`, `replay`, …); ingest records only. */
  endpoint?: string;
  insert_id: string | null;
  event_type: string | null;
  destination: string;
  outcome: LiveOutcome;
  /** Drop reason (SPEC §3.1) or dead-letter reason (`rejected`, `expired`). */
  reason?: string;
  message?: string;
  /** HTTP status of a delivery attempt (null for network errors and timeouts). */
  status?: number | null;
  /** Attempt number of a delivery result (1 = first). */
  attempt?: number;
  /** `?full=1` only: the Extole request the mapping built (send outcomes; never the token). */
  request?: { method: 'POST'; path: string; body: ExtoleRequestBody };
}

/** What a producer (ingestion, delivery) sees of the hub. */
export interface LiveTap {
  /** True while at least one viewer is connected: check it before building any record. */
  readonly listening: boolean;
  /** Hand records over; never blocks, never throws. */
  publish(records: readonly LiveRecord[]): void;
}

/** A viewer's filters (`?destination=…&project=…&outcome=…`, comma-separated lists) and detail. */
export interface LiveFilter {
  destinations?: ReadonlySet<string>;
  projects?: ReadonlySet<string>;
  outcomes?: ReadonlySet<LiveOutcome>;
  /** Include `request` (the body the mapping built). */
  full: boolean;
}

export interface LiveHubOptions {
  /** Replaces every secret value with `***` (the runtime's redactor). */
  redact: (text: string) => string;
  /**
   * How much a slow viewer may have waiting beyond the socket's own buffer before lines are
   * dropped, in characters (about bytes: records are mostly ASCII). Default 256 Ki.
   */
  maxBufferedBytes?: number;
  /** Records waiting for the next flush tick, all viewers together, before new ones are dropped. Default 10 000. */
  maxPendingRecords?: number;
  /** Comment line interval that keeps proxies from closing an idle stream. Default 15 s. */
  heartbeatMs?: number;
  /**
   * Called with the number of lines just dropped for lagging viewers (the runtime counts them in
   * `extole_stream_live_dropped_lines_total`; `stats()` keeps its own total for /status).
   */
  onDropped?: (lines: number) => void;
}

/** Counters for /status. */
export interface LiveStats {
  viewers: number;
  /** Lines not delivered to some viewer because it lagged (all viewers, since start). */
  dropped: number;
}

/** Parse the query of `GET /events/live`; an error message for a bad value. */
export function parseLiveQuery(query: Record<string, unknown>): { ok: true; filter: LiveFilter } | { ok: false; error: string } {
  const list = (name: string): Set<string> | undefined => {
    const raw = query[name];
    if (raw === undefined) return undefined;
    const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter((v) => v !== '');
    return values.length > 0 ? new Set(values) : undefined;
  };
  const outcomes = list('outcome');
  if (outcomes) {
    const unknown = [...outcomes].filter((o) => !(LIVE_OUTCOMES as readonly string[]).includes(o));
    if (unknown.length > 0) return { ok: false, error: `unknown outcome ${JSON.stringify(unknown[0])}; use ${LIVE_OUTCOMES.join(', ')}` };
  }
  const full = query.full;
  return {
    ok: true,
    filter: {
      destinations: list('destination'),
      projects: list('project'),
      outcomes: outcomes as Set<LiveOutcome> | undefined,
      full: full === '1' || full === 'true' || full === '',
    },
  };
}

function matches(filter: LiveFilter, record: LiveRecord): boolean {
  if (filter.destinations && !filter.destinations.has(record.destination)) return false;
  if (filter.projects && !filter.projects.has(record.project)) return false;
  if (filter.outcomes && !filter.outcomes.has(record.outcome)) return false;
  return true;
}

/** A record as one SSE message (`data: <json>\n\n`), with or without the request body. */
function toMessage(record: LiveRecord, full: boolean, redact: (text: string) => string): string {
  const { time, request, ...rest } = record;
  const shown: Record<string, unknown> = { time: new Date(time).toISOString(), ...rest };
  if (full && request) shown.request = request;
  // JSON.stringify never emits a raw newline, so one `data:` line holds the whole record.
  return `data: ${redact(JSON.stringify(shown))}\n\n`;
}

class Viewer {
  private readonly waiting: string[] = [];
  private waitingBytes = 0;
  private blocked = false;
  /** Dropped since the last `dropped` notice. */
  private droppedSinceNotice = 0;
  droppedTotal = 0;
  closed = false;

  constructor(
    readonly response: ServerResponse,
    readonly filter: LiveFilter,
    private readonly maxBufferedBytes: number,
    private readonly onDrop: (n: number) => void,
  ) {
    response.on('drain', () => this.drain());
  }

  /** Write now, queue while the socket is full, drop (and count) beyond the bound. */
  send(chunk: string): void {
    if (this.closed) return;
    if (this.blocked) {
      if (this.waitingBytes + chunk.length > this.maxBufferedBytes) {
        this.droppedSinceNotice++;
        this.droppedTotal++;
        this.onDrop(1);
        return;
      }
      this.waiting.push(chunk);
      this.waitingBytes += chunk.length;
      return;
    }
    if (!this.response.write(chunk)) this.blocked = true;
  }

  private drain(): void {
    this.blocked = false;
    while (!this.blocked && !this.closed) {
      if (this.droppedSinceNotice > 0) {
        // Tell the viewer it missed lines, in order: after what it got, before what follows.
        const notice = `event: dropped\ndata: ${JSON.stringify({ dropped: this.droppedSinceNotice, total_dropped: this.droppedTotal })}\n\n`;
        this.droppedSinceNotice = 0;
        if (!this.response.write(notice)) this.blocked = true;
        continue;
      }
      const next = this.waiting.shift();
      if (next === undefined) return;
      this.waitingBytes -= next.length;
      if (!this.response.write(next)) this.blocked = true;
    }
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiting.length = 0;
    this.response.end();
  }
}

/**
 * The live view's fan-out. One per runtime; `buildServer` attaches viewers, ingestion and
 * delivery publish through `LiveTap`.
 */
export class LiveHub implements LiveTap {
  private readonly viewers = new Set<Viewer>();
  private pending: LiveRecord[] = [];
  private flushScheduled = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private droppedTotal = 0;
  private readonly redact: (text: string) => string;
  private readonly maxBufferedBytes: number;
  private readonly maxPendingRecords: number;
  private readonly heartbeatMs: number;
  private readonly onDropped: (lines: number) => void;

  constructor(options: LiveHubOptions) {
    this.redact = options.redact;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 256 * 1024;
    this.maxPendingRecords = options.maxPendingRecords ?? 10_000;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.onDropped = options.onDropped ?? (() => {});
  }

  get listening(): boolean {
    return this.viewers.size > 0;
  }

  stats(): LiveStats {
    return { viewers: this.viewers.size, dropped: this.droppedTotal };
  }

  /**
   * Stream to `response` (already hijacked from the framework) until the client goes away or
   * `closeAll()`. Writes the SSE headers and a first comment line, so a client knows it is
   * subscribed once it has read it.
   */
  attach(response: ServerResponse, filter: LiveFilter): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    const viewer = new Viewer(response, filter, this.maxBufferedBytes, (n) => this.countDropped(n));
    this.viewers.add(viewer);
    response.on('close', () => {
      viewer.closed = true;
      this.viewers.delete(viewer);
      if (this.viewers.size === 0) this.stopHeartbeat();
    });
    viewer.send(': extole-stream live view\nretry: 2000\n\n');
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => {
        for (const v of this.viewers) v.send(': keepalive\n\n');
      }, this.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  publish(records: readonly LiveRecord[]): void {
    if (this.viewers.size === 0 || records.length === 0) return;
    const room = this.maxPendingRecords - this.pending.length;
    if (room < records.length) {
      // Flushing cannot keep up with ingestion: drop the overflow for every viewer.
      const lost = records.length - Math.max(0, room);
      this.countDropped(lost * this.viewers.size);
      records = records.slice(0, Math.max(0, room));
    }
    for (const r of records) this.pending.push(r);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Lines lost for lagging viewers: the /status total and the `onDropped` hook (metrics). */
  private countDropped(lines: number): void {
    if (lines <= 0) return;
    this.droppedTotal += lines;
    this.onDropped(lines);
  }

  /** Serialize pending records once per detail level and send them to each matching viewer. */
  private flush(): void {
    this.flushScheduled = false;
    const records = this.pending;
    this.pending = [];
    for (const record of records) {
      let brief: string | undefined;
      let full: string | undefined;
      for (const viewer of this.viewers) {
        if (viewer.closed || !matches(viewer.filter, record)) continue;
        if (viewer.filter.full) viewer.send((full ??= toMessage(record, true, this.redact)));
        else viewer.send((brief ??= toMessage(record, false, this.redact)));
      }
    }
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** End every stream (server shutdown: open streams would keep `close()` waiting). */
  closeAll(): void {
    for (const viewer of this.viewers) viewer.end();
    this.viewers.clear();
    this.pending = [];
    this.stopHeartbeat();
  }
}

function eventTypeOf(eventJson: unknown): string | null {
  if (typeof eventJson !== 'string') return null;
  try {
    const event = JSON.parse(eventJson) as { event_type?: unknown };
    return typeof event.event_type === 'string' ? event.event_type : null;
  } catch {
    return null;
  }
}

/** A settled row as the queue saw it (delivery passes whole QueueItems; read defensively). */
function deliveryRecord(item: Partial<QueueItem>, now: number, outcome: LiveOutcome): LiveRecord | undefined {
  if (typeof item.destination !== 'string') return undefined;
  return {
    time: now,
    stage: 'delivery',
    project: typeof item.project === 'string' ? item.project : '',
    insert_id: typeof item.insertId === 'string' ? item.insertId : null,
    event_type: eventTypeOf(item.event),
    destination: item.destination,
    outcome,
    attempt: typeof item.attempts === 'number' ? item.attempts + 1 : undefined,
  };
}

/**
 * Delivery results for the live view without touching delivery: the queue handed to the
 * DeliveryManager reports each settle (`complete` → delivered, `retry`, `deadLetter`) to `tap`
 * after the queue accepted it. Only when someone listens is anything built, and only then do
 * claims read each row's event (for its type).
 */
export function observeSettlements(queue: Queue, tap: LiveTap, now: () => number = Date.now): Queue {
  const after = <T>(result: Promise<T>, build: () => LiveRecord | undefined): Promise<T> => {
    if (!tap.listening) return result;
    return result.then((value) => {
      if (tap.listening) {
        const record = build();
        if (record) tap.publish([record]);
      }
      return value;
    });
  };
  const observed: Partial<Queue> = {
    // Delivery claims without the events (it needs only the bodies); while someone watches, the
    // records name each event's type, so claims read the events again. Rows claimed before the
    // first viewer came show no event type.
    claim: (destination, limit, at, leaseMs, options) =>
      queue.claim(destination, limit, at, leaseMs, tap.listening ? { ...options, event: true } : options),
    complete: (item) => after(queue.complete(item), () => deliveryRecord(item as Partial<QueueItem>, now(), 'delivered')),
    retry: (item, runAt, attempt) =>
      after(queue.retry(item, runAt, attempt), () => {
        const r = deliveryRecord(item as Partial<QueueItem>, now(), 'retry');
        if (r) {
          r.status = attempt.status;
          r.message = attempt.error;
        }
        return r;
      }),
    deadLetter: (item, dead: DeadLetterInput) =>
      after(queue.deadLetter(item, dead), () => {
        const r = deliveryRecord(item as Partial<QueueItem>, now(), 'dead_letter');
        if (r) {
          r.reason = dead.reason;
          r.status = dead.httpStatus;
          r.attempt = dead.attempts;
          const text = [dead.extoleCode, dead.extoleMessage].filter((t) => t !== null && t !== '').join(': ');
          if (text !== '') r.message = text;
        }
        return r;
      }),
  };
  if (queue.completeMany) {
    const completeMany = queue.completeMany.bind(queue);
    observed.completeMany = (items) => {
      const result = completeMany(items);
      if (!tap.listening) return result;
      return result.then((done) => {
        if (tap.listening) {
          const t = now();
          const records = items.map((i) => deliveryRecord(i as Partial<QueueItem>, t, 'delivered')).filter((r): r is LiveRecord => r !== undefined);
          tap.publish(records);
        }
        return done;
      });
    };
  }
  return new Proxy(queue, {
    get(target, prop) {
      if (typeof prop === 'string' && Object.hasOwn(observed, prop)) return observed[prop as keyof Queue];
      // The target as receiver: getters and private fields of the driver class keep working.
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
