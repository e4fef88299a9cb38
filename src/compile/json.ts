/**
 * Small JSON helpers for the hot path: prototype-safe writes and JSONata's truthiness.
 */

/**
 * `obj[key] = value`, except that a key named `__proto__` becomes an own data property instead
 * of replacing the object's prototype (SPEC §2.3: such keys never reach a prototype).
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** A non-null, non-array object (what JSON calls an object). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSONata's effective boolean value (its `$boolean`), with undefined (no result) as false:
 * strings are true when non-empty, numbers when non-zero, objects when they have a key, arrays
 * when any member is true; null and functions are false.
 */
export function isTruthy(value: unknown): boolean {
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'string':
      return value.length > 0;
    case 'number':
      return value !== 0 && !Number.isNaN(value);
    case 'object':
      if (value === null) return false;
      if (Array.isArray(value)) {
        for (const item of value) if (isTruthy(item)) return true;
        return false;
      }
      if ((value as { _jsonata_function?: unknown })._jsonata_function === true) return false;
      if ((value as { _jsonata_lambda?: unknown })._jsonata_lambda === true) return false;
      for (const key in value) if (Object.hasOwn(value, key)) return true;
      return false;
    default:
      return false;
  }
}
