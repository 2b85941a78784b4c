// In place of Jaeger: an OTLP/HTTP endpoint the services export their traces to (tracing stays on,
// so its cost is measured). It keeps nothing but a count of the spans, by service, so the bench can
// say how many spans an order costs. The count is done here, in the bench process, whose CPU is not
// counted as the system's.
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** Spans received so far, by `service.name`, and request bodies that could not be read. */
export interface SpanCounts {
  byService: Record<string, number>;
  unreadable: number;
}

export class SpanSink {
  private readonly byService = new Map<string, number>();
  private unreadable = 0;
  private readonly server = createServer((request, response) => {
    this.receive(request).then(
      (json) =>
        response
          .writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' })
          // an empty ExportTraceServiceResponse: everything accepted
          .end(json ? '{}' : undefined),
      () => response.writeHead(400).end(),
    );
  });

  /** Listens on a free port; resolves with the OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT). */
  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  counts(): SpanCounts {
    return { byService: Object.fromEntries(this.byService), unreadable: this.unreadable };
  }

  close(): void {
    this.server.close();
  }

  /** Reads one export request and counts its spans; resolves with whether it was JSON. */
  private async receive(request: IncomingMessage): Promise<boolean> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    const json = (request.headers['content-type'] ?? '').includes('json');
    try {
      // OTEL_EXPORTER_OTLP_COMPRESSION=gzip
      if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const counted = json ? spansInJson(body.toString('utf8')) : spansInProtobuf(body);
      for (const [service, n] of counted) this.byService.set(service, (this.byService.get(service) ?? 0) + n);
    } catch {
      this.unreadable++;
    }
    return json;
  }
}

/** Spans per service in an ExportTraceServiceRequest in OTLP/JSON (OTEL_EXPORTER_OTLP_PROTOCOL=http/json). */
function spansInJson(text: string): Map<string, number> {
  interface Request {
    resourceSpans?: {
      resource?: { attributes?: { key: string; value?: { stringValue?: string } }[] };
      scopeSpans?: { spans?: unknown[] }[];
    }[];
  }
  const counted = new Map<string, number>();
  for (const resourceSpans of (JSON.parse(text) as Request).resourceSpans ?? []) {
    const service =
      resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue ??
      'unknown';
    const n = (resourceSpans.scopeSpans ?? []).reduce((sum, scope) => sum + (scope.spans?.length ?? 0), 0);
    counted.set(service, (counted.get(service) ?? 0) + n);
  }
  return counted;
}

/**
 * Spans per service in an ExportTraceServiceRequest in protobuf (the default, http/protobuf), read
 * with the few field numbers of opentelemetry-proto that lead to them, not a generated decoder:
 *   ExportTraceServiceRequest.resource_spans = 1 → ResourceSpans.resource = 1, .scope_spans = 2
 *   → ScopeSpans.spans = 2; Resource.attributes = 1 → KeyValue.key = 1, .value = 2
 *   → AnyValue.string_value = 1.
 */
function spansInProtobuf(request: Buffer): Map<string, number> {
  const counted = new Map<string, number>();
  for (const [field, resourceSpans] of messageFields(request)) {
    if (field !== 1) continue;
    let service = 'unknown';
    let n = 0;
    for (const [field, value] of messageFields(resourceSpans)) {
      if (field === 1) service = serviceName(value) ?? service;
      else if (field === 2) for (const [f] of messageFields(value)) if (f === 2) n++;
    }
    counted.set(service, (counted.get(service) ?? 0) + n);
  }
  return counted;
}

/** The `service.name` attribute of a protobuf Resource. */
function serviceName(resource: Buffer): string | undefined {
  for (const [field, keyValue] of messageFields(resource)) {
    if (field !== 1) continue;
    const parts = new Map(messageFields(keyValue));
    if (parts.get(1)?.toString('utf8') !== 'service.name') continue;
    const anyValue = parts.get(2);
    return anyValue && new Map(messageFields(anyValue)).get(1)?.toString('utf8');
  }
  return undefined;
}

/**
 * The length-delimited fields (sub-messages, strings, bytes) of one protobuf message, as
 * [field number, contents]; fields of other wire types are stepped over.
 */
function messageFields(message: Buffer): [number, Buffer][] {
  const fields: [number, Buffer][] = [];
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = message.readUInt8(at++); // throws past the end: a truncated message
      value += (byte & 0x7f) * 2 ** shift; // not `<<`: varints go past 32 bits
      if (byte < 0x80) return value;
      if (shift > 63) throw new Error('varint longer than 10 bytes');
    }
  };
  while (at < message.length) {
    const tag = varint();
    const wireType = tag % 8;
    if (wireType === 0) varint();
    else if (wireType === 1) at += 8;
    else if (wireType === 5) at += 4;
    else if (wireType === 2) {
      const length = varint(); // read before `at`, which it moves
      const end = at + length;
      if (end > message.length) throw new Error('field runs past the end of its message');
      fields.push([Math.floor(tag / 8), message.subarray(at, end)]);
      at = end;
    } else throw new Error(`unexpected wire type ${wireType}`); // groups (3, 4) are not in OTLP
  }
  if (at > message.length) throw new Error('fixed-width field runs past the end of its message');
  return fields;
}
