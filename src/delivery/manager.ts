/**
 * Delivery (SPEC §6): everything between the queue and Extole. One worker loop per destination
 * claims due rows, sends them concurrently (up to an adaptive limit under
 * `delivery.concurrency`, within `rate_limit`), and settles each row:
 *
 * - 2xx → `complete`; `delivered_events_total{attempt=first|retry}`, latency since ingestion.
 * - retryable (429, 408, 5xx but 501, network errors, timeouts) → `retry` at now + backoff (full
 *   jitter). A `Retry-After` pauses the WHOLE destination until then (≤ 300 s) and the row runs
 *   after it. A 429 also cuts the adaptive concurrency.
 * - 401/403 → token alarm: the destination pauses, the row is released WITHOUT counting an
 *   attempt, one probe request is tried every minute; the first success clears the alarm.
 * - other 4xx (and 501) → dead letter `rejected` with Extole's code and message.
 * - A row is given up (dead letter `expired`) only when it has had `max_attempts` attempts AND is
 *   older than `max_age`.
 *
 * The access token lives only in memory (this object) and in the Authorization header: dead
 * letters carry `Bearer ***`, logs never name it.
 */
import type { Logger } from 'pino';
import { parseDuration } from '../config/units.js';
import { ExtoleClient, type SendResult } from '../extole/client.js';
import { classify, type Classification } from '../extole/classify.js';
import type { Destination } from '../generated/destination.js';
import type { Metrics } from '../metrics.js';
import type { Queue, QueueItem } from '../queue/types.js';
import { USER_AGENT } from '../version.js';
import { backoffDelay } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import { AdaptiveConcurrency } from './concurrency.js';
import { LogRateLimit } from './log-limit.js';
import { RateLimiter } from './rate-limit.js';

/** What delivery needs to know about one destination. */
export interface DeliveryDestination {
  name: string;
  baseUrl: string;
  /** The resolved token; undefined = not available (the destination does not deliver). */
  accessToken: string | undefined;
  delivery: Destination['delivery'];
}

export interface DeliveryManagerOptions {
  queue: Queue;
  metrics: Metrics;
  logger: Logger;
  clock?: Clock;
  /**
   * Lease on claimed rows. A destination whose `timeout` is longer uses `timeout + 5 s` instead:
   * a lease that lapses under a live request would let another worker send the event twice.
   */
  leaseMs: number;
  configRevision: string;
  destinations: DeliveryDestination[];
  /** Poll interval when no row is due and nobody called `wake()`. Default 200 ms. */
  idlePollMs?: number;
  /** How often a destination under a token alarm probes again. Default 60 000 ms (SPEC: every minute). */
  authRetryMs?: number;
  /** How long `stop()` lets in-flight requests finish before releasing them. Default 10 000 ms. */
  stopTimeoutMs?: number;
  /** [0, 1) source for backoff jitter. Default Math.random. */
  random?: () => number;
}

export type PauseReason = 'retry_after' | 'token_alarm' | 'no_token';

export interface DestinationDeliveryStatus {
  destination: string;
  /** True while the destination sends nothing (Retry-After, token alarm, or no token). */
  paused: boolean;
  pauseReason: PauseReason | null;
  /** Epoch ms when the pause ends (null: not paused, or no token at all). */
  pausedUntil: number | null;
  /** True while Extole rejects the token (401/403). */
  tokenAlarm: boolean;
  /** Epoch ms of the first 401/403 of the current alarm. */
  tokenAlarmSince: number | null;
  /** Current adaptive limit, and its bound `delivery.concurrency`. */
  concurrencyLimit: number;
  maxConcurrency: number;
  inFlight: number;
  counters: {
    /** Requests sent (any outcome). */
    requests: number;
    delivered: number;
    deliveredFirstAttempt: number;
    deliveredAfterRetry: number;
    /** Attempts scheduled for a retry. */
    retried: number;
    rejected: number;
    expired: number;
    /** 401/403 answers (rows released, not charged). */
    authFailures: number;
    /** 429 answers. */
    throttled: number;
  };
  /** Last failure (HTTP status + Extole code/message, or network error); never the token. */
  lastError: string | null;
  lastDeliveredAt: number | null;
}

