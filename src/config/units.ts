/** Sizes (`1MB`, `512KB`) and durations (`500ms`, `10s`, `1m`, `4h`, `7d`) as the schema writes them. */

const SIZE = /^([0-9]+(?:\.[0-9]+)?)(B|KB|MB|GB)$/;
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9 };
const DURATION = /^([0-9]+)(ms|s|m|h|d)$/;
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

/** Bytes in a size string, or undefined when it is not one. Units are decimal (1KB = 1000 B). */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text);
  return m ? Math.round(Number(m[1]) * SIZE_UNITS[m[2]!]!) : undefined;
}

/** Milliseconds in a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  return m ? Number(m[1]) * DURATION_UNITS[m[2]!]! : undefined;
}

/** `100/1m` → {count: 100, windowMs: 60000}; `10/s` means per one second. */
export function parseRateLimit(text: string): { count: number; windowMs: number } | undefined {
  const m = /^([0-9]+)\/([0-9]*)(ms|s|m|h)$/.exec(text);
  if (!m) return undefined;
  const count = Number(m[1]);
  const windowMs = (m[2] === '' ? 1 : Number(m[2])) * DURATION_UNITS[m[3]!]!;
  return count > 0 && windowMs > 0 ? { count, windowMs } : undefined;
}
