/**
 * The running server's state: the active config (compiled transformers, projects, limits),
 * the queue, delivery, metrics and the logger. `reload()` swaps the whole config snapshot in
 * one assignment, so a request in flight keeps the snapshot it started with and never sees
 * half of an old and half of a new config.
 */
import type { Writable } from 'node:stream';
import type { Logger, LevelWithSilent } from 'pino';
import type { LoadedConfig } from '../config/model.js';
import { parseDuration, parseSize } from '../config/units.js';
import { loadConfig } from '../config/load.js';
import { formatDiagnostics } from '../config/format.js';
import { redactionTexts, redactorFor } from '../config/secrets.js';
import type { Transformer } from '../compile/types.js';
import { compileDestination } from '../compile/transformer.js';
import type { Queue, DedupIndexSize, DestinationQueueStats } from '../queue/types.js';
import { createQueue } from '../queue/index.js';
import { DeliveryManager, type DeliveryDestination } from '../delivery/manager.js';
import { systemClock, type Clock } from '../delivery/clock.js';
import { Metrics } from '../metrics.js';
import { ConfigError, QueueUnavailableError } from '../errors.js';
import { VERSION } from '../version.js';
import { createLogger, type Redactor } from './logger.js';
import { commitTransformed, ingestEvents, type AmplitudeErrorBody, type IngestSummary, type IngestTarget } from './ingest.js';
import { readIngestRequest, secretDigest, type ActiveProject, type IngestRequestKind } from './ingest-request.js';
import { IngestThreadError, IngestThreads, ingestWorkerFile, type WorkerConfig } from './ingest-threads.js';
import { LiveHub, observeSettlements, type LiveStats } from './live.js';
import type { AmplitudeEvent } from '../generated/amplitude-event.js';

/** Default Extole host (SPEC §9) when a destination leaves `base_url` out. */
export const DEFAULT_EXTOLE_BASE_URL = 'https://events.extole.io';
const DEFAULT_DEDUP_WINDOW_MS = 7 * 86_400_000;
const DEFAULT_LEASE_MS = 30_000;
/** How often insert_ids older than the window are forgotten. */
const DEDUP_PRUNE_INTERVAL_MS = 10 * 60_000;

export type { ActiveProject } from './ingest-request.js';

/** Default `server.ingest_threads`. */
const DEFAULT_INGEST_THREADS = 1;

/** What `Runtime.ingestBody` made of a request body. */
export type BodyIngestResult =
  | { ok: false; error: AmplitudeErrorBody }
  | { ok: true; events: number; size: number; summary: IngestSummary };

/** Request limits (SPEC §5), in bytes / events. */
export interface IngestLimits {
  httpapiBytes: number;
  batchBytes: number;
  eventsPerRequest: number;
}

/** One compiled, validated config: everything a request needs, swapped as a whole on reload. */
export interface ActiveConfig {
  loaded: LoadedConfig;
  /** `loaded.revision.label`. */
  revision: string;
  transformers: Transformer[];
  projects: ActiveProject[];
  limits: IngestLimits;
  dedupWindowMs: number;
  /** Resolved server.admin_token, when configured. */
  adminToken: string | undefined;
  /** Where each destination delivers (the sandbox URL in sandbox mode). */
  deliveryDestinations: DeliveryDestination[];
  /** ISO-8601 time this config became active. */
  activatedAt: string;
}

/** What the last reload did (kept for /status and logged). */
export interface ReloadResult {
  ok: boolean;
  /** ISO-8601 time of the attempt. */
  at: string;
  /** Revision running after the attempt. */
  revision: string;
  /** Revision the attempt loaded (also when it was rejected), when it got that far. */
  attemptedRevision?: string;
  /** Why the new config was rejected (diagnostics as `file:line:col severity message (rule)`). */
  errors: string[];
  /** Things that were not applied (e.g. queue settings need a restart). */
  warnings: string[];
}

