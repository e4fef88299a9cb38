import { readFileSync } from 'node:fs';

/** The package version, read once from package.json (works from src/ and dist/). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** User-Agent sent to Extole. */
export const USER_AGENT = `extole-stream/${VERSION}`;
