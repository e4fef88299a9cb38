/**
 * Built-ins the fast path takes from jsonata itself instead of a port: `$fromMillis` with a
 * picture or a time zone, `$toMillis` with a picture, `$formatInteger` and `$parseInteger`
 * (XPath's date/time and integer picture languages, about a thousand lines of jsonata's
 * `datetime.js`). Their implementations are synchronous functions that read nothing but their
 * arguments and, for `$toMillis`, the evaluation's time stamp (`this.environment.timestamp`,
 * which the caller supplies), so calling jsonata's own is equal to jsonata by construction.
 * jsonata does not export them: they are read once, at load, from an evaluation of `$name` (a
 * top-level await). A jsonata whose function objects look different leaves them out, and
 * expressions using them run on the evaluator as before.
 */
import { jsonata } from '../jsonata-module.js';
import { JsonataError, type JsonataErrorFields } from './semantics.js';

type Implementation = (...args: any[]) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

async function implementationOf(name: string): Promise<Implementation | undefined> {
  try {
    const fn = (await jsonata(`$${name}`).evaluate({})) as { _jsonata_function?: unknown; implementation?: unknown } | undefined;
    return fn?._jsonata_function === true && typeof fn.implementation === 'function' ? (fn.implementation as Implementation) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * jsonata's implementation of `name`, its plain-object errors (`{code, value, …}`) thrown as
 * {@link JsonataError}s so that they get their message and position like the fast path's own.
 */
function throwingJsonataErrors(implementation: Implementation | undefined): Implementation | undefined {
  if (implementation === undefined) return undefined;
  return function (this: unknown, ...args) {
    try {
      return implementation.apply(this, args);
    } catch (err) {
      if (err !== null && typeof err === 'object' && !(err instanceof Error) && typeof (err as { code?: unknown }).code === 'string') {
        const { code, stack: _stack, ...fields } = err as JsonataErrorFields & { code: string; stack?: unknown };
        throw new JsonataError(code, fields);
      }
      throw err;
    }
  };
}

/** jsonata's own `$fromMillis`, `$toMillis`, `$formatInteger` and `$parseInteger`; undefined where not found. */
export const JSONATA_BUILTINS = {
  fromMillis: throwingJsonataErrors(await implementationOf('fromMillis')),
  toMillis: throwingJsonataErrors(await implementationOf('toMillis')),
  formatInteger: throwingJsonataErrors(await implementationOf('formatInteger')),
  parseInteger: throwingJsonataErrors(await implementationOf('parseInteger')),
};
