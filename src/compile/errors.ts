/**
 * Errors of compiled mappings. Kept beside the compiler (not in src/errors.ts) so the compile
 * module owns its codes; it extends the shared ExtoleStreamError like every typed error.
 */
import { ExtoleStreamError } from '../errors.js';

/**
 * A JSONata expression failed to compile or to evaluate, or broke a guardrail
 * (code `ES_MAPPING`). `jsonataCode` is jsonata's own code (`S0201`, `T2002`, `D1011` stack,
 * `D1012` time, `D2014`/`D2015` sequence size, …) when jsonata raised it; `position` is the
 * character offset in the expression jsonata reports.
 */
export class MappingError extends ExtoleStreamError {
  readonly jsonataCode: string | undefined;
  readonly position: number | undefined;
  constructor(message: string, details: { jsonataCode?: string; position?: number; cause?: unknown } = {}) {
    super('ES_MAPPING', message, details.cause === undefined ? undefined : { cause: details.cause });
    this.jsonataCode = details.jsonataCode;
    this.position = details.position;
  }
}