interface Settings {
  name: string;
  baseUrl: string;
  accessToken: string | undefined;
  concurrency: number;
  timeoutMs: number;
  rateLimit: string | undefined;
  maxAttempts: number;
  maxAgeMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

const DEFAULTS = { concurrency: 16, timeout: '10s', maxAttempts: 10, maxAge: '4h', initialBackoff: '1s', maxBackoff: '30s' };

function durationMs(text: string | undefined, fallback: string): number {
  return parseDuration(text ?? fallback) ?? parseDuration(fallback)!;
}

/** Apply the schema defaults (the loader does too; delivery must not depend on it). */
function settingsOf(dest: DeliveryDestination): Settings {
  const d = dest.delivery ?? {};
  const r = d.retry ?? {};
  return {
    name: dest.name,
    baseUrl: dest.baseUrl,
    accessToken: dest.accessToken,
    concurrency: Math.max(1, Math.floor(d.concurrency ?? DEFAULTS.concurrency)),
    timeoutMs: durationMs(d.timeout, DEFAULTS.timeout),
    rateLimit: d.rate_limit,
    maxAttempts: Math.max(1, Math.floor(r.max_attempts ?? DEFAULTS.maxAttempts)),
    maxAgeMs: durationMs(r.max_age, DEFAULTS.maxAge),
    initialBackoffMs: durationMs(r.initial_backoff, DEFAULTS.initialBackoff),
    maxBackoffMs: durationMs(r.max_backoff, DEFAULTS.maxBackoff),
  };
}

/** Shared by the manager and its workers. */
interface Shared {
  queue: Queue;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  leaseMs: number;
  configRevision: string;
  idlePollMs: number;
  authRetryMs: number;
  random: () => number;
}

/** Delivers the queued rows of all destinations; see the module comment. */
export class DeliveryManager {
  private readonly shared: Shared;
  private readonly stopTimeoutMs: number;
  private readonly workers = new Map<string, DestinationWorker>();
  /** Workers stopped by `update()` that may still have requests in flight. */
  private readonly retiring = new Set<Promise<void>>();
  private started = false;
  private stopped = false;
  /** Ends the queue's enqueue notices (`Queue.onEnqueued`), when it has them. */
  private unsubscribe: (() => void) | undefined;

  constructor(options: DeliveryManagerOptions) {
    this.shared = {
      queue: options.queue,
      metrics: options.metrics,
      logger: options.logger,
      clock: options.clock ?? systemClock,
      leaseMs: options.leaseMs,
      configRevision: options.configRevision,
      idlePollMs: options.idlePollMs ?? 200,
      authRetryMs: options.authRetryMs ?? 60_000,
      random: options.random ?? Math.random,
    };
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    for (const dest of options.destinations) this.workers.set(dest.name, new DestinationWorker(settingsOf(dest), this.shared));
  }

  /** Start one worker loop per destination. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const worker of this.workers.values()) worker.start();
    // Shared queues (postgres) announce rows other servers enqueued: claim them now, not at the
    // next idle poll.
    this.unsubscribe = this.shared.queue.onEnqueued?.((destination) => this.wake(destination));
  }

  /**
   * Swap destination settings (config reload). Changed destinations keep their queue position,
   * pause and counters; a removed destination's worker stops (its rows stay queued); new ones
   * start. Dead letters written from now on carry `configRevision`.
   */
  update(destinations: DeliveryDestination[], configRevision: string): void {
    if (this.stopped) return;
    this.shared.configRevision = configRevision;
    const next = new Map(destinations.map((d) => [d.name, settingsOf(d)]));
    for (const [name, worker] of this.workers) {
      if (next.has(name)) continue;
      this.workers.delete(name);
      const done = worker.stop(this.stopTimeoutMs).then(() => {
        // A destination that is gone must not linger on /metrics with its last values.
        this.shared.metrics.tokenAlarm.remove({ destination: name });
        this.shared.metrics.concurrencyLimit.remove({ destination: name });
      });
      this.retiring.add(done);
      void done.finally(() => this.retiring.delete(done));
    }
    for (const [name, settings] of next) {
      const existing = this.workers.get(name);
      if (existing) {
        existing.reconfigure(settings);
      } else {
        const worker = new DestinationWorker(settings, this.shared);
        this.workers.set(name, worker);
        if (this.started) worker.start();
      }
    }
  }

