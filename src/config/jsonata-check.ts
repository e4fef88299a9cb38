/**
 * Static checks of one JSONata expression: syntax, the `$eval` ban, regular expressions that can
 * backtrack exponentially (the same test `compileExpression` applies, so a config that validates
 * also starts), and event field names
 * (first path steps evaluated on the event itself) against schemas/amplitude-event.schema.json.
 * Offsets are character indexes into the expression; the caller maps them into the YAML file.
 */
import { jsonata } from '../compile/jsonata-module.js';
import type { RuleId, Severity } from './diagnostics.js';
import { loadSchema } from './schemas.js';
import { isPlainObject } from './schema-walk.js';
import { suggest } from './schema-validate.js';
import { nestedRepetition } from '../compile/regex-safety.js';

export interface ExpressionProblem {
  /** Index into the expression where the problem starts. */
  offset: number;
  severity: Severity;
  rule: RuleId;
  message: string;
}

interface AstNode {
  type?: string;
  value?: unknown;
  position?: number;
  [key: string]: unknown;
}

let eventFields: string[] | undefined;

/** Top-level field names of a normalized event. */
export function amplitudeEventFields(): string[] {
  if (!eventFields) {
    const schema = loadSchema('amplitude-event');
    eventFields = isPlainObject(schema.properties) ? Object.keys(schema.properties) : [];
  }
  return eventFields;
}

/** Every problem in `source`; an unparsable expression yields only its syntax error. */
export function checkExpression(source: string): ExpressionProblem[] {
  let ast: AstNode;
  try {
    ast = jsonata(source).ast() as AstNode;
  } catch (err) {
    const e = err as { message?: string; position?: number; token?: unknown };
    return [{ offset: syntaxErrorOffset(source, e), severity: 'error', rule: 'jsonata-syntax', message: `JSONata syntax error: ${e.message ?? String(err)}` }];
  }
  const problems: ExpressionProblem[] = [];
  for (const node of allNodes(ast)) {
    if (node.type === 'variable' && node.value === 'eval') {
      problems.push({
        offset: Math.max(0, (node.position ?? 5) - 5),
        severity: 'error', rule: 'jsonata-eval',
        message: '$eval is not allowed: it evaluates text as an expression at run time, beyond validation and guardrails',
      });
    }
    if (node.type === 'regex' && node.value instanceof RegExp) {
      const why = nestedRepetition(node.value.source);
      if (why !== undefined) {
        problems.push({
          offset: regexStart(source, node.position, node.value),
          severity: 'error', rule: 'jsonata-unsafe-regex',
          // Same words as compileExpression's refusal at `serve`.
          message: `regular expression /${node.value.source}/ is not allowed: ${why}`,
        });
      }
    }
  }
  const fields = amplitudeEventFields();
  checkRootPaths(ast, (step) => {
    const name = String(step.value);
    if (fields.includes(name)) return;
    const hint = suggest(name, fields);
    problems.push({
      offset: nameStart(source, step),
      severity: 'warning', rule: 'unknown-field-path',
      message: `'${name}' is not a field of an Amplitude event${hint ? ` (did you mean '${hint}'?)` : ''}; it evaluates to nothing`,
    });
  });
  return problems.sort((a, b) => a.offset - b.offset);
}

/** jsonata reports the index just past the offending token; point at its start. */
function syntaxErrorOffset(source: string, e: { position?: number; token?: unknown }): number {
  if (typeof e.position !== 'number') return 0;
  const end = Math.min(e.position, source.length);
  const token = typeof e.token === 'string' && e.token !== '(end)' ? e.token : '';
  return Math.max(0, end - token.length);
}

/** Index of the opening `/` of a regex literal; jsonata's `position` is just past its flags. */
function regexStart(source: string, position: number | undefined, regex: RegExp): number {
  let end = Math.min(position ?? source.length, source.length);
  while (end > 0 && /[a-z]/i.test(source[end - 1]!)) end--;
  // end - 1 is the closing slash; the pattern text usually equals RegExp#source.
  const guess = end - 2 - regex.source.length;
  if (guess >= 0 && source[guess] === '/') return guess;
  return Math.max(0, source.lastIndexOf('/', end - 2));
}

/** Start of a name step: `position` is the index past it, past the closing backtick if quoted. */
function nameStart(source: string, step: AstNode): number {
  const name = String(step.value);
  const end = step.position ?? name.length;
  return source[end - 1] === '`' ? Math.max(0, end - name.length - 2) : Math.max(0, end - name.length);
}

/** Every node object of the AST (each once, whatever links the parser added). */
function* allNodes(root: unknown): Generator<AstNode> {
  const seen = new Set<unknown>();
  const stack: unknown[] = [root];
  while (stack.length) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null || seen.has(node)) continue;
    seen.add(node);
    if (Array.isArray(node)) {
      stack.push(...node);
      continue;
    }
    yield node as AstNode;
    for (const value of Object.values(node)) if (typeof value === 'object' && value !== null) stack.push(value);
  }
}

/**
 * Calls `onStep` for each name step evaluated against the event itself: the first step of a path
 * in the root context. Predicates, later steps and lambda bodies see other contexts: skipped.
 */
function checkRootPaths(node: unknown, onStep: (step: AstNode) => void): void {
  if (!isPlainObject(node)) return;
  const n = node as AstNode;
  const visit = (child: unknown): void => checkRootPaths(child, onStep);
  switch (n.type) {
    case 'path': {
      const steps = Array.isArray(n.steps) ? (n.steps as AstNode[]) : [];
      let first = steps[0];
      // `$.field` at the root: `$` is the event.
      if (first?.type === 'variable' && first.value === '' && steps[1]) first = steps[1];
      if (!first) return;
      if (first.type === 'name') {
        onStep(first);
      } else if (first.type !== 'variable') {
        visit({ ...first, stages: undefined, predicate: undefined });
      }
      return;
    }
    case 'binary':
    case 'apply':
      visit(n.lhs);
      visit(n.rhs);
      return;
    case 'bind':
      visit(n.rhs);
      return;
    case 'condition':
      visit(n.condition);
      visit(n.then);
      visit(n.else);
      return;
    case 'function':
    case 'partial':
      for (const arg of asArray(n.arguments)) visit(arg);
      return;
    case 'block':
      for (const expression of asArray(n.expressions)) visit(expression);
      return;
    case 'unary':
      if (n.value === '-') visit(n.expression);
      else if (n.value === '[') for (const expression of asArray(n.expressions)) visit(expression);
      else if (n.value === '{') for (const pair of asArray(n.lhs)) for (const part of asArray(pair)) visit(part);
      return;
    default:
      return; // lambdas, literals, variables, regexes, transforms: nothing evaluated on the event root
  }
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