export interface RuntimeOptions {
  /** `--config PATH`; otherwise cosmiconfig searches from `cwd`. */
  configPath?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Where JSON logs go (default stdout). */
  logOut?: Writable;
  /** Overrides `server.log_level`. */
  logLevel?: LevelWithSilent;
  /** Deliver every destination here instead of its base_url (`serve --sandbox`). */
  deliveryBaseUrl?: string;
  /** Start delivery (default true). CLI tools (`replay`, `dlq`) only enqueue. */
  delivery?: boolean;
  /**
   * Which missing secrets prevent starting: `all` (serve: SPEC §2.3 "serve refuses to start
   * and names each missing variable") or `queue` (CLI tools that only touch the queue).
   */
  requireSecrets?: 'all' | 'queue';
  clock?: Clock;
  /** Build the queue (default `createQueue`); tests inject broken or slow queues. */
  queueFactory?: (loaded: LoadedConfig) => Queue;
  metrics?: Metrics;
  /** Overrides `server.ingest_threads` (0: read and transform bodies in the event loop). */
  ingestThreads?: number;
  /** The ingest worker's file (default the built `ingest-worker.js`); tests inject failing ones. */
  ingestWorkerFile?: URL;
}

export interface RuntimeStatus {
  version: string;
  config: {
    revision: string;
    hash: string;
    git: string | null;
    file: string;
    activated_at: string;
  };
  ready: boolean;
  sandbox: string | null;
  /** Ingest worker threads reading and transforming request bodies (0: the event loop does). */
  ingest_threads: number;
  projects: string[];
  destinations: Array<{
    name: string;
    enabled: boolean;
    projects: string[];
    endpoint: string;
    base_url: string;
    events: number;
  }>;
  queue: {
    driver: string;
    open: boolean;
    destinations: Record<string, DestinationQueueStats>;
    /** The de-duplication index this server holds in memory (SQLite queue; null before it loaded, or PostgreSQL). */
    dedup_index: DedupIndexSize | null;
    error?: string;
  };
  delivery: unknown[];
  counters: Record<string, Record<string, number>>;
  last_reload: ReloadResult | null;
  /** The live view: connected viewers, lines dropped because a viewer lagged. */
  live: LiveStats;
}

/** Names of missing secrets, e.g. `env:EXTOLE_ACCESS_TOKEN` → `EXTOLE_ACCESS_TOKEN (env)`. */
function describeMissing(refs: readonly string[]): string {
  return refs
    .map((ref) => {
      const i = ref.indexOf(':');
      return i > 0 ? `${ref.slice(i + 1)} (${ref.slice(0, i)})` : ref;
    })
    .join(', ');
}

/**
 * Hides every secret value that any config of this runtime has held: a secret replaced by a
 * reload may still turn up afterwards (a retry's error, a late log line). It keeps the values,
 * not the configs they came from (a config holds its YAML sources and compiled mappings), and
 * one redactor over all of them, rebuilt only when a reload brings a value not seen before.
 */
class SecretRedaction {
  private readonly values = new Set<string>();
  private redactAll: Redactor = (text) => text;
  /** Stable: the logger and the live view keep this one function. */
  readonly redact: Redactor = (text) => this.redactAll(text);

  /** Hide these values too, from now on. */
  add(values: Iterable<string>): void {
    const before = this.values.size;
    for (const value of values) this.values.add(value);
    if (this.values.size !== before) this.redactAll = redactorFor(redactionTexts(this.values));
  }
}

/**
 * The runtime server's core. Build with `Runtime.start()`; hand it to `buildServer()`.
 */
export class Runtime {
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly queue: Queue;
  readonly delivery: DeliveryManager | undefined;
  readonly clock: Clock;
  readonly deliveryBaseUrl: string | undefined;
  /** `GET /events/live`: ingestion decisions and delivery results for whoever listens. */
  readonly live: LiveHub;
  private activeConfig: ActiveConfig;
  private lastReloadResult: ReloadResult | null = null;
  private queueOpen = false;
  /** Set when an enqueue failed, cleared by the next success: /readyz reports it. */
  private queueFailure: string | null = null;
  private closing: Promise<void> | null = null;
  private reloading: Promise<ReloadResult> | null = null;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly redaction: SecretRedaction;
  private readonly options: RuntimeOptions;
  /** Ingest worker threads (serve only, `server.ingest_threads` > 0). */
  private readonly threads: IngestThreads | undefined;

