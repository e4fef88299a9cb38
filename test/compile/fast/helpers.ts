/**
 * Test helpers for the fast path: turn jsonata's and the fast path's results into plain JSON-like
 * values (no sequence flags, no null prototypes) so that both can be compared with `toEqual`.
 */

/** A deep copy made of plain arrays and plain objects; `undefined` entries are kept. */
export function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => plain(item));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, key, {
        value: plain((value as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

/** A JSON-safe deep clone, so that neither evaluator can observe the other's mutations. */
export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** The code of a thrown value (jsonata throws plain objects, the fast path JsonataErrors). */
export function codeOf(err: unknown): string | undefined {
  if (err !== null && typeof err === 'object' && 'code' in err) return String((err as { code: unknown }).code);
  return undefined;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; code: string | undefined; error: unknown };

/** Runs a synchronous evaluation and records its result or error code. */
export function outcomeOf(run: () => unknown): Outcome {
  try {
    return { ok: true, value: plain(run()) };
  } catch (error) {
    return { ok: false, code: codeOf(error), error };
  }
}

/** Runs an asynchronous evaluation and records its result or error code. */
export async function outcomeOfAsync(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: plain(await run()) };
  } catch (error) {
    return { ok: false, code: codeOf(error), error };
  }
}