  /** New rows were enqueued: poll now instead of at the next idle tick. */
  wake(destination?: string): void {
    if (destination === undefined) for (const worker of this.workers.values()) worker.wake();
    else this.workers.get(destination)?.wake();
  }

  /** Per destination, by name. */
  status(): DestinationDeliveryStatus[] {
    return [...this.workers.values()].map((w) => w.status()).sort((a, b) => a.destination.localeCompare(b.destination));
  }

  /**
   * Stop claiming; let in-flight requests finish (up to `stopTimeoutMs`), then release what is
   * still in flight back to the queue without counting an attempt. The queue stays open.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    const all = [...this.workers.values()].map((w) => w.stop(this.stopTimeoutMs));
    await Promise.all([...all, ...this.retiring]);
  }
}

interface InFlight {
  item: QueueItem;
  /** Set when `stop()` released the row: its late answer must not settle it. */
  abandoned: boolean;
  /** True until Extole answered (or the request failed); the row may still be settling after. */
  sending: boolean;
  done: Promise<void>;
}

/**
 * Rows claimed per claim, as a multiple of the concurrency limit: claims are transactions, so
 * one per freed slot would cost one per event. The surplus waits in the worker's buffer.
 */
const CLAIM_FACTOR = 2;
/**
 * Rows whose request has been answered but whose settle (a queue write) has not finished yet do
 * not hold a request slot; this bounds how many of them there can be, as a multiple of the limit.
 * It is also the most a crashed server can leave to be delivered twice, per destination: its
 * requests in flight plus its answered rows not yet settled (README, "Guarantees").
 */
export const UNSETTLED_FACTOR = 4;
/**
 * A buffered row is sent only while its lease outlives the request timeout by this much; a lease
 * that lapsed under a live request would let another worker send the event twice.
 */
const LEASE_SAFETY_MS = 1000;
/** At most one dead-letter warning per destination, reason, status and code in this time (see `LogRateLimit`). */
const DEAD_LETTER_LOG_INTERVAL_MS = 10_000;

class DestinationWorker {
  private settings: Settings;
  private client: ExtoleClient;
  private readonly concurrency: AdaptiveConcurrency;
  private rateLimiter: RateLimiter | undefined;
  /** Claimed rows, from the request until the settle is done. */
  private readonly inFlight = new Set<InFlight>();
  /** Requests to Extole not answered yet (the part of `inFlight` that holds a concurrency slot). */
  private sending = 0;
  /** Rows claimed but not sent yet, in claim order (run_at, then enqueue order). */
  private buffer: QueueItem[] = [];
  /** Cached metric children: label lookups cost a hash and an object per call. */
  private readonly requestCounters = new Map<string, { inc: (value?: number) => void }>();
  private deliveredFirst: { inc: (value?: number) => void };
  private deliveredRetry: { inc: (value?: number) => void };
  private latency: { observe: (value: number) => void };
  private reportedLimit = -1;
  private interrupt = new AbortController();
  /** The loop is in `sleep` (on `interrupt`'s signal). */
  private sleeping = false;
  /** The loop's wait for a free slot, if it is waiting (made on demand: most answers find nobody waiting). */
  private settled: { promise: Promise<void>; resolve: () => void } | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private pauseReason: PauseReason | null = null;
  private pausedUntil = 0;
  private tokenAlarmSince: number | null = null;
  private lastError: string | null = null;
  private lastDeliveredAt: number | null = null;
  private readonly counters: DestinationDeliveryStatus['counters'] = {
    requests: 0,
    delivered: 0,
    deliveredFirstAttempt: 0,
    deliveredAfterRetry: 0,
    retried: 0,
    rejected: 0,
    expired: 0,
    authFailures: 0,
    throttled: 0,
  };
  private readonly log: Logger;
  /** Dead-letter warnings: one per kind per interval, with the count held back (see `logDeadLetter`). */
  private readonly deadLetterLog: LogRateLimit;

