// How pnpm bench prints its figures.

export const round = (n: number, digits = 0) => n.toFixed(digits);

export function ms(p: { p50: number; p95: number; p99: number }): string {
  return [p.p50, p.p95, p.p99].map((v) => round(v)).join(' / ');
}

export function print(title: string, rows: [string, string][]) {
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${title}`);
  console.log('-'.repeat(width + 24));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

/** `503 overloaded: 12, 429 rate_limited: 3`, the driver's refusals by status and error code. */
export function refusals(refused: Record<string, number>): string {
  const entries = Object.entries(refused).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? 'none' : entries.map(([code, n]) => `${code.trim()}: ${n}`).join(', ');
}
