/** `extole-stream plan` as a library: compute a plan, then render it. */
export * from './plan.js';
export * from './render.js';
export * from './diff.js';
export { PlanGitError, PlanEventsError } from './errors.js';
export { readEventFile, projectsForEvent } from './events.js';
