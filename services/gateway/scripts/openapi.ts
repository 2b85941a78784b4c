// Writes docs/openapi.json from the gateway's routes: `pnpm --filter @simplebank/gateway openapi`.
// Starts the gateway without listening (RabbitMQ and Redis must be up, as for `pnpm start`).
import { writeFileSync } from 'node:fs';
import { startService } from '@simplebank/chassis';
import gateway from '../dist/service.js';
import { OPENAPI_FILE, openApiOf } from './openapi-file.ts';

const running = await startService(gateway, { env: { ...process.env, LOG_LEVEL: 'warn' }, listen: false });
try {
  writeFileSync(OPENAPI_FILE, await openApiOf(running.app));
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
} finally {
  await running.stop();
}
