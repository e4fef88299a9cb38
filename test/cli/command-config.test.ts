import { describe, expect, it } from 'vitest';
import { configExitCode } from '../../src/cli/command-config.js';
import type { Diagnostic } from '../../src/config/diagnostics.js';
import type { LoadedConfig } from '../../src/config/model.js';

function withDiagnostics(diagnostics: Diagnostic[]): LoadedConfig {
  return { diagnostics } as unknown as LoadedConfig;
}
const d = (severity: Diagnostic['severity'], rule: Diagnostic['rule']): Diagnostic => ({ file: 'x.yaml', line: 1, col: 1, severity, rule, message: 'm' });

describe('configExitCode', () => {
  it('is 0 without errors, warnings included', () => {
    expect(configExitCode(withDiagnostics([]))).toBe(0);
    expect(configExitCode(withDiagnostics([d('warning', 'secret-unset')]))).toBe(0);
  });
  it('is 1 for errors in the config, 2 when a file could not be read', () => {
    expect(configExitCode(withDiagnostics([d('error', 'schema'), d('warning', 'secret-unset')]))).toBe(1);
    expect(configExitCode(withDiagnostics([d('error', 'schema'), d('error', 'file-read')]))).toBe(2);
    expect(configExitCode(withDiagnostics([d('error', 'no-config')]))).toBe(2);
  });
});
