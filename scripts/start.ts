// `pnpm start`: every service as a local process against the local RabbitMQ, PostgreSQL and Redis.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingInfrastructure, readableLine, SERVICES, Stack } from '@simplebank/stack';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const json = process.argv.includes('--json');

const missing = await missingInfrastructure();
if (missing.length > 0) {
  for (const line of missing) console.error(line);
  process.exit(1);
}

const width = Math.max(...SERVICES.map((s) => s.name.length));
const stack = new Stack({
  root,
  onLine: (service, line) => {
    const index = SERVICES.findIndex((s) => s.name === service);
    console.log(json ? line : readableLine(service, line, index, width));
  },
});

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

console.log(`Starting ${SERVICES.length} services…`);
try {
  await stack.start();
} catch (error) {
  console.error(`Could not start the system: ${(error as Error).message}`);
  await stack.stop();
  process.exit(1);
}
console.log(`
SimpleBank is ready.
  gateway (public API)  ${stack.urls.gateway}
  orders                ${stack.urls.orders}
  account-transactions  ${stack.urls['account-transactions']}
  fees                  ${stack.urls.fees}
  market                ${stack.urls.market}
  stock-exchange (sim)  ${stack.urls['stock-exchange']}
  alerts (receiver)     ${stack.urls.alerts}
Every service also serves /health, /health/ready, /version and /metrics. Ctrl-C stops everything.
Try (README, "Install, start, test"):
  TOKEN=$(curl -s -XPOST ${stack.urls.gateway}/auth/token -H 'content-type: application/json' \\
    -d '{"username":"alice","password":"alice-password"}' | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')
  curl -s -XPOST ${stack.urls.gateway}/shares/sell -H "authorization: Bearer $TOKEN" \\
    -H 'content-type: application/json' -d '{"account_id":"acc-alice","symbol":"ACME","quantity":5}'
`);
