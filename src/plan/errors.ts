/**
 * Errors `plan` raises for problems outside the config itself. Both are usage/I-O errors
 * (exit code 2); an invalid config is not an error but a {@link PlanResult} of kind `invalid`.
 */
import { ExtoleStreamError } from '../errors.js';

/** Git could not give us the base: not a repository, unknown REF, git missing or failing. */
export class PlanGitError extends ExtoleStreamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ES_PLAN_GIT', message, options);
  }
}

/** The events to plan with could not be read: no file matches, bad JSON, not an object. */
export class PlanEventsError extends ExtoleStreamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ES_PLAN_EVENTS', message, options);
  }
}
