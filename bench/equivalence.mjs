/**
 * Honesty check before timing: a variant must give exactly the transformer's outcome (same
 * drop reason and message, same request, same body bytes, same key order) on every sample.
 */

/**
 * Compare two sets of transformers (same names, same order) over the samples.
 * @returns the mismatches, empty when they agree everywhere
 */
export async function compareOutcomes(samples, expected, actual) {
  const mismatches = [];
  for (let i = 0; i < samples.length; i++) {
    const { event, project } = samples[i];
    for (let d = 0; d < expected.length; d++) {
      if (expected[d].name !== actual[d].name) throw new Error(`destination order differs: ${expected[d].name} vs ${actual[d].name}`);
      const want = JSON.stringify(await expected[d].transform(event, project));
      const got = JSON.stringify(await actual[d].transform(event, project));
      if (want !== got) mismatches.push({ sample: i, destination: expected[d].name, expected: want, actual: got });
    }
  }
  return mismatches;
}

/** Throw with the first few mismatches, readable. */
export function assertNoMismatch(label, mismatches) {
  if (mismatches.length === 0) return;
  const shown = mismatches
    .slice(0, 3)
    .map((m) => `  sample #${m.sample} → ${m.destination}\n    transformer: ${m.expected}\n    ${label}: ${m.actual}`)
    .join('\n');
  throw new Error(`${label} differs from the transformer on ${mismatches.length} sample×destination pairs:\n${shown}`);
}
