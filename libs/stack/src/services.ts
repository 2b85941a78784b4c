/** Every process of the system, in start order, with its default port. */
export const SERVICES = [
  { name: 'stock-exchange', port: 8090 },
  { name: 'account-transactions', port: 8082 },
  { name: 'fees', port: 8083 },
  { name: 'market', port: 8084 },
  { name: 'orders', port: 8081 },
  { name: 'gateway', port: 8080 },
] as const;

export type ServiceName = (typeof SERVICES)[number]['name'];
