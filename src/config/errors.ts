import { ExtoleStreamError } from '../errors.js';

/**
 * No root config file could be found or read (neither by search nor at `--config PATH`).
 * An invalid config never throws: its problems are diagnostics on the LoadedConfig.
 */
export class ConfigNotFoundError extends ExtoleStreamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ES_CONFIG_NOT_FOUND', message, options);
  }
}
