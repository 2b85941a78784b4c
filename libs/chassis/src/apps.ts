import type { Server } from 'node:http';
import type { TProperties } from 'typebox';
import { type BaseConfig, ConfigError } from './config.ts';
import type { ServiceDefinition } from './definition.ts';
import { type App, createApp, operationsListener, trustedProxies } from './http.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/**
 * The service's app, and where its operations routes (health details, recent logs, metrics,
 * profiling) answer. A public service serves them on an app of its own, on a port the public is
 * not routed to. An internal service with OPS_PORT serves them, and what creates money, customers
 * or faults (its administrative routes), on a second listener of its app, which its callers cannot
 * reach.
 */
export function createApps<P extends TProperties, S>(
  definition: ServiceDefinition<P, S>,
  config: BaseConfig,
  log: Logger,
  metrics: Metrics,
  opsPort: number | null,
): { app: App; ops: App; opsServer: Server } {
  const app = createApp(
    log,
    metrics,
    definition.public
      ? {
          public: {
            requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
            trustedProxies: trustedProxies(config.TRUSTED_PROXIES),
          },
        }
      : { adminToken: config.ADMIN_TOKEN, operationsListener: opsPort !== null },
  );
  const ops = opsPort === null || !definition.public ? app : createApp(log, metrics);
  const opsServer = opsPort !== null && ops === app ? operationsListener(app) : ops.server;
  return { app, ops, opsServer };
}

export async function listenOn(
  app: App,
  ops: App,
  opsServer: Server,
  host: string,
  port: number,
  opsPort: number | null,
): Promise<void> {
  await app.listen({ host, port });
  if (ops !== app) await ops.listen({ host, port: opsPort ?? 0 });
  else if (opsServer !== app.server)
    await new Promise<void>((resolve, reject) => {
      opsServer.once('error', reject);
      opsServer.listen(opsPort ?? 0, host, () => {
        opsServer.off('error', reject);
        resolve();
      });
    });
}

/** How far above its port a public service serves its operations routes, unless OPS_PORT says. */
export const OPS_PORT_OFFSET = 1000;

/**
 * The port of the service's operations listener, or null when its operations routes share the
 * service's own listener (an internal service, unless OPS_PORT names another port). A public
 * service always has one of its own: OPS_PORT, else its port + 1000 (an ephemeral one for port 0).
 */
export function operationsPort(port: number, opsPort: number | undefined, isPublic: boolean): number | null {
  if (opsPort === undefined) return isPublic ? (port === 0 ? 0 : port + OPS_PORT_OFFSET) : null;
  if (opsPort === port && port !== 0) {
    if (isPublic)
      throw new ConfigError(
        `OPS_PORT ${opsPort} is PORT: a public service serves its operations routes on a port of their own`,
      );
    return null;
  }
  return opsPort;
}

export const portOf = (server: Server): number | null => {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : null;
};
