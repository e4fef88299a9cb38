/* Generated from schemas/extole-config.schema.json by `npm run gen:types`. Do not edit by hand. */

/**
 * Root configuration of extole-stream (extole.config.yaml): which Amplitude projects may send events, where destination files live, and how the server and queue run.
 */
export interface ExtoleConfig {
  /**
   * Optional JSON Schema reference for editors; ignored by extole-stream.
   */
  $schema?: string;
  /**
   * Configuration format version. Only 1 exists.
   */
  version: 1;
  /**
   * Glob (or list of globs) of destination files, relative to this file.
   */
  destinations?: string | [string, ...string[]];
  /**
   * Amplitude projects allowed to send events. Destinations refer to them by key.
   *
   * @minItems 1
   */
  projects: [Project, ...Project[]];
  server?: Server;
  queue?: Queue;
  /**
   * Glob (or list of globs) of recorded Amplitude events (JSON lines) used by `plan`, relative to this file.
   */
  samples?: string | [string, ...string[]];
}
/**
 * One Amplitude project that may send events.
 */
export interface Project {
  /**
   * Stable kebab-case name that destinations refer to in `projects:`.
   */
  key: string;
  /**
   * Amplitude's numeric project id (informational).
   */
  amplitude_project_id?: number;
  /**
   * Free text for humans.
   */
  description?: string;
  /**
   * The project's Amplitude API key; SDKs and the webhook authenticate with it. Secret: `${env:NAME}` or `${file:PATH}`.
   */
  api_key: string;
}
/**
 * The ingestion and delivery server (`extole-stream serve`).
 */
export interface Server {
  /**
   * Address to listen on.
   */
  host?: string;
  /**
   * TCP port to listen on.
   */
  port?: number;
  /**
   * Bearer token guarding /status, /events/live and /-/reload. Without it those endpoints answer only on loopback. Secret.
   */
  admin_token?: string;
  /**
   * Log level of the structured (pino) logs.
   */
  log_level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * How long an insert_id is remembered per project to drop repeats.
   */
  dedup_window?: string;
  /**
   * Worker threads that read, validate and transform ingest requests, so the event loop only receives them, commits and delivers. 0 does that work in the event loop. Applies after a restart.
   */
  ingest_threads?: number;
  /**
   * Request limits; over them the server answers 413 like Amplitude.
   */
  limits?: {
    /**
     * Largest body accepted by POST /2/httpapi (after gzip decompression).
     */
    httpapi_bytes?: string;
    /**
     * Largest body accepted by POST /batch and /webhook (after gzip decompression).
     */
    batch_bytes?: string;
    /**
     * Most events accepted in one request.
     */
    events_per_request?: number;
  };
}
/**
 * The durable queue between ingestion and delivery.
 */
export interface Queue {
  /**
   * sqlite: embedded, one server. postgres: many servers share one database.
   */
  driver?: 'sqlite' | 'postgres';
  /**
   * SQLite database file, relative to the root config file.
   */
  path?: string;
  /**
   * PostgreSQL connection URL (driver postgres). Secret.
   */
  url?: string;
  /**
   * PostgreSQL schema that holds the queue tables (driver postgres).
   */
  schema?: string;
  /**
   * PostgreSQL connections per server for ingestion and reads (driver postgres). Claims and settles use a second pool of half this many (at least 2), and enqueue notices one more connection.
   */
  pool_size?: number;
  /**
   * How long a worker holds a claimed event before another may take it (a crashed worker's events come back after this).
   */
  lease?: string;
}
