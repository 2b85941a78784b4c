/** PromQL words that are not metric names. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression reads, in order of appearance: identifiers outside strings,
 * label matchers, ranges and grouping clauses, that are neither functions nor keywords. Enough for
 * the repository's own dashboards and rules, which the dashboards and Prometheus tests hold to the
 * metrics the services export.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const match of bare.matchAll(/[A-Za-z_:][\w:]*(?!\w)(?!\s*\()/g)) {
    const name = match[0];
    const before = bare[match.index - 1];
    if (before !== undefined && /[\d.]/.test(before)) continue; // 1e3, 0.5
    if (KEYWORDS.has(name.toLowerCase()) || names.includes(name)) continue;
    names.push(name);
  }
  return names;
}