  constructor(settings: Settings, private readonly shared: Shared) {
    this.settings = settings;
    this.client = new ExtoleClient({ baseUrl: settings.baseUrl, connections: settings.concurrency });
    this.concurrency = new AdaptiveConcurrency(settings.concurrency);
    this.rateLimiter = RateLimiter.fromConfig(settings.rateLimit);
    this.log = shared.logger.child({ destination: settings.name });
    this.deadLetterLog = new LogRateLimit(DEAD_LETTER_LOG_INTERVAL_MS, () => shared.clock.now());
    this.deliveredFirst = shared.metrics.deliveredEvents.labels(settings.name, 'first');
    this.deliveredRetry = shared.metrics.deliveredEvents.labels(settings.name, 'retry');
    this.latency = shared.metrics.deliveryLatency.labels(settings.name);
    this.reportLimit();
    shared.metrics.tokenAlarm.set({ destination: settings.name }, 0);
  }

  /** Publish the adaptive limit when it changed (a gauge set allocates; most successes change nothing). */
  private reportLimit(): void {
    const limit = this.concurrency.limit;
    if (limit === this.reportedLimit) return;
    this.reportedLimit = limit;
    this.shared.metrics.concurrencyLimit.set({ destination: this.settings.name }, limit);
  }

  private requestCounter(status: string): { inc: (value?: number) => void } {
    let counter = this.requestCounters.get(status);
    if (counter === undefined) {
      counter = this.shared.metrics.deliveryRequests.labels(this.settings.name, status);
      this.requestCounters.set(status, counter);
    }
    return counter;
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => {
      // The loop handles its own failures; reaching here is a bug, but delivery of other
      // destinations must go on.
      this.log.error({ err: errorText(err) }, 'delivery loop crashed');
    });
  }

  wake(): void {
    // Only a sleep in progress (or stop) needs the abort. Ingest calls this once per request,
    // and each abort costs a DOMException and an event dispatch (about 1% of the event loop
    // during ingest); a sleep that starts later was never cut short by an earlier wake anyway.
    if (this.sleeping || this.stopping) {
      const old = this.interrupt;
      // Once stopping, the aborted signal stays: no sleep may start after stop() was called.
      if (!this.stopping) this.interrupt = new AbortController();
      old.abort();
    }
    // Also ends a wait for a free slot.
    this.notifySettled();
  }

  reconfigure(next: Settings): void {
    const prev = this.settings;
    this.settings = next;
    if (next.baseUrl !== prev.baseUrl || next.concurrency !== prev.concurrency) {
      const old = this.client;
      this.client = new ExtoleClient({ baseUrl: next.baseUrl, connections: next.concurrency });
      // In-flight requests finish on the old pool; then it closes.
      void old.close().catch(() => {});
    }
    if (next.concurrency !== prev.concurrency) {
      this.concurrency.setMaximum(next.concurrency);
      this.reportLimit();
    }
    if (next.rateLimit !== prev.rateLimit) this.rateLimiter = RateLimiter.fromConfig(next.rateLimit);
    // A new token may be the fix for the alarm: probe at once instead of waiting out the minute.
    if (next.accessToken !== prev.accessToken && this.pauseReason === 'token_alarm') this.pausedUntil = 0;
    this.wake();
  }

  status(): DestinationDeliveryStatus {
    const now = this.shared.clock.now();
    const noToken = this.settings.accessToken === undefined || this.settings.accessToken === '';
    const pausedByTime = this.pauseReason !== null && this.pausedUntil > now;
    return {
      destination: this.settings.name,
      paused: noToken || pausedByTime,
      pauseReason: noToken ? 'no_token' : pausedByTime ? this.pauseReason : null,
      pausedUntil: !noToken && pausedByTime ? this.pausedUntil : null,
      tokenAlarm: this.tokenAlarmSince !== null,
      tokenAlarmSince: this.tokenAlarmSince,
      concurrencyLimit: this.concurrency.limit,
      maxConcurrency: this.concurrency.maximum,
      inFlight: this.inFlight.size,
      counters: { ...this.counters },
      lastError: this.lastError,
      lastDeliveredAt: this.lastDeliveredAt,
    };
  }

