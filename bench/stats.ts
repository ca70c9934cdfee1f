/** Summaries and the printed table of `npm run bench`. */

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function spread(values: number[]): Spread {
  return {
    median: percentile(values, 50),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/** Prints `rows` as an aligned two- or three-column table. */
export function printTable(rows: Array<[string, string, string?, string?]>): void {
  const widths = [0, 0, 0, 0];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, (cell ?? '').length)));
  for (const row of rows) {
    console.log(
      row
        .map((cell, i) => (cell ?? '').padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  }
}
