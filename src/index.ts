/**
 * extole-stream as a library: the same pieces the CLI and server use, for teams that embed
 * them (a custom ingestion path, their own test harness).
 */
export { VERSION, USER_AGENT } from './version.js';
export * from './errors.js';
export { loadConfig } from './config/load.js';
export { formatDiagnostics } from './config/format.js';
export type { Diagnostic, RuleId, Severity } from './config/diagnostics.js';
export type { LoadedConfig, LoadedDestination, LoadedProject, SourcePosition } from './config/model.js';
export { parseSize, parseDuration, parseRateLimit } from './config/units.js';
export { normalizeEvent, validateIngestEvent } from './events/index.js';
export { compileDestination } from './compile/transformer.js';
export { compileExpression } from './compile/expression.js';
export type { Transformer, Outcome, DropReason, ExtoleRequest, ExtoleRequestBody } from './compile/types.js';
export { DROP_REASONS } from './compile/types.js';
export { runDestinationTests } from './testing/run-tests.js';
export { createQueue, SqliteQueue, PostgresQueue } from './queue/index.js';
export type { Queue, QueueItem, DeadLetter } from './queue/types.js';
export { startSandbox } from './extole/sandbox.js';
export type { Sandbox } from './extole/sandbox.js';
export { DeliveryManager } from './delivery/manager.js';
export { Runtime } from './runtime/runtime.js';
export { buildServer } from './server/app.js';
export { computePlan, renderPlanResult } from './plan/index.js';
export type { AmplitudeEvent } from './generated/amplitude-event.js';
export type { Destination } from './generated/destination.js';
export type { ExtoleConfig } from './generated/extole-config.js';
