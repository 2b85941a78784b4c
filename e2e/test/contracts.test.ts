import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SERVICES } from '@simplebank/stack';
import { describe, expect, it } from 'vitest';

// The event contracts against the running system: what each service says at start it publishes and
// consumes (the chassis logs its topology), and what the broker really has bound, must be described
// by the committed docs/asyncapi.json. A handler or event added without its contract fails here.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
interface Operation {
  action: 'send' | 'receive';
  'x-producer'?: string;
  'x-consumer'?: string;
  messages: { $ref: string }[];
}
const asyncapi = JSON.parse(readFileSync(join(root, 'docs', 'asyncapi.json'), 'utf8')) as {
  channels: Record<
    string,
    { address: string; bindings: { amqp: { is: string; exchange?: { name: string } } } }
  >;
  operations: Record<string, Operation>;
};

interface Topology {
  publishes: string[];
  consumes: { event: string; handler: string }[];
}

/** Each service's topology, from its `<service> started` line in the run's log. */
function startedTopologies(): Map<string, Topology> {
  const found = new Map<string, Topology>();
  const log = readFileSync(join(root, 'e2e', 'test-results', 'services.log'), 'utf8');
  for (const line of log.split('\n')) {
    const space = line.indexOf(' ');
    const service = line.slice(0, space);
    if (!line.includes(`"${service} started"`)) continue;
    const entry = JSON.parse(line.slice(space + 1)) as { topology?: Topology };
    if (entry.topology) found.set(service, entry.topology);
  }
  return found;
}

const eventOf = (operation: Operation | undefined) => operation?.messages[0]?.$ref.split('/').pop();

describe('the running services keep to docs/asyncapi.json', () => {
  const topologies = startedTopologies();

  it('every service logged its topology at start', () => {
    const brokered = SERVICES.map((s) => s.name).filter(
      (name) => name !== 'stock-exchange' && name !== 'alerts',
    );
    expect([...topologies.keys()].sort()).toEqual(expect.arrayContaining(brokered.sort()));
  });

  it('publishes only events the document gives it as their producer', () => {
    const undescribed: string[] = [];
    for (const [service, { publishes }] of topologies)
      for (const event of publishes) {
        const operation = asyncapi.operations[`${service}.publish${event}`];
        if (operation?.action !== 'send' || operation['x-producer'] !== service)
          undescribed.push(`${service} publishes ${event}`);
      }
    expect(undescribed).toEqual([]);
  });

  it('consumes only events the document gives it as a consumer, in the handlers it names', () => {
    const undescribed: string[] = [];
    for (const [service, { consumes }] of topologies)
      for (const { event, handler } of consumes) {
        const operation = asyncapi.operations[`${service}.${handler}`];
        if (operation?.action !== 'receive' || eventOf(operation) !== event)
          undescribed.push(`${service}.${handler} consumes ${event}`);
      }
    expect(undescribed).toEqual([]);
  });

  it.skipIf(process.env.TEST_AMQP_URL)(
    "every binding on the broker from a service's events exchange is a queue the document describes",
    async () => {
      const { stdout } = await promisify(execFile)('rabbitmqctl', [
        '-q',
        'list_bindings',
        '-p',
        'simplebank_e2e',
        'source_name',
        'routing_key',
        'destination_name',
        'destination_kind',
        '--formatter',
        'json',
      ]);
      const bindings = (
        JSON.parse(stdout) as { source_name: string; routing_key: string; destination_name: string }[]
      ).filter((b) => b.source_name.endsWith('.events'));
      expect(bindings.length).toBeGreaterThan(10);
      const queues = Object.values(asyncapi.channels)
        .filter((c) => c.bindings.amqp.is === 'queue')
        .map((c) => new RegExp(`^${c.address.replaceAll('.', '\\.').replace('{instance}', '[0-9a-f]+')}$`));
      const undescribed = bindings
        .filter((b) => !queues.some((queue) => queue.test(b.destination_name)))
        .map((b) => `${b.source_name} ${b.routing_key} → ${b.destination_name}`);
      expect(undescribed).toEqual([]);
      // and each is bound with its event's routing key on its exchange
      for (const b of bindings) expect(b.destination_name).toContain(`-${b.routing_key}--`);
    },
  );
});