  /** Stop the loop; give in-flight requests `timeoutMs`, then release them and close the pool. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    const pending = [...this.inFlight];
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      // Real time on purpose: shutdown has a wall-clock budget (SPEC §5: exit within 30 s).
      const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), timeoutMs)));
      const outcome = await Promise.race([Promise.all(pending.map((p) => p.done)).then(() => 'done' as const), deadline]);
      clearTimeout(timer);
      if (outcome === 'deadline') {
        const left = [...this.inFlight];
        for (const entry of left) entry.abandoned = true;
        try {
          await this.shared.queue.release(left.map((e) => e.item));
          this.log.info({ released: left.length }, 'released in-flight deliveries at shutdown');
        } catch (err) {
          // The leases expire on their own; another worker (or the next start) picks them up.
          this.log.warn({ err: errorText(err) }, 'could not release in-flight deliveries; their leases will expire');
        }
        await this.client.destroy().catch(() => {});
        await Promise.all(left.map((e) => e.done));
      }
    }
    await this.client.close().catch(() => {});
    for (const [kind, heldBack] of this.deadLetterLog.drain()) {
      this.log.warn({ kind, held_back: heldBack }, 'dead-letter warnings held back since the last one written (see the dead letters)');
    }
  }

  // ---------------------------------------------------------------- the loop

  private async run(): Promise<void> {
    const { clock } = this.shared;
    while (!this.stopping) {
      const now = clock.now();
      const token = this.settings.accessToken;
      if (token === undefined || token === '') {
        // serve refuses to start without secrets; this covers a reload that lost one.
        await this.releaseBuffer();
        await this.idle(this.shared.authRetryMs);
        continue;
      }
      if (this.pauseReason !== null) {
        if (this.pausedUntil > now) {
          // Claimed rows go back while the destination waits (the pause may outlast their lease).
          await this.releaseBuffer();
          await this.sleep(this.pausedUntil - now);
          continue;
        }
        if (this.pauseReason === 'retry_after') this.pauseReason = null;
        // A token alarm stays until a request succeeds; meanwhile one probe at a time.
      }
      const alarmed = this.tokenAlarmSince !== null;
      const limit = alarmed ? 1 : this.concurrency.limit;
      let capacity = Math.min(limit - this.sending, UNSETTLED_FACTOR * limit - this.inFlight.size);
      if (capacity <= 0) {
        await this.waitForSettle();
        continue;
      }
      if (this.rateLimiter) {
        const wait = this.rateLimiter.waitMs(now);
        if (wait > 0) {
          await this.sleep(wait);
          continue;
        }
        capacity = Math.min(capacity, this.rateLimiter.available(now));
      }
      if (this.buffer.length < capacity) {
        // Claim ahead (a few times the limit) so most freed slots are filled from the buffer;
        // not while probing a token alarm or under a rate limit, where rows would only wait.
        const want = alarmed || this.rateLimiter ? capacity : Math.max(capacity, CLAIM_FACTOR * limit);
        const claimed = await this.claim(want - this.buffer.length, now);
        if (claimed === undefined && this.buffer.length === 0) {
          await this.sleep(1000);
          continue;
        }
        if (this.stopping) break;
      }
      if (this.buffer.length === 0) {
        await this.idle(this.shared.idlePollMs);
        continue;
      }
      this.dispatchBuffered(capacity, token, clock.now());
    }
    await this.releaseBuffer();
  }

  /** Claim up to `n` rows into the buffer; undefined when the queue failed. */
  private async claim(n: number, now: number): Promise<number | undefined> {
    try {
      const leaseMs = Math.max(this.shared.leaseMs, this.settings.timeoutMs + 5000);
      // Sending needs the body only; the live view asks for the event itself (observeSettlements).
      const items = await this.shared.queue.claim(this.settings.name, n, now, leaseMs, { event: false });
      for (const item of items) this.buffer.push(item);
      return items.length;
    } catch (err) {
      this.lastError = `queue: ${errorText(err)}`;
      this.log.warn({ err: errorText(err) }, 'claim failed; retrying');
      return undefined;
    }
  }

