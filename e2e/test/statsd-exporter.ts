import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { parse } from 'yaml';

/**
 * In place of prom/statsd-exporter, which no registry this machine reaches ships: UDP StatsD in,
 * Prometheus text out, driven by the repository's own statsd/mapping.yml. It implements only what
 * that file uses — glob matches on dot-separated segments, `$n` labels, histograms of timers
 * converted from milliseconds to seconds, and `action: drop` — and refuses a mapping it does not
 * understand, so the file cannot drift past what is tested here.
 */
interface Mapping {
  match: string;
  name: string;
  help?: string;
  observer_type?: string;
  action?: string;
  labels?: Record<string, string>;
}
interface MappingFile {
  defaults: { observer_type: string; match_type: string; histogram_options: { buckets: number[] } };
  mappings: Mapping[];
}

export interface StatsdExporter {
  statsdPort: number;
  metricsUrl: string;
  close(): void;
}

export async function startStatsdExporter(mappingFile: string): Promise<StatsdExporter> {
  const config = parse(readFileSync(mappingFile, 'utf8')) as MappingFile;
  if (config.defaults.match_type !== 'glob') throw new Error('only glob mappings are implemented');
  const registry = new client.Registry();
  const rules = config.mappings.map((mapping) => {
    const type = mapping.observer_type ?? config.defaults.observer_type;
    if (mapping.action !== 'drop' && type !== 'histogram')
      throw new Error(`mapping ${mapping.match}: only histograms are implemented`);
    const pattern = new RegExp(`^${mapping.match.split('.').map(segment).join('\\.')}$`);
    const labels = mapping.labels ?? {};
    const histogram =
      mapping.action === 'drop'
        ? undefined
        : new client.Histogram({
            name: mapping.name,
            help: mapping.help ?? mapping.name,
            labelNames: Object.keys(labels),
            buckets: config.defaults.histogram_options.buckets,
            registers: [registry],
          });
    return { pattern, labels, histogram };
  });

  const observe = (line: string) => {
    const [, name, value, type] = /^([^:]+):([-\d.e]+)\|(\w+)/.exec(line) ?? [];
    if (name === undefined || type !== 'ms') return; // only timers are sent
    for (const { pattern, labels, histogram } of rules) {
      const match = pattern.exec(name);
      if (!match) continue;
      const values = Object.fromEntries(
        Object.entries(labels).map(([label, template]) => [
          label,
          template.replace(/\$(\d+)/g, (_, n: string) => match[Number(n)] ?? ''),
        ]),
      );
      histogram?.observe(values, Number(value) / 1000);
      return; // the first matching mapping wins
    }
  };

  const udp = createSocket('udp4');
  udp.on('message', (packet) => {
    for (const line of packet.toString('utf8').split('\n')) if (line) observe(line);
  });
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');

  const http: Server = createServer((_request, response) => {
    registry
      .metrics()
      .then((text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');

  return {
    statsdPort: udp.address().port,
    metricsUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`,
    close() {
      udp.close();
      http.close();
    },
  };
}

/** A glob segment: `*` is one whole segment (statsd_exporter's glob), anything else literal. */
const segment = (part: string) => (part === '*' ? '([^.]+)' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
