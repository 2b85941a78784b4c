/** Every process of the system, in start order, with its default port. */
export const SERVICES = [
  { name: 'stock-exchange', port: 8090 },
  { name: 'account-transactions', port: 8082 },
  { name: 'fees', port: 8083 },
  { name: 'market', port: 8084 },
  { name: 'orders', port: 8081 },
  { name: 'gateway', port: 8080 },
  // Alertmanager's webhook receiver: not part of the saga
  { name: 'alerts', port: 8095 },
] as const;

/** The services an order passes through (the ones its trace spans). */
export const SAGA_SERVICES = SERVICES.filter((s) => s.name !== 'alerts');

export type ServiceName = (typeof SERVICES)[number]['name'];
