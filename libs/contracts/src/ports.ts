/**
 * Each process's default port, declared once: the services' listings, libs/stack (pnpm start, the
 * suites), and the defaults of the URLs one service calls another by. Compose, Kubernetes and the
 * README are checked against libs/stack's list (deploy/test).
 */
export const PORTS = {
  gateway: 8080,
  orders: 8081,
  'account-transactions': 8082,
  fees: 8083,
  market: 8084,
  'stock-exchange': 8090,
  alerts: 8095,
  console: 8070,
} as const;

/** The gateway's operations routes (health, metrics), on a listener of their own: it faces the public. */
export const GATEWAY_OPS_PORT = 9080;

/** A service on this machine at its default port: the default of the URL another calls it by. */
export const localUrl = (service: keyof typeof PORTS): string => `http://127.0.0.1:${PORTS[service]}`;
