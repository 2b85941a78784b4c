import { inspect } from 'node:util';

const COLORS = [36, 33, 35, 32, 34, 96, 93];
const LEVEL_COLORS: Record<string, number> = {
  error: 31,
  fatal: 31,
  warn: 33,
  info: 32,
  debug: 90,
  trace: 90,
};
const HIDDEN = new Set(['@timestamp', '@version', 'level', 'message', 'service', 'host']);

/** Turns a service's JSON log line into one readable, coloured line for the terminal. */
export function readableLine(service: string, line: string, index: number, width: number): string {
  const color = (code: number, text: string) => (process.stdout.isTTY ? `\x1b[${code}m${text}\x1b[0m` : text);
  const prefix = color(COLORS[index % COLORS.length] ?? 37, service.padEnd(width));
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    return `${prefix} ${line}`;
  }
  const time = String(entry['@timestamp'] ?? '').slice(11, 23);
  const level = String(entry.level ?? 'info');
  const fields = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(
      ([key, value]) =>
        `${key}=${typeof value === 'string' ? value : inspect(value, { breakLength: Infinity, depth: 3 })}`,
    )
    .join(' ');
  return `${prefix} ${time} ${color(LEVEL_COLORS[level] ?? 37, level.padEnd(5))} ${entry.message ?? ''}${fields ? ` ${color(90, fields)}` : ''}`;
}
