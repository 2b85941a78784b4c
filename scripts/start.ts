// `pnpm start`: every service as a local process against the local RabbitMQ, PostgreSQL and Redis,
// or, where they do not answer and Docker does, the missing ones in containers (removed on exit).
// `pnpm start --instances 2`: two of each (the stock-exchange simulator stays one) behind balancers.
// `pnpm dev` (`--watch`): each service from its TypeScript source, restarted when a file it loaded changes.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  instanceLabel,
  missingInfrastructure,
  readableLine,
  SERVICES,
  type ServiceName,
  Stack,
} from '@simplebank/stack';
// the contracts say what each service's broker user may do (root has no dependency on them: dist)
import { provisionBrokerUsers } from '../libs/chassis/dist/broker-admin.js';
import { brokerPermissions, brokerServices, rpcTopicPermission } from '../libs/contracts/dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let args: { json?: boolean; instances?: string; watch?: boolean };
try {
  ({ values: args } = parseArgs({
    options: { json: { type: 'boolean' }, instances: { type: 'string' }, watch: { type: 'boolean' } },
  }));
} catch (error) {
  console.error(`${(error as Error).message}\nUsage: pnpm start [--json] [--instances N] [--watch]`);
  process.exit(2);
}
const json = args.json ?? false;
const instances = Number(args.instances ?? 1);

// `pnpm start` runs this under scripts/with-infrastructure.ts, which has found the servers (or
// started them in containers: their addresses are in the environment); run directly, it checks.
const missing = await missingInfrastructure();
if (missing.length > 0) {
  for (const line of missing) console.error(line);
  process.exit(1);
}

// Each service its own broker user (simplebank.<service>) with the contracts' permissions, as in
// compose and Kubernetes; with a broker that is not this machine's (AMQP_URL set by hand), its own
// users.
const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
let brokerUrls: Partial<Record<ServiceName, string>> = {};
if (!process.env.AMQP_URL || process.env.RABBITMQCTL) {
  try {
    brokerUrls = await provisionBrokerUsers(amqpUrl, brokerServices, 'simplebank.', (service) => ({
      ...brokerPermissions(service),
      topic: rpcTopicPermission(service),
    }));
  } catch (error) {
    console.error(
      `Every service connects as guest: no broker users of their own (rabbitmqctl: ${(error as Error).message.split('\n')[0]})`,
    );
  }
}

let stack: Stack;
try {
  stack = new Stack({
    root,
    instances,
    watch: args.watch ?? false,
    // the demo customers alice, bob and carol (README); never in production
    serviceEnv: { 'account-transactions': { DEMO_DATA: 'true' } },
    brokerUrls,
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
// the gateway's /health and /metrics are on a port of their own, per instance (no balancer)
const gatewayOps = Array.from({ length: stack.instanceCount('gateway') }, (_, i) =>
  stack.opsUrl('gateway', i),
);
console.log(`
SimpleBank is ready.
  gateway (public API)  ${where('gateway')}
  orders                ${where('orders')}
  account-transactions  ${where('account-transactions')}
  fees                  ${where('fees')}
  market                ${where('market')}
  stock-exchange (sim)  ${where('stock-exchange')}
  alerts (receiver)     ${where('alerts')}
Every service also serves /health, /health/ready, /version and /metrics; the gateway on its
operations port (${gatewayOps.join(', ')}), not the public one. Ctrl-C stops everything.${
  args.watch ? '\nRunning from source: saving a .ts file restarts every service that loaded it.' : ''
}
Administrative routes (POST /accounts, /customers, /admin/*) take this run's admin credential:
  export ADMIN_TOKEN=${stack.adminToken}   # then: pnpm seed, curl -H "authorization: Bearer $ADMIN_TOKEN" …
Try (README, "Install, start, test"):
  TOKEN=$(curl -s -XPOST ${stack.urls.gateway}/auth/token -H 'content-type: application/json' \\
    -d '{"username":"alice","password":"alice-password"}' | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')
  curl -s -XPOST ${stack.urls.gateway}/shares/sell -H "authorization: Bearer $TOKEN" \\
    -H 'content-type: application/json' -d '{"account_id":"acc-alice","symbol":"ACME","quantity":5}'
`);