  private constructor(args: {
    options: RuntimeOptions;
    active: ActiveConfig;
    queue: Queue;
    logger: Logger;
    redaction: SecretRedaction;
    metrics: Metrics;
    delivery: DeliveryManager | undefined;
    clock: Clock;
    live: LiveHub;
    threads?: IngestThreads;
  }) {
    this.options = args.options;
    this.activeConfig = args.active;
    this.queue = args.queue;
    this.logger = args.logger;
    this.redaction = args.redaction;
    this.metrics = args.metrics;
    this.delivery = args.delivery;
    this.clock = args.clock;
    this.deliveryBaseUrl = args.options.deliveryBaseUrl;
    this.live = args.live;
    this.threads = args.threads;
  }

  /**
   * Load and compile the config, open the queue and start delivery. Throws `ConfigError`
   * (naming every problem or missing secret, never a value) when it cannot start, and
   * `ConfigNotFoundError` when there is no config.
   */
  static async start(options: RuntimeOptions): Promise<Runtime> {
    const loaded = await loadConfig({ configPath: options.configPath, cwd: options.cwd, env: options.env });
    const redaction = new SecretRedaction();
    redaction.add(loaded.secretValues);
    const problem = Runtime.startProblem(loaded, options.requireSecrets ?? 'all', options.cwd);
    if (problem) throw problem;
    const active = Runtime.activate(loaded, options);
    const level = options.logLevel ?? loaded.root.server?.log_level ?? 'info';
    const logger = createLogger({ level, out: options.logOut, redactors: [redaction.redact] });
    const metrics = options.metrics ?? new Metrics({ defaultMetrics: options.delivery !== false });
    const clock = options.clock ?? systemClock;
    const queue = (options.queueFactory ?? createQueue)(loaded);
    try {
      await queue.open();
    } catch (err) {
      throw new QueueUnavailableError(`cannot open the ${queue.driver} queue: ${loaded.redact(errorText(err))}`, { cause: err });
    }
    // Every line of the live view hides every secret this runtime will ever have loaded.
    const live = new LiveHub({
      redact: redaction.redact,
      onDropped: (lines) => metrics.liveDroppedLines.inc(lines),
    });
    let delivery: DeliveryManager | undefined;
    if (options.delivery !== false) {
      delivery = new DeliveryManager({
        // Delivery results reach the live view through the queue's settle calls.
        queue: observeSettlements(queue, live, () => clock.now()),
        metrics,
        logger,
        clock,
        leaseMs: parseDuration(loaded.root.queue?.lease ?? '') ?? DEFAULT_LEASE_MS,
        configRevision: active.revision,
        destinations: active.deliveryDestinations,
      });
    }
    // Only a server takes bodies over HTTP; replay and dlq hand events in directly.
    const threadCount = options.ingestThreads ?? loaded.root.server?.ingest_threads ?? DEFAULT_INGEST_THREADS;
    const workerFile = options.delivery !== false && threadCount > 0 ? (options.ingestWorkerFile ?? ingestWorkerFile()) : undefined;
    if (options.delivery !== false && threadCount > 0 && workerFile === undefined) {
      logger.warn('the ingest worker file is missing (run `npm run build`); ingesting in the event loop');
    }
    const threads =
      workerFile !== undefined
        ? new IngestThreads(threadCount, workerFile, (err, givenUp) => {
            const why = redaction.redact(err?.message ?? 'exit code 0');
            if (givenUp) logger.error({ err: why }, 'ingest worker threads keep stopping; the event loop reads request bodies from now on');
            else logger.error({ err: why }, 'an ingest worker thread stopped; it restarts on the next request');
          })
        : undefined;
    const runtime = new Runtime({ options, active, queue, logger, redaction, metrics, delivery, clock, live, threads });
    runtime.queueOpen = true;
    runtime.setConfigInfo();
    if (delivery) {
      delivery.start();
      runtime.startDedupPruning();
    }
    logger.info(
      {
        revision: active.revision,
        queue: queue.driver,
        destinations: active.transformers.map((t) => t.name),
        sandbox: options.deliveryBaseUrl ?? null,
      },
      'runtime started',
    );
    return runtime;
  }

