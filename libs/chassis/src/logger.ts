import { hostname } from 'node:os';
import { trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The last log entries, shown on `/health` (book: "the last 10 log entries"). */
export class RecentEntries implements DestinationStream {
  readonly entries: unknown[] = [];
  constructor(private readonly size = 10) {}
  write(line: string): void {
    try {
      this.entries.push(JSON.parse(line));
      if (this.entries.length > this.size) this.entries.shift();
    } catch {
      // a line that is not JSON is not ours to keep
    }
  }
}

/**
 * Logstash-style JSON lines on stdout (docs/architecture.md §4): `@timestamp`, `@version`, `level`,
 * `message`, `service`, `host`, and `trace_id` / `span_id` when a span is active.
 */
export function createLogger(
  service: string,
  level: string,
  options: { recent?: RecentEntries; destination?: DestinationStream } = {},
): Logger {
  const out = options.destination ?? pino.destination({ dest: 1, sync: false });
  const streams: pino.StreamEntry[] = [{ stream: out, level: 'trace' }];
  if (options.recent) streams.push({ stream: options.recent, level: 'trace' });
  return pino(
    {
      level,
      messageKey: 'message',
      errorKey: 'error',
      base: { '@version': '1', service, host: hostname() },
      timestamp: () => `,"@timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['password', '*.password', 'token', '*.token', 'req.headers.authorization'],
        censor: '[redacted]',
      },
      mixin() {
        const span = trace.getActiveSpan()?.spanContext();
        return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
      },
    },
    pino.multistream(streams),
  );
}
