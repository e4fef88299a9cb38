/**
 * jsonata's function-signature validation (`signature.js`), ported so built-in calls accept,
 * coerce (singleton → array) and reject arguments exactly as jsonata does — including the
 * surprising cases, e.g. `$substring(5, 1)` taking the context as its string.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import { isFunction, JsonataError } from './semantics.js';

interface Param {
  regex: string;
  type: string;
  array?: boolean;
  context?: boolean;
  contextRegex?: RegExp;
  subtype?: string;
}

const ARRAY_SIGNATURE_MAPPING: Record<string, string> = {
  a: 'arrays',
  b: 'booleans',
  f: 'functions',
  n: 'numbers',
  o: 'objects',
  s: 'strings',
};

/** One replayable step of a validation: take the context, or take (and maybe coerce) the next argument. */
interface PlanStep {
  kind: 'context' | 'arg';
  param: Param;
  /** The whole regex group matched for this parameter. */
  match: string;
  /** The type symbol of this argument ('' when the parameter matched nothing). */
  single: string;
}

/** Validates (and coerces) call arguments; `context` is the value substituted for a `-` parameter. */
export type SignatureValidator = (args: any[], context: any) => any[];

/** The one-letter type symbol jsonata uses when matching a signature. */
export function typeSymbol(value: any): string {
  // Same answers as jsonata's getSymbol (isFunction first); only objects and functions can be
  // function-like, so primitives are classified by typeof alone.
  switch (typeof value) {
    case 'string':
      return 's';
    case 'number':
      return 'n';
    case 'boolean':
      return 'b';
    case 'function':
      return 'f';
    case 'object':
      if (value === null) return 'l';
      if (isFunction(value)) return 'f';
      if (Array.isArray(value)) return 'a';
      return 'o';
    default:
      return 'm';
  }
}

/** One bit per type symbol, for {@link typeBit} / {@link ExactArity} masks. */
const TYPE_BITS: Record<string, number> = { s: 1, n: 2, b: 4, l: 8, a: 16, o: 32, f: 64, m: 128 };

/** The bit of `typeSymbol(value)` in {@link TYPE_BITS}, without building a string. */
export function typeBit(value: any): number {
  switch (typeof value) {
    case 'string':
      return 1;
    case 'number':
      return 2;
    case 'boolean':
      return 4;
    case 'function':
      return 64;
    case 'object':
      if (value === null) return 8;
      if (isFunction(value)) return 64;
      if (Array.isArray(value)) return 16;
      return 32;
    default:
      return 128;
  }
}

/**
 * For a call that supplies one argument for each of the first k parameters (`minArgs` ≤ k ≤
 * `masks.length`, the parameters after k being optional, `?`, and not the context, `-`): a mask of
 * the accepted type bits per parameter. When every argument's bit is in its parameter's mask,
 * the signature's regex matches argument i with group i (each group consumes at most one symbol
 * and tries to consume first) and the omitted groups match nothing, so the validator would return
 * the arguments unchanged, padded with `undefined`: the call can skip validation. Undefined when
 * the signature has a variadic (`+`) or array (`a`) parameter, which coerce.
 */
export interface ExactArity {
  readonly masks: readonly number[];
  readonly minArgs: number;
}

function findClosingBracket(str: string, start: number, openSymbol: string, closeSymbol: string): number {
  let depth = 1;
  let position = start;
  while (position < str.length) {
    position++;
    const symbol = str.charAt(position);
    if (symbol === closeSymbol) {
      depth--;
      if (depth === 0) break;
    } else if (symbol === openSymbol) {
      depth++;
    }
  }
  return position;
}

/** A signature's validator plus its {@link ExactArity} masks. */
export interface ParsedSignature {
  validate: SignatureValidator;
  exactArity: ExactArity | undefined;
}

/** Parses a signature such as `<s-nn?:s>` into a validator (jsonata's parseSignature). */
export function parseSignature(signature: string): SignatureValidator {
  return parseSignatureFully(signature).validate;
}

