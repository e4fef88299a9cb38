/** Events in: normalization to the HTTP V2 shape and Amplitude's per-event checks (SPEC §3). */
export { normalizeEvent, type NormalizeOptions } from './normalize.js';
export {
  validateIngestEvent,
  DEFAULT_MIN_ID_LENGTH,
  type IngestEventProblems,
  type ValidateOptions,
} from './validate.js';
export { ingestEvent, type IngestOptions, type IngestResult } from './ingest.js';