  /** Send up to `capacity` buffered rows; rows whose lease would not outlive a request go back. */
  private dispatchBuffered(capacity: number, token: string, now: number): void {
    const minLease = now + this.settings.timeoutMs + LEASE_SAFETY_MS;
    let taken = 0;
    let stale: QueueItem[] | undefined;
    let sent = 0;
    while (taken < this.buffer.length && sent < capacity) {
      const item = this.buffer[taken++]!;
      if (item.leaseUntil < minLease) {
        (stale ??= []).push(item);
        continue;
      }
      this.rateLimiter?.tryTake(now);
      this.dispatch(item, token);
      sent++;
    }
    this.buffer = taken === this.buffer.length ? [] : this.buffer.slice(taken);
    if (stale) {
      // Back to the queue at once (no attempt counted) rather than waiting out the lease.
      void this.shared.queue.release(stale).catch((err: unknown) => {
        this.log.warn({ err: errorText(err) }, 'could not release rows whose lease ran short; their leases will expire');
      });
    }
  }

  /** Give every buffered (claimed, unsent) row back to the queue without counting an attempt. */
  private async releaseBuffer(): Promise<void> {
    if (this.buffer.length === 0) return;
    const items = this.buffer;
    this.buffer = [];
    try {
      await this.shared.queue.release(items);
    } catch (err) {
      // The leases expire on their own; this or another worker picks the rows up then.
      this.log.warn({ err: errorText(err) }, 'could not release claimed rows; their leases will expire');
    }
  }

  private dispatch(item: QueueItem, token: string): void {
    const entry: InFlight = { item, abandoned: false, sending: true, done: Promise.resolve() };
    this.sending++;
    entry.done = this.deliver(entry, token)
      .catch((err: unknown) => {
        // Settling failed (queue unavailable): the lease expires and the row is tried again.
        this.log.warn({ err: errorText(err), id: item.id }, 'could not settle a delivery; its lease will expire');
      })
      .finally(() => {
        this.answered(entry);
        this.inFlight.delete(entry);
        this.notifySettled();
      });
    this.inFlight.add(entry);
  }

  /** The request is over: its slot is free for the next one, even while the row settles. */
  private answered(entry: InFlight): void {
    if (!entry.sending) return;
    entry.sending = false;
    this.sending--;
    this.notifySettled();
  }

  private notifySettled(): void {
    const s = this.settled;
    if (s === undefined) return;
    this.settled = undefined;
    s.resolve();
  }

  private async deliver(entry: InFlight, token: string): Promise<void> {
    const { item } = entry;
    const { clock, metrics } = this.shared;
    const settings = this.settings;
    const epoch = this.concurrency.epoch;
    const attemptAt = clock.now();
    const result = await this.client.send(item.path, item.body, token, settings.timeoutMs);
    this.answered(entry);
    if (entry.abandoned) return;
    const now = clock.now();
    this.counters.requests++;
    this.requestCounter(result.kind === 'response' ? String(result.status) : 'error').inc();
    const verdict = classify(result, now);
    switch (verdict.action) {
      case 'delivered':
        return this.onDelivered(item, now);
      case 'retry':
        return this.onRetry(item, verdict, result, epoch, attemptAt, now);
      case 'pause-auth':
        return this.onAuthFailure(item, verdict, now);
      case 'reject':
        return this.onReject(item, verdict, result, attemptAt);
    }
  }

