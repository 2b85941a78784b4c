// `pnpm start`: every service as a local process against the local RabbitMQ, PostgreSQL and Redis.
// `pnpm start --instances 2`: two of each (the stock-exchange simulator stays one) behind balancers.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { instanceLabel, missingInfrastructure, readableLine, SERVICES, Stack } from '@simplebank/stack';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let args: { json?: boolean; instances?: string };
try {
  ({ values: args } = parseArgs({ options: { json: { type: 'boolean' }, instances: { type: 'string' } } }));
} catch (error) {
  console.error(`${(error as Error).message}\nUsage: pnpm start [--json] [--instances N]`);
  process.exit(2);
}
const json = args.json ?? false;
const instances = Number(args.instances ?? 1);

const missing = await missingInfrastructure();
if (missing.length > 0) {
  for (const line of missing) console.error(line);
  process.exit(1);
}

let stack: Stack;
try {
  stack = new Stack({
    root,
    instances,
    onLine: (service, line, _stream, instance) => {
      const index = SERVICES.findIndex((s) => s.name === service);
      const who = stack.instanceCount(service) > 1 ? instanceLabel(service, instance) : service;
      console.log(json ? line : readableLine(who, line, index, width));
    },
  });
} catch (error) {
  console.error(`--instances: ${(error as Error).message}`);
  process.exit(2);
}
const several = SERVICES.some((s) => stack.instanceCount(s.name) > 1);
const width = Math.max(...SERVICES.map((s) => s.name.length)) + (several ? `#${instances}`.length : 0);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping every service (SIGTERM), letting work in flight finish…');
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const processes = SERVICES.reduce((sum, s) => sum + stack.instanceCount(s.name), 0);
console.log(`Starting ${SERVICES.length} services${several ? ` (${processes} processes)` : ''}…`);
try {
  await stack.start();
} catch (error) {
  console.error(`Could not start the system: ${(error as Error).message}`);
  await stack.stop();
  process.exit(1);
}
/** A service's URL and, when it runs several, its instances' ports behind that URL's balancer. */
function where(name: (typeof SERVICES)[number]['name']): string {
  const count = stack.instanceCount(name);
  if (count === 1) return stack.urls[name];
  const ports = Array.from({ length: count }, (_, i) => `:${stack.instancePort(name, i)}`);
  return `${stack.urls[name]}  (balancer over ${ports.join(' ')})`;
}
console.log(`
SimpleBank is ready.
  gateway (public API)  ${where('gateway')}
  orders                ${where('orders')}
  account-transactions  ${where('account-transactions')}
  fees                  ${where('fees')}
  market                ${where('market')}
  stock-exchange (sim)  ${where('stock-exchange')}
  alerts (receiver)     ${where('alerts')}
Every service also serves /health, /health/ready, /version and /metrics. Ctrl-C stops everything.
Try (README, "Install, start, test"):
  TOKEN=$(curl -s -XPOST ${stack.urls.gateway}/auth/token -H 'content-type: application/json' \\
    -d '{"username":"alice","password":"alice-password"}' | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')
  curl -s -XPOST ${stack.urls.gateway}/shares/sell -H "authorization: Bearer $TOKEN" \\
    -H 'content-type: application/json' -d '{"account_id":"acc-alice","symbol":"ACME","quantity":5}'
`);