/** {@link parseSignature}, also answering the exact-arity masks. */
export function parseSignatureFully(signature: string): ParsedSignature {
  let position = 1;
  const params: Param[] = [];
  let param = Object.create(null) as Param;
  let prevParam = param;
  const next = (): void => {
    params.push(param);
    prevParam = param;
    param = Object.create(null) as Param;
  };
  while (position < signature.length) {
    const symbol = signature.charAt(position);
    if (symbol === ':') break;
    switch (symbol) {
      case 's':
      case 'n':
      case 'b':
      case 'l':
      case 'o':
        param.regex = '[' + symbol + 'm]';
        param.type = symbol;
        next();
        break;
      case 'a':
        param.regex = '[asnblfom]';
        param.type = symbol;
        param.array = true;
        next();
        break;
      case 'f':
        param.regex = 'f';
        param.type = symbol;
        next();
        break;
      case 'j':
        param.regex = '[asnblom]';
        param.type = symbol;
        next();
        break;
      case 'x':
        param.regex = '[asnblfom]';
        param.type = symbol;
        next();
        break;
      case '-':
        prevParam.context = true;
        prevParam.contextRegex = new RegExp(prevParam.regex);
        prevParam.regex += '?';
        break;
      case '?':
      case '+':
        prevParam.regex += symbol;
        break;
      case '(': {
        const endParen = findClosingBracket(signature, position, '(', ')');
        const choice = signature.substring(position + 1, endParen);
        if (choice.indexOf('<') !== -1) throw new Error(`unsupported signature ${signature}`);
        param.regex = '[' + choice + 'm]';
        param.type = '(' + choice + ')';
        position = endParen;
        next();
        break;
      }
      case '<': {
        if (prevParam.type !== 'a' && prevParam.type !== 'f') throw new Error(`unsupported signature ${signature}`);
        const endPos = findClosingBracket(signature, position, '<', '>');
        prevParam.subtype = signature.substring(position + 1, endPos);
        position = endPos;
        break;
      }
    }
    position++;
  }
  const regex = new RegExp('^' + params.map((p) => '(' + p.regex + ')').join('') + '$');

  const throwValidationError = (badArgs: any[], badSig: string): never => {
    let partialPattern = '^';
    let goodTo = 0;
    for (let index = 0; index < params.length; index++) {
      partialPattern += params[index].regex;
      const match = badSig.match(partialPattern);
      if (match === null) {
        throw new JsonataError('T0410', { value: badArgs[goodTo], index: goodTo + 1 });
      }
      goodTo = match[0].length;
    }
    throw new JsonataError('T0410', { value: badArgs[goodTo], index: goodTo + 1 });
  };

  // The regex match depends only on the argument types, so the steps that turn the arguments
  // into the validated ones are planned once per type string and replayed (same order, same errors).
  const plans = new Map<string, PlanStep[]>();
  const planFor = (suppliedSig: string): PlanStep[] | undefined => {
    let plan = plans.get(suppliedSig);
    if (plan !== undefined) return plan;
    const isValid = regex.exec(suppliedSig);
    if (!isValid) return undefined;
    plan = [];
    params.forEach((p, index) => {
      const match = isValid[index + 1];
      if (match === '') {
        if (p.context && p.contextRegex) (plan as PlanStep[]).push({ kind: 'context', param: p, match, single: '' });
        else (plan as PlanStep[]).push({ kind: 'arg', param: p, match, single: '' });
      } else {
        for (const single of match.split('')) (plan as PlanStep[]).push({ kind: 'arg', param: p, match, single });
      }
    });
    if (plans.size < 64) plans.set(suppliedSig, plan);
    return plan;
  };

  const validate: SignatureValidator = (args, context) => {
    let suppliedSig = '';
    for (const arg of args) suppliedSig += typeSymbol(arg);
    const plan = planFor(suppliedSig);
    if (plan === undefined) return throwValidationError(args, suppliedSig);
    const validatedArgs: any[] = [];
    let argIndex = 0;
    for (const step of plan) {
      const p = step.param;
      if (step.kind === 'context') {
        if ((p.contextRegex as RegExp).test(typeSymbol(context))) {
          validatedArgs.push(context);
        } else {
          throw new JsonataError('T0411', { value: context, index: argIndex + 1 });
        }
        continue;
      }
      let arg = args[argIndex];
      const single = step.single;
      if (single !== '' && p.type === 'a') {
        if (single === 'm') {
          arg = undefined;
        } else {
          let arrayOK = true;
          if (p.subtype !== undefined) {
            if (single !== 'a' && step.match !== p.subtype) {
              arrayOK = false;
            } else if (single === 'a') {
              if (arg.length > 0) {
                const itemType = typeSymbol(arg[0]);
                if (itemType !== p.subtype.charAt(0)) {
                  arrayOK = false;
                } else {
                  const differentItems = arg.filter((val: any) => typeSymbol(val) !== itemType);
                  arrayOK = differentItems.length === 0;
                }
              }
            }
          }
          if (!arrayOK) {
            throw new JsonataError('T0412', {
              value: arg,
              index: argIndex + 1,
              type: ARRAY_SIGNATURE_MAPPING[p.subtype as string],
            });
          }
          if (single !== 'a') arg = [arg];
        }
      }
      validatedArgs.push(arg);
      argIndex++;
    }
    return validatedArgs;
  };
  return { validate, exactArity: exactArityMasks(params) };
}

function exactArityMasks(params: readonly Param[]): ExactArity | undefined {
  const masks: number[] = [];
  let minArgs = 0;
  for (const [index, p] of params.entries()) {
    if (!p.regex.endsWith('?') || p.context === true) minArgs = index + 1;
    if (p.type === 'a' || p.regex.endsWith('+')) return undefined;
    const set = p.regex.replace(/\?$/, '').replace(/^\[/, '').replace(/\]$/, '');
    let mask = 0;
    for (const symbol of set) {
      const bit = TYPE_BITS[symbol];
      if (bit === undefined) return undefined;
      mask |= bit;
    }
    masks.push(mask);
  }
  return Object.freeze({ masks: Object.freeze(masks), minArgs });
}
