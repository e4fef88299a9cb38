/**
 * Guard against regular expressions with catastrophic backtracking (ReDoS). JavaScript cannot
 * interrupt a running RegExp, so the evaluation time limit cannot stop `/(a+)+b/` on
 * `"aaaa…!"`: such patterns are refused when the expression is compiled instead. The check is
 * the classic star-height test (a repeated group that itself contains repetition); it does not
 * catch every slow pattern (e.g. overlapping alternatives under one quantifier), only the
 * common exponential ones.
 */

/**
 * Why `pattern` is unsafe, or undefined when it has no nested repetition.
 * `pattern` is RegExp source text (as in `/…/.source`).
 */
export function nestedRepetition(pattern: string): string | undefined {
  // One frame per open group: does it contain a repeating quantifier (directly or nested)?
  const groups: boolean[] = [false];
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i];
    if (ch === '\\') {
      i += 2;
      i = afterQuantifier(pattern, i, groups);
      continue;
    }
    if (ch === '[') {
      i = skipClass(pattern, i);
      i = afterQuantifier(pattern, i, groups);
      continue;
    }
    if (ch === '(') {
      groups.push(false);
      i++;
      continue;
    }
    if (ch === ')') {
      const inner = groups.length > 1 ? groups.pop()! : false;
      i++;
      const repeat = repeatingQuantifierAt(pattern, i);
      if (repeat > 0 && inner) {
        return 'a repeated group contains repetition itself, e.g. (a+)+, which can take exponential time';
      }
      if (inner || repeat > 0) groups[groups.length - 1] = true;
      i += Math.max(repeat, optionalQuantifierAt(pattern, i));
      continue;
    }
    i++;
    i = afterQuantifier(pattern, i, groups);
  }
  return undefined;
}

/** After an atom ending at `i`: note a repeating quantifier on the current group and skip it. */
function afterQuantifier(pattern: string, i: number, groups: boolean[]): number {
  const repeat = repeatingQuantifierAt(pattern, i);
  if (repeat > 0) {
    groups[groups.length - 1] = true;
    return i + repeat;
  }
  return i + optionalQuantifierAt(pattern, i);
}

/** Length of a repeating quantifier (`*`, `+`, `{n,}`, `{n,m}` with m > 1, optional lazy `?`) at `i`, or 0. */
function repeatingQuantifierAt(pattern: string, i: number): number {
  const ch = pattern[i];
  let length = 0;
  if (ch === '*' || ch === '+') length = 1;
  else if (ch === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 24));
    if (m !== null && (m[2] !== undefined ? m[3] === '' || Number(m[3]) > 1 : Number(m[1]) > 1)) length = m[0].length;
  }
  if (length > 0 && pattern[i + length] === '?') length++;
  return length;
}

/** Length of a non-repeating quantifier (`?`, `{0,1}`, `{1}`) at `i`, or 0. */
function optionalQuantifierAt(pattern: string, i: number): number {
  if (pattern[i] === '?') return 1;
  if (pattern[i] === '{') {
    const m = /^\{\d+(,\d*)?\}\??/.exec(pattern.slice(i, i + 24));
    if (m !== null) return m[0].length;
  }
  return 0;
}

/** Index just after the character class starting at `i` (`[`). */
function skipClass(pattern: string, i: number): number {
  let j = i + 1;
  if (pattern[j] === '^') j++;
  if (pattern[j] === ']') j++;
  while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
  return j + 1;
}
