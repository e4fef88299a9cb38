/**
 * Printing diagnostics for people (text), programs (json) and GitHub Actions (workflow
 * annotations). Diagnostics never carry secret values, so nothing here needs redacting.
 */
import { isAbsolute, relative, sep } from 'node:path';
import type { Diagnostic } from './diagnostics.js';

/** Output formats of `validate --format`. */
export type DiagnosticFormat = 'text' | 'json' | 'github';

/**
 * Formats diagnostics; file paths are printed relative to `opts.cwd`.
 * - text: `file:line:col severity message (rule)` lines, then a summary (`2 errors, 1 warning`)
 * - json: `{"ok","errors","warnings","diagnostics":[{file,line,col,severity,message,rule}]}`
 * - github: `::error file=…,line=…,col=…,title=extole-stream (rule)::message` lines
 * The result ends with a newline unless it is empty.
 */
export function formatDiagnostics(diags: Diagnostic[], format: DiagnosticFormat, opts: { cwd: string }): string {
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.length - errors;
  const shown = diags.map((d) => ({ ...d, file: displayPath(d.file, opts.cwd) }));
  switch (format) {
    case 'json':
      return `${JSON.stringify({
        ok: errors === 0,
        errors,
        warnings,
        diagnostics: shown.map(({ file, line, col, severity, message, rule }) => ({ file, line, col, severity, message, rule })),
      })}\n`;
    case 'github':
      return shown.map((d) =>
        `::${d.severity} file=${escapeProperty(d.file)},line=${d.line},col=${d.col},title=${escapeProperty(`extole-stream (${d.rule})`)}::${escapeData(d.message)}\n`,
      ).join('');
    case 'text':
    default: {
      const lines = shown.map((d) => `${d.file}:${d.line}:${d.col} ${d.severity} ${oneLine(d.message)} (${d.rule})`);
      lines.push(`${count(errors, 'error')}, ${count(warnings, 'warning')}`);
      return `${lines.join('\n')}\n`;
    }
  }
}

/** A path relative to cwd with forward slashes (what editors and GitHub link). */
function displayPath(file: string, cwd: string): string {
  const rel = isAbsolute(file) ? relative(cwd, file) : file;
  return (rel === '' ? file : rel).split(sep).join('/');
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function oneLine(text: string): string {
  return text.replace(/\r?\n/g, ' ');
}

// GitHub workflow command escaping (see @actions/core): data escapes %, CR, LF; properties also : and ,.
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
