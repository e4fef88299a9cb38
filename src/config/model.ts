/**
 * What loading a config produces: every file parsed, defaults applied (from the schemas),
 * secrets resolved where possible, and every diagnostic found. Consumers (compile, serve,
 * plan, CLI) read only this.
 */
import type { Destination } from '../generated/destination.js';
import type { ExtoleConfig } from '../generated/extole-config.js';
import type { Diagnostic } from './diagnostics.js';

/** A 1-based position in a source file. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/** A path into a parsed YAML document, e.g. `['mapping', 'data', 'coupon']`. */
export type NodePath = readonly (string | number)[];

export interface LoadedDestination {
  /** Absolute path of the YAML file. */
  file: string;
  /** `name:` or the file name without extension. */
  name: string;
  /**
   * The definition with schema defaults applied. Secret fields keep their reference text
   * (`${env:EXTOLE_ACCESS_TOKEN}`), never the value.
   */
  definition: Destination;
  /** The resolved access token, or undefined when its variable/file is not available. */
  accessToken: string | undefined;
  /** Where a node of this file starts (falls back to the nearest existing parent). */
  locate(path: NodePath): SourcePosition;
}

export interface LoadedProject {
  key: string;
  /** The resolved api_key, or undefined when its variable/file is not available. */
  apiKey: string | undefined;
}

export interface LoadedConfig {
  /** Absolute path of the root file. */
  rootFile: string;
  /** Folder of the root file; relative paths in the config resolve against it. */
  rootDir: string;
  /** Root config with schema defaults applied; secret fields keep their reference text. */
  root: ExtoleConfig;
  projects: LoadedProject[];
  destinations: LoadedDestination[];
  /** Resolved server.admin_token and queue.url (undefined when unset or unavailable). */
  adminToken: string | undefined;
  queueUrl: string | undefined;
  /** Secret references whose value is not available, e.g. `env:EXTOLE_ACCESS_TOKEN` (serve refuses to start). */
  missingSecrets: string[];
  /** Every error and warning, in file order. */
  diagnostics: Diagnostic[];
  /** No diagnostic of severity error. */
  ok: boolean;
  /** Config revision: content hash of all files, plus the git commit of the root folder when known. */
  revision: { hash: string; git?: string; label: string };
  /** The resolved secret values (distinct, none empty): what `redact` hides. */
  secretValues: readonly string[];
  /** Replace every resolved secret value in `text` with `***`. */
  redact(text: string): string;
}
