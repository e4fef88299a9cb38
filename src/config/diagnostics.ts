/**
 * Diagnostics: the one shape every config problem takes, from YAML syntax to JSONata errors.
 * Printed as `file:line:col severity message (rule)`.
 */
export type Severity = 'error' | 'warning';

/**
 * Stable rule ids. Scripts and tests depend on them; add, never rename.
 * - yaml-syntax, duplicate-key, alias-limit, file-read, no-config, no-destinations
 * - schema (type/enum/required/const…), unknown-key, invalid-size, invalid-duration
 * - unknown-project, duplicate-destination
 * - jsonata-syntax, jsonata-eval, jsonata-unsafe-regex (a regex with nested repetition, e.g.
 *   `(a+)+`, which can backtrack exponentially and cannot be interrupted; `serve` refuses it too)
 * - secret-literal (literal value in a secret field), secret-misplaced (reference outside a
 *   secret field), secret-unset (warning: env var unset / file missing), secret-invalid
 *   (bad reference syntax, value with a newline)
 * - unknown-field-path (warning), data-key-overwritten (warning)
 */
export type RuleId =
  | 'yaml-syntax'
  | 'duplicate-key'
  | 'alias-limit'
  | 'file-read'
  | 'no-config'
  | 'no-destinations'
  | 'schema'
  | 'unknown-key'
  | 'invalid-size'
  | 'invalid-duration'
  | 'unknown-project'
  | 'duplicate-destination'
  | 'jsonata-syntax'
  | 'jsonata-eval'
  | 'jsonata-unsafe-regex'
  | 'secret-literal'
  | 'secret-misplaced'
  | 'secret-unset'
  | 'secret-invalid'
  | 'unknown-field-path'
  | 'data-key-overwritten';

export interface Diagnostic {
  /** Path of the file, relative to the current directory when printed. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
  severity: Severity;
  message: string;
  rule: RuleId;
}