  /** Why a loaded config cannot run, or null. */
  private static startProblem(loaded: LoadedConfig, require: 'all' | 'queue', cwd: string): ConfigError | null {
    if (!loaded.ok) {
      const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
      const text = loaded.redact(formatDiagnostics(errors, 'text', { cwd }));
      return new ConfigError(`the config is invalid (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${text}`, errors);
    }
    let missing = loaded.missingSecrets;
    if (require === 'queue') {
      // Only the queue URL matters to a tool that just reads and writes the queue.
      const urlRef = loaded.root.queue?.url ?? '';
      missing =
        loaded.root.queue?.driver === 'postgres' && loaded.queueUrl === undefined
          ? missing.filter((m) => urlRef.includes(m.slice(m.indexOf(':') + 1)))
          : [];
      if (missing.length === 0 && loaded.root.queue?.driver === 'postgres' && loaded.queueUrl === undefined) {
        missing = ['queue.url'];
      }
    }
    if (missing.length > 0) {
      return new ConfigError(
        `cannot start: secret${missing.length === 1 ? '' : 's'} not set: ${describeMissing(missing)}. ` +
          'Set the variables (or files) the config references, e.g. with `node --env-file=FILE`.',
      );
    }
    return null;
  }

  /** Compile a loaded (valid) config into an ActiveConfig. Throws when a destination does not compile. */
  private static activate(loaded: LoadedConfig, options: RuntimeOptions): ActiveConfig {
    const transformers = loaded.destinations.map((d) => compileDestination({ name: d.name, definition: d.definition }));
    const projects: ActiveProject[] = [];
    for (const p of loaded.projects) {
      // A project whose key is unavailable can never authenticate (only possible with requireSecrets 'queue').
      if (p.apiKey !== undefined && p.apiKey !== '') projects.push({ key: p.key, apiKeyDigest: secretDigest(p.apiKey) });
    }
    const server = loaded.root.server ?? {};
    const limits: IngestLimits = {
      httpapiBytes: parseSize(server.limits?.httpapi_bytes ?? '') ?? 1_000_000,
      batchBytes: parseSize(server.limits?.batch_bytes ?? '') ?? 20_000_000,
      eventsPerRequest: server.limits?.events_per_request ?? 2000,
    };
    const deliveryDestinations: DeliveryDestination[] = loaded.destinations
      .filter((d) => d.definition.enabled !== false)
      .map((d) => ({
        name: d.name,
        baseUrl: options.deliveryBaseUrl ?? d.definition.extole.base_url ?? DEFAULT_EXTOLE_BASE_URL,
        accessToken: d.accessToken,
        delivery: d.definition.delivery,
      }));
    return {
      loaded,
      revision: loaded.revision.label,
      transformers,
      projects,
      limits,
      dedupWindowMs: parseDuration(server.dedup_window ?? '') ?? DEFAULT_DEDUP_WINDOW_MS,
      adminToken: loaded.adminToken,
      deliveryDestinations,
      activatedAt: new Date().toISOString(),
    };
  }

  /** The active config snapshot. Read it once per request and use that object throughout. */
  get active(): ActiveConfig {
    return this.activeConfig;
  }

  get lastReload(): ReloadResult | null {
    return this.lastReloadResult;
  }

  /** Ready = a config is active and the queue is open and took the last write. */
  ready(): { ready: boolean; reason?: string } {
    if (this.closing) return { ready: false, reason: 'shutting down' };
    if (!this.queueOpen) return { ready: false, reason: 'queue not open' };
    if (this.queueFailure) return { ready: false, reason: `queue unavailable: ${this.queueFailure}` };
    return { ready: true };
  }

