import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack } from '@simplebank/stack';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VHOST = 'simplebank_chaos';
export const DATABASE_PREFIX = 'simplebank_chaos_';

/** The system the chaos suite breaks: its own ports (2xxxx), databases and virtual host. */
export function chaosStack(amqpUrl: string, onLine?: (service: string, line: string) => void): Stack {
  return new Stack({
    root,
    portOffset: 20_000,
    env: { DATABASE_PREFIX, AMQP_URL: amqpUrl, REDIS_PREFIX: 'chaos:', LOG_LEVEL: 'info' },
    // market at its defaults: the placement deadline (60 s) and the exchange timeout (2 s) included
    serviceEnv: { 'stock-exchange': { FILL_DELAY_MS: '100' } },
    ...(onLine ? { onLine } : {}),
  });
}
