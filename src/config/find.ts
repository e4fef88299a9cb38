/**
 * Finding the root config file: `--config PATH`, or cosmiconfig's search (module `extole`).
 * cosmiconfig only FINDS the file here; parsing is ours (positions, YAML 1.2, alias limits).
 */
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { cosmiconfig } from 'cosmiconfig';
import { ConfigNotFoundError } from './errors.js';

/** Where cosmiconfig looks, in order, in each folder from cwd up to the project root. */
export const SEARCH_PLACES = ['extole.config.yaml', 'extole.config.yml', '.extolerc.yaml', 'package.json'] as const;
/** The package.json key that can hold the root config. */
export const PACKAGE_PROP = 'extole';

export interface FoundConfig {
  /** Absolute path of the root file. */
  file: string;
  /** Set when the config is a key of package.json. */
  packageProp?: string;
}

/** Finds the root file or throws ConfigNotFoundError. */
export async function findConfigFile(opts: { configPath?: string; cwd: string }): Promise<FoundConfig> {
  if (opts.configPath !== undefined && opts.configPath !== '') {
    const file = resolve(opts.cwd, opts.configPath);
    let isDirectory = false;
    try {
      isDirectory = (await stat(file)).isDirectory();
    } catch (err) {
      throw new ConfigNotFoundError(`config file not found: ${opts.configPath}`, { cause: err });
    }
    // `--config some/folder` searches that folder only.
    if (isDirectory) return search(file, 'none', opts.configPath);
    return basename(file) === 'package.json' ? { file, packageProp: PACKAGE_PROP } : { file };
  }
  return search(resolve(opts.cwd), 'project', opts.cwd);
}

async function search(from: string, searchStrategy: 'none' | 'project', shown: string): Promise<FoundConfig> {
  // Loaders return a marker instead of parsing: we only want the path. package.json is parsed
  // (JSON.parse, prototype-safe) just to see whether it has the `extole` key.
  const marker = (): object => ({ found: true });
  const explorer = cosmiconfig('extole', {
    searchPlaces: [...SEARCH_PLACES],
    packageProp: PACKAGE_PROP,
    searchStrategy,
    cache: false,
    // An empty extole.config.yaml is still THE config file: report it, do not skip it.
    ignoreEmptySearchPlaces: false,
    loaders: {
      '.yaml': marker,
      '.yml': marker,
      noExt: marker,
      '.json': (_path: string, content: string) => {
        try {
          return JSON.parse(content) as unknown;
        } catch {
          return {}; // malformed package.json: not a config holder; keep searching
        }
      },
    },
  });
  let result: Awaited<ReturnType<typeof explorer.search>>;
  try {
    result = await explorer.search(from);
  } catch (err) {
    throw new ConfigNotFoundError(`could not search for a config from ${shown}: ${(err as Error).message}`, { cause: err });
  }
  if (!result) {
    throw new ConfigNotFoundError(
      `no config found: looked for ${SEARCH_PLACES.slice(0, 3).join(', ')} or package.json#${PACKAGE_PROP} in ${shown}` +
        (searchStrategy === 'project' ? ' and its parents up to the project root' : '') + '; pass --config PATH',
    );
  }
  const file = resolve(result.filepath);
  return basename(file) === 'package.json' ? { file, packageProp: PACKAGE_PROP } : { file };
}