  /** The ingest target of a snapshot: its transformers, this queue and metrics, delivery wake-up. */
  target(active: ActiveConfig = this.activeConfig): IngestTarget {
    return {
      transformers: active.transformers,
      queue: this.queue,
      metrics: this.metrics,
      dedupWindowMs: active.dedupWindowMs,
      live: this.live,
      wake: (destinations) => {
        if (!this.delivery) return;
        for (const d of destinations) this.delivery.wake(d);
      },
    };
  }

  /**
   * Ingest normalized events of `project` with the snapshot `active` (one transaction).
   * Rejects with `QueueUnavailableError` when the queue cannot take them.
   */
  async ingest(
    active: ActiveConfig,
    project: string,
    events: readonly AmplitudeEvent[],
    opts: { endpoint: string; dedup?: boolean; target?: IngestTarget },
  ): Promise<IngestSummary> {
    if (!this.queueOpen) throw new QueueUnavailableError('the queue is closed');
    return this.committing(active, () =>
      ingestEvents(opts.target ?? this.target(active), project, events, {
        endpoint: opts.endpoint,
        now: this.clock.now(),
        dedup: opts.dedup,
      }),
    );
  }

  /**
   * Ingest one request body (HTTP V2, Batch or Webhook; already size-checked and decompressed)
   * with the snapshot `active`: read and transform it on an ingest worker thread when there
   * are any (else in the event loop), then commit it here. Resolves with Amplitude's error for
   * a bad body (nothing enqueued); rejects with `QueueUnavailableError` when the queue cannot
   * take the events.
   */
  async ingestBody(active: ActiveConfig, bytes: Uint8Array | undefined, kind: IngestRequestKind): Promise<BodyIngestResult> {
    if (!this.queueOpen) throw new QueueUnavailableError('the queue is closed');
    let body = bytes;
    const now = this.clock.now();
    const { endpoint } = kind;
    if (this.threads?.usable && body !== undefined && body.length > 0) {
      // `body` is detached once it has moved to the thread.
      try {
        const read = await this.threads.read(active, () => workerConfigOf(active), body, {
          kind,
          now,
          dedupOn: active.dedupWindowMs > 0,
          live: this.live.listening,
        });
        if (!read.ok) return read;
        const summary = await this.committing(active, () => commitTransformed(this.target(active), read.project, read.batch, { endpoint, now }));
        return { ok: true, events: read.batch.count, size: read.size, summary };
      } catch (err) {
        if (!(err instanceof IngestThreadError)) throw err;
        // Nothing was committed. The bytes moved to the thread; read them here if they came back
        // (or were copied), else the sender gets a 503 and sends the request again.
        const kept = err.body ?? (body.length > 0 ? body : undefined);
        this.logger.warn({ err: this.redact(err.message) }, kept ? 'ingest worker thread failed a request; reading it in the event loop' : 'ingest worker thread failed a request; answering 503');
        if (!kept) throw new QueueUnavailableError(`ingest worker thread failed: ${err.message}`, { cause: err });
        body = kept;
      }
    }
    const read = readIngestRequest(body, kind, { projects: active.projects, eventsPerRequest: active.limits.eventsPerRequest, now });
    if (!read.ok) return read;
    const summary = await this.ingest(active, read.project, read.events, { endpoint });
    return { ok: true, events: read.events.length, size: read.size, summary };
  }

  /** Run a commit; keep /readyz's queue state and turn any failure into `QueueUnavailableError`. */
  private async committing(active: ActiveConfig, commit: () => Promise<IngestSummary>): Promise<IngestSummary> {
    try {
      const summary = await commit();
      if (this.queueFailure) {
        this.logger.info('queue accepts events again');
        this.queueFailure = null;
      }
      return summary;
    } catch (err) {
      const message = active.loaded.redact(errorText(err));
      if (!this.queueFailure) this.logger.error({ err: message }, 'queue cannot take events');
      this.queueFailure = message;
      if (err instanceof QueueUnavailableError) throw err;
      throw new QueueUnavailableError(message, { cause: err });
    }
  }