  private async onDelivered(item: QueueItem, now: number): Promise<void> {
    const { metrics, queue } = this.shared;
    const name = this.settings.name;
    const owned = await queue.complete(item);
    this.concurrency.onSuccess();
    this.reportLimit();
    if (this.tokenAlarmSince !== null) {
      this.log.info('Extole accepts the access token again; token alarm cleared');
      this.tokenAlarmSince = null;
      if (this.pauseReason === 'token_alarm') {
        this.pauseReason = null;
        this.pausedUntil = 0;
      }
      metrics.tokenAlarm.set({ destination: name }, 0);
    }
    this.lastDeliveredAt = now;
    // Extole has the event either way; count it once, even if our lease had lapsed meanwhile.
    if (!owned) this.log.debug({ id: item.id }, 'delivered, but the lease had passed to another worker');
    this.counters.delivered++;
    if (item.attempts === 0) {
      this.counters.deliveredFirstAttempt++;
      this.deliveredFirst.inc();
    } else {
      this.counters.deliveredAfterRetry++;
      this.deliveredRetry.inc();
    }
    this.latency.observe(Math.max(0, now - item.enqueuedAt) / 1000);
  }

  private async onRetry(
    item: QueueItem,
    verdict: Extract<Classification, { action: 'retry' }>,
    result: SendResult,
    epoch: number,
    attemptAt: number,
    now: number,
  ): Promise<void> {
    const { metrics, queue } = this.shared;
    const settings = this.settings;
    this.lastError = verdict.error;
    if (verdict.throttled) {
      this.counters.throttled++;
      if (this.concurrency.onThrottle(epoch)) {
        this.reportLimit();
        this.log.info({ limit: this.concurrency.limit }, 'Extole throttles (429): concurrency cut');
      }
    }
    if (verdict.retryAfterMs !== null && verdict.retryAfterMs > 0) this.pauseUntil(now + verdict.retryAfterMs, 'retry_after');

    const attempts = item.attempts + 1;
    const age = now - item.enqueuedAt;
    if (attempts >= settings.maxAttempts && age >= settings.maxAgeMs) {
      const moved = await queue.deadLetter(item, {
        reason: 'expired',
        httpStatus: verdict.status,
        extoleCode: result.kind === 'response' ? result.extoleCode : null,
        // The last failure in words: Extole's message, or the network error / timeout.
        extoleMessage: result.kind === 'response' && result.extoleMessage ? result.extoleMessage : verdict.error,
        attempts,
        firstAttemptAt: item.firstAttemptAt ?? attemptAt,
        lastAttemptAt: attemptAt,
        configRevision: this.shared.configRevision,
        request: this.redactedRequest(item),
      });
      if (moved) {
        this.counters.expired++;
        metrics.deadLetters.inc({ destination: settings.name, reason: 'expired' });
        this.logDeadLetter(`expired ${verdict.status ?? 'error'}`, { id: item.id, attempts, ageMs: age, error: verdict.error }, 'gave up on an event: dead letter (expired)');
      }
      return;
    }
    const backoff = backoffDelay(attempts, { initialMs: settings.initialBackoffMs, maxMs: settings.maxBackoffMs }, this.shared.random);
    const runAt = Math.max(now + backoff, this.pauseReason === 'retry_after' ? this.pausedUntil : 0);
    const owned = await queue.retry(item, runAt, { at: attemptAt, status: verdict.status, error: verdict.error });
    if (owned) this.counters.retried++;
    if (this.log.isLevelEnabled('debug')) this.log.debug({ id: item.id, attempts, runAt, error: verdict.error }, 'delivery failed; will retry');
  }

  private async onAuthFailure(item: QueueItem, verdict: Extract<Classification, { action: 'pause-auth' }>, now: number): Promise<void> {
    const { metrics, queue } = this.shared;
    const name = this.settings.name;
    this.counters.authFailures++;
    this.lastError = verdict.error;
    if (this.tokenAlarmSince === null) {
      this.tokenAlarmSince = now;
      metrics.tokenAlarm.set({ destination: name }, 1);
      // The token itself is never logged; status and Extole's code say enough to act on.
      this.log.error(
        { status: verdict.status, extoleCode: verdict.extoleCode },
        `Extole rejects the access token (HTTP ${verdict.status}); delivery paused, retrying every ${Math.round(this.shared.authRetryMs / 1000)} s`,
      );
    }
    this.pauseUntil(now + this.shared.authRetryMs, 'token_alarm');
    // Not the event's fault: no attempt is counted and it keeps its place in the queue.
    await queue.release([item]);
  }

