import { registerDebugRoutes } from './debug.ts';
import type { App } from './http.ts';
import type { RecentEntries } from './logger.ts';
import type { ServiceContext } from './service.ts';

/**
 * `/health/live`, `/health/ready`, `/health`, `/version` and `/metrics`, the same in every service;
 * and, with a `DEBUG_TOKEN` in `env`, `/debug/profile`, `/debug/heap-snapshot` and `/debug/statements`
 * (debug.ts), only in a service known not to face the public (`public: false`; absent counts as
 * public, to be safe).
 */
export function registerChassisRoutes<C>(
  app: App,
  definition: { name: string; version: string; public?: boolean },
  svc: ServiceContext<C>,
  recent: RecentEntries,
  extra: Record<string, () => Promise<boolean>>,
  env: NodeJS.ProcessEnv = process.env,
  /** False while the handlers are paused for a database outage (database-gate.ts). */
  handlersRunning: () => boolean = () => true,
) {
  const checks: Record<string, () => Promise<boolean>> = { ...extra };
  if (svc.pool)
    checks.database = async () => handlersRunning() && (await svc.pool.query('SELECT 1').then(() => true));
  if (svc.broker) checks.broker = async () => svc.broker.ready;

  const runChecks = async () => {
    const results: Record<string, 'up' | 'down'> = {};
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        const ok = await Promise.race([
          check().catch(() => false),
          new Promise<false>((resolve) => setTimeout(resolve, 1000, false).unref()),
        ]);
        results[name] = ok ? 'up' : 'down';
      }),
    );
    return { ready: Object.values(results).every((r) => r === 'up'), checks: results };
  };

  app.get('/health/live', async () => ({ status: 'live' }));
  app.get('/health/ready', async (_request, reply) => {
    const { ready, checks: results } = await runChecks();
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: results });
  });
  app.get('/health', async () => {
    const { ready, checks: results } = await runChecks();
    const samples = (await svc.metrics.registry.getMetricsAsJSON()).slice(0, 10);
    return {
      status: ready ? 'ready' : 'not_ready',
      checks: results,
      recent_logs: recent.entries,
      metrics: samples,
    };
  });
  app.get('/version', async () => ({
    name: definition.name,
    version: definition.version,
    commit: svc.config.GIT_COMMIT,
  }));
  app.get('/metrics', async (_request, reply) =>
    reply.type(svc.metrics.registry.contentType).send(await svc.metrics.registry.metrics()),
  );
  if (definition.public === false) registerDebugRoutes(app, { token: env.DEBUG_TOKEN, log: svc.log });
}