  /**
   * Load, validate and compile the config again, then swap it in atomically. An invalid
   * config (or one with missing secrets, or one that does not compile) leaves the running
   * one in place; the result is kept for /status and logged. Concurrent calls share one run.
   */
  reload(): Promise<ReloadResult> {
    if (!this.reloading) {
      this.reloading = this.doReload().finally(() => {
        this.reloading = null;
      });
    }
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    const old = this.activeConfig;
    const at = new Date().toISOString();
    const reject = (errors: string[], attemptedRevision?: string): ReloadResult => {
      const result: ReloadResult = { ok: false, at, revision: old.revision, attemptedRevision, errors, warnings: [] };
      this.lastReloadResult = result;
      this.logger.error({ reload: result }, 'config reload rejected; the running config stays active');
      return result;
    };
    let loaded: LoadedConfig;
    try {
      loaded = await loadConfig({ configPath: this.options.configPath ?? old.loaded.rootFile, cwd: this.options.cwd, env: this.options.env });
    } catch (err) {
      return reject([old.loaded.redact(errorText(err))]);
    }
    // Protect log lines from the new config's secret values from now on, whatever happens next.
    this.redaction.add(loaded.secretValues);
    const problem = Runtime.startProblem(loaded, this.options.requireSecrets ?? 'all', this.options.cwd);
    if (problem) {
      const lines = problem.message.split('\n').filter((l) => l.trim() !== '');
      return reject(lines.length > 1 ? lines.slice(1) : lines, loaded.revision.label);
    }
    let next: ActiveConfig;
    try {
      next = Runtime.activate(loaded, this.options);
    } catch (err) {
      return reject([loaded.redact(errorText(err))], loaded.revision.label);
    }
    const warnings: string[] = [];
    if (JSON.stringify(loaded.root.queue ?? {}) !== JSON.stringify(old.loaded.root.queue ?? {}) || loaded.queueUrl !== old.loaded.queueUrl) {
      warnings.push('queue settings changed: they apply after a restart');
    }
    const s1 = loaded.root.server ?? {};
    const s0 = old.loaded.root.server ?? {};
    if (s1.host !== s0.host || s1.port !== s0.port) warnings.push('server.host/port changed: they apply after a restart');
    if (s1.ingest_threads !== s0.ingest_threads) warnings.push('server.ingest_threads changed: it applies after a restart');
    if (s1.log_level && s1.log_level !== s0.log_level && !this.options.logLevel) this.logger.level = s1.log_level;
    // The swap: one assignment. Requests that already read `active` finish with the old snapshot.
    this.activeConfig = next;
    this.delivery?.update(next.deliveryDestinations, next.revision);
    this.setConfigInfo();
    const result: ReloadResult = { ok: true, at, revision: next.revision, attemptedRevision: next.revision, errors: [], warnings };
    this.lastReloadResult = result;
    this.logger.info({ reload: result, previous: old.revision }, 'config reloaded');
    return result;
  }

  private setConfigInfo(): void {
    this.metrics.configInfo.reset();
    this.metrics.configInfo.set({ revision: this.activeConfig.revision }, 1);
  }

