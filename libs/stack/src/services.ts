import { GATEWAY_OPS_PORT, PORTS } from '@simplebank/contracts';

/**
 * Every process of the system, in start order, with its default port, and the port of its
 * operations routes (health, metrics) when they have a listener of their own: the gateway's
 * (it faces the public; OPS_PORT, chassis service.ts).
 */
export const SERVICES = [
  { name: 'stock-exchange', port: PORTS['stock-exchange'] },
  { name: 'account-transactions', port: PORTS['account-transactions'] },
  { name: 'fees', port: PORTS.fees },
  { name: 'market', port: PORTS.market },
  { name: 'orders', port: PORTS.orders },
  { name: 'gateway', port: PORTS.gateway, opsPort: GATEWAY_OPS_PORT },
  // Alertmanager's webhook receiver: not part of the saga
  { name: 'alerts', port: PORTS.alerts },
] as const;

/** The services an order passes through (the ones its trace spans). */
export const SAGA_SERVICES = SERVICES.filter((s) => s.name !== 'alerts');

export type ServiceName = (typeof SERVICES)[number]['name'];

/** The services in the order an order passes through them, alerts last: how figures list them. */
export const ORDER_PATH = [
  'gateway',
  'orders',
  'account-transactions',
  'fees',
  'market',
  'stock-exchange',
  'alerts',
] as const satisfies readonly ServiceName[];
