/**
 * Prometheus metrics (SPEC §8, prefix `extole_stream_`). One `Metrics` per server process,
 * shared by ingestion and delivery. They mirror Amplitude's delivery summary.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry: Registry;
  readonly ingestedEvents: Counter<'project' | 'endpoint'>;
  readonly droppedEvents: Counter<'destination' | 'reason'>;
  readonly deliveredEvents: Counter<'destination' | 'attempt'>;
  readonly deadLetters: Counter<'destination' | 'reason'>;
  readonly deliveryRequests: Counter<'destination' | 'status'>;
  readonly queueDepth: Gauge<'destination'>;
  readonly deliveryLatency: Histogram<'destination'>;
  readonly configInfo: Gauge<'revision'>;
  /** 1 while a destination is paused by 401/403 (token alarm). */
  readonly tokenAlarm: Gauge<'destination'>;
  /** Current adaptive concurrency limit per destination. */
  readonly concurrencyLimit: Gauge<'destination'>;
  /** Live-view lines not sent to a viewer that lagged (`GET /events/live`), all viewers together. */
  readonly liveDroppedLines: Counter;
  /** insert_ids the SQLite queue's de-duplication index holds in this server's memory, and its bytes. */
  readonly dedupIndexKeys: Gauge;
  readonly dedupIndexBytes: Gauge;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    const p = 'extole_stream_';
    this.ingestedEvents = new Counter({ name: `${p}ingested_events_total`, help: 'Events accepted from senders (committed to the queue or counted as duplicates).', labelNames: ['project', 'endpoint'], registers: [registry] });
    this.droppedEvents = new Counter({ name: `${p}dropped_events_total`, help: 'Events a destination did not send, by drop reason.', labelNames: ['destination', 'reason'], registers: [registry] });
    this.deliveredEvents = new Counter({ name: `${p}delivered_events_total`, help: 'Events Extole accepted (2xx), on the first attempt or after retries.', labelNames: ['destination', 'attempt'], registers: [registry] });
    this.deadLetters = new Counter({ name: `${p}dead_letters_total`, help: 'Events moved to the dead-letter queue, by reason (rejected, expired).', labelNames: ['destination', 'reason'], registers: [registry] });
    this.deliveryRequests = new Counter({ name: `${p}delivery_requests_total`, help: 'Requests sent to Extole, by HTTP status (or "error" for network failures and timeouts).', labelNames: ['destination', 'status'], registers: [registry] });
    this.queueDepth = new Gauge({ name: `${p}queue_depth`, help: 'Deliveries waiting in the queue (all servers sharing it).', labelNames: ['destination'], registers: [registry] });
    this.deliveryLatency = new Histogram({ name: `${p}delivery_latency_seconds`, help: 'Time from ingestion to Extole 2xx.', labelNames: ['destination'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400], registers: [registry] });
    this.configInfo = new Gauge({ name: `${p}config_info`, help: 'Loaded config revision (value 1).', labelNames: ['revision'], registers: [registry] });
    this.tokenAlarm = new Gauge({ name: `${p}token_alarm`, help: '1 while Extole rejects the destination token (401/403) and delivery is paused.', labelNames: ['destination'], registers: [registry] });
    this.concurrencyLimit = new Gauge({ name: `${p}concurrency_limit`, help: 'Current adaptive concurrency limit of a destination.', labelNames: ['destination'], registers: [registry] });
    this.liveDroppedLines = new Counter({ name: `${p}live_dropped_lines_total`, help: 'Live-view lines (GET /events/live) not sent to a viewer that could not keep up, all viewers together.', registers: [registry] });
    this.dedupIndexKeys = new Gauge({ name: `${p}dedup_index_keys`, help: 'insert_ids this server holds in memory to drop repeats (SQLite queue; expired ones until the index next grows).', registers: [registry] });
    this.dedupIndexBytes = new Gauge({ name: `${p}dedup_index_bytes`, help: 'Bytes of memory the de-duplication index of this server takes (SQLite queue).', registers: [registry] });
    if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: p });
  }
}