  private startDedupPruning(): void {
    const prune = (): void => {
      const before = this.clock.now() - this.activeConfig.dedupWindowMs;
      this.queue.pruneDedup(before).then(
        (n) => {
          if (n > 0) this.logger.debug({ pruned: n }, 'forgot old insert_ids');
        },
        (err: unknown) => this.logger.warn({ err: this.redact(errorText(err)) }, 'pruning insert_ids failed'),
      );
    };
    prune();
    this.pruneTimer = setInterval(prune, DEDUP_PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  /** Replace every secret value known to this runtime (all configs it loaded) with `***`. */
  redact(text: string): string {
    return this.redaction.redact(text);
  }

  /** Refresh `queue_depth{destination}` and the de-duplication index gauges from the queue (before a /metrics scrape). */
  async refreshQueueDepth(): Promise<Record<string, DestinationQueueStats>> {
    const stats = await this.queue.stats(this.clock.now());
    const names = new Set<string>([...this.activeConfig.transformers.map((t) => t.name), ...Object.keys(stats)]);
    // Start from a clean gauge: a destination gone from both the config and the queue (e.g. a
    // rolling deploy with mixed configs) must not keep reporting its last depth.
    this.metrics.queueDepth.reset();
    for (const name of names) {
      const s = stats[name];
      this.metrics.queueDepth.set({ destination: name }, s ? s.pending + s.leased : 0);
    }
    const index = this.queue.dedupIndex?.();
    this.metrics.dedupIndexKeys.set(index?.keys ?? 0);
    this.metrics.dedupIndexBytes.set(index?.bytes ?? 0);
    return stats;
  }

  /** Everything /status shows. Never a secret: tokens and keys are not part of it at all. */
  async status(): Promise<RuntimeStatus> {
    const active = this.activeConfig;
    const loaded = active.loaded;
    let queueStats: Record<string, DestinationQueueStats> = {};
    let queueError: string | undefined;
    try {
      queueStats = await this.refreshQueueDepth();
    } catch (err) {
      queueError = this.redact(errorText(err));
    }
    const counters: Record<string, Record<string, number>> = {};
    for (const metric of [
      this.metrics.ingestedEvents,
      this.metrics.droppedEvents,
      this.metrics.deliveredEvents,
      this.metrics.deadLetters,
      this.metrics.deliveryRequests,
    ]) {
      const data = await metric.get();
      const byLabels: Record<string, number> = {};
      for (const v of data.values) {
        const key = Object.entries(v.labels)
          .map(([k, val]) => `${k}=${String(val)}`)
          .join(',');
        byLabels[key] = v.value;
      }
      counters[data.name.replace(/^extole_stream_/, '')] = byLabels;
    }
    const ready = this.ready();
    const status: RuntimeStatus = {
      version: VERSION,
      config: {
        revision: active.revision,
        hash: loaded.revision.hash,
        git: loaded.revision.git ?? null,
        file: loaded.rootFile,
        activated_at: active.activatedAt,
      },
      ready: ready.ready,
      sandbox: this.deliveryBaseUrl ?? null,
      ingest_threads: this.threads?.size ?? 0,
      projects: loaded.projects.map((p) => p.key),
      destinations: loaded.destinations.map((d) => ({
        name: d.name,
        enabled: d.definition.enabled !== false,
        projects: [...d.definition.projects],
        endpoint: d.definition.extole.endpoint ?? 'async-events',
        base_url: this.deliveryBaseUrl ?? d.definition.extole.base_url ?? DEFAULT_EXTOLE_BASE_URL,
        events: d.definition.events.length,
      })),
      queue: { driver: this.queue.driver, open: this.queueOpen, destinations: queueStats, dedup_index: this.queue.dedupIndex?.() ?? null },
      delivery: this.delivery ? (this.delivery.status() as unknown[]) : [],
      counters,
      last_reload: this.lastReloadResult,
      live: this.live.stats(),
    };
    if (queueError) status.queue.error = queueError;
    // Belt and braces: nothing in the status may carry a secret value.
    return JSON.parse(this.redact(JSON.stringify(status))) as RuntimeStatus;
  }

  /** Stop delivery (finish or release in-flight), close the queue. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        if (this.pruneTimer) clearInterval(this.pruneTimer);
        this.live.closeAll();
        await this.threads?.close();
        try {
          await this.delivery?.stop();
        } catch (err) {
          this.logger.error({ err: this.redact(errorText(err)) }, 'stopping delivery failed');
        }
        this.queueOpen = false;
        try {
          await this.queue.close();
        } catch (err) {
          this.logger.error({ err: this.redact(errorText(err)) }, 'closing the queue failed');
        }
        this.logger.info('runtime stopped');
      })();
    }
    return this.closing;
  }
}

/** What an ingest worker thread needs of a config snapshot. */
function workerConfigOf(active: ActiveConfig): Omit<WorkerConfig, 'id'> {
  return {
    destinations: active.loaded.destinations.map((d) => ({ name: d.name, definition: d.definition })),
    projects: active.projects,
    eventsPerRequest: active.limits.eventsPerRequest,
  };
}

/** Message of an unknown thrown value. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