  private async onReject(
    item: QueueItem,
    verdict: Extract<Classification, { action: 'reject' }>,
    result: SendResult,
    attemptAt: number,
  ): Promise<void> {
    const { metrics, queue } = this.shared;
    const name = this.settings.name;
    this.lastError = verdict.error;
    // A 4xx with no Extole body (a proxy's page): keep the start of the body as the message.
    const message = verdict.extoleMessage ?? (result.kind === 'response' && result.body ? result.body.slice(0, 500) : null);
    const moved = await queue.deadLetter(item, {
      reason: 'rejected',
      httpStatus: verdict.status,
      extoleCode: verdict.extoleCode,
      extoleMessage: message,
      attempts: item.attempts + 1,
      firstAttemptAt: item.firstAttemptAt ?? attemptAt,
      lastAttemptAt: attemptAt,
      configRevision: this.shared.configRevision,
      request: this.redactedRequest(item),
    });
    if (moved) {
      this.counters.rejected++;
      metrics.deadLetters.inc({ destination: name, reason: 'rejected' });
      this.logDeadLetter(
        `rejected ${verdict.status} ${verdict.extoleCode ?? ''}`,
        { id: item.id, status: verdict.status, extoleCode: verdict.extoleCode },
        'Extole rejected an event: dead letter (rejected)',
      );
    }
  }

  /**
   * A dead-letter warning, at most one per `kind` per DEAD_LETTER_LOG_INTERVAL_MS: a destination
   * whose every event fails the same way would log one line per event. A line written after
   * some were held back says how many (`held_back`); the dead letters keep every event.
   */
  private logDeadLetter(kind: string, fields: Record<string, unknown>, message: string): void {
    const heldBack = this.deadLetterLog.admit(kind);
    if (heldBack === undefined) return;
    this.log.warn(heldBack > 0 ? { ...fields, held_back: heldBack } : fields, message);
  }

  /** `{method, url, headers, body}` as sent, with the token as `Bearer ***`. */
  private redactedRequest(item: QueueItem): string {
    let body: unknown = item.body;
    try {
      body = JSON.parse(item.body);
    } catch {
      // Kept as the text that was sent.
    }
    return JSON.stringify({
      method: 'POST',
      url: this.settings.baseUrl.replace(/\/+$/, '') + item.path,
      headers: { authorization: 'Bearer ***', 'content-type': 'application/json', 'user-agent': USER_AGENT },
      body,
    });
  }

  private pauseUntil(until: number, reason: PauseReason): void {
    // A token alarm outranks a Retry-After (it also needs a successful request to end).
    if (reason === 'token_alarm' || this.pauseReason !== 'token_alarm') this.pauseReason = reason;
    if (until <= this.pausedUntil) return; // an equal or longer pause is already on
    this.pausedUntil = until;
    if (reason === 'retry_after') {
      this.log.info({ until: new Date(until).toISOString() }, 'Extole asked to retry later (Retry-After): destination paused');
    }
  }

  // ---------------------------------------------------------------- waiting

  /** Sleep on the clock; `wake()`/`stop()` cut it short. */
  private async sleep(ms: number): Promise<void> {
    this.sleeping = true;
    try {
      await this.shared.clock.sleep(ms, this.interrupt.signal);
    } finally {
      this.sleeping = false;
    }
  }

  private idle(ms: number): Promise<void> {
    return this.sleep(ms);
  }

  /** Until one in-flight request is answered or settles (or `wake()`/`stop()`). */
  private waitForSettle(): Promise<void> {
    // Once stopping, the interrupt stays aborted: nothing may wait after stop() was called.
    if (this.interrupt.signal.aborted) return Promise.resolve();
    return (this.settled ??= deferred()).promise;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
