/**
 * @module util/similar
 * "Did you mean": edit distance and the closest candidates to a mistyped name.
 */

/** Levenshtein distance between two strings. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Up to `max` candidates closest to `input`, nearest first; only reasonably close ones. */
export function closest(input: string, candidates: Iterable<string>, max = 3): string[] {
  const want = input.toLowerCase();
  const scored: Array<[string, number]> = [];
  for (const c of new Set(candidates)) {
    const d = editDistance(want, c.toLowerCase());
    const limit = Math.max(2, Math.floor(Math.max(want.length, c.length) / 3));
    if (d <= limit || c.toLowerCase().startsWith(want) || want.startsWith(c.toLowerCase())) scored.push([c, d]);
  }
  return scored
    .sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]))
    .slice(0, max)
    .map(([c]) => c);
}
