import { registerDebugRoutes } from './debug.ts';
import type { ServiceContext } from './definition.ts';
import type { App } from './http.ts';
import type { RecentEntries } from './logger.ts';

/** A dependency check: resolves true while the dependency answers. */
export type Check = () => Promise<boolean>;

/**
 * `/health/live`, `/health/ready`, `/health`, `/version` and `/metrics`, the same in every service,
 * on its operations listener (service.ts: a public service's is not the one it serves the public
 * on); and, with a `DEBUG_TOKEN` in `env`, `/debug/profile`, `/debug/heap-snapshot` and
 * `/debug/statements` (debug.ts), only on a listener known not to face the public (`public: false`;
 * absent counts as public, to be safe).
 *
 * `hard` checks are what the service cannot serve without (its database): one down makes it
 * unready (503), so the orchestrator sends it no requests. `soft` checks (the broker, Redis) only
 * degrade it: it stays ready, reads keep working, and `/health` and `/health/ready` say `degraded`
 * and which one is down.
 */
export function registerChassisRoutes<C>(
  app: App,
  definition: { name: string; version: string; public?: boolean },
  svc: ServiceContext<C>,
  recent: RecentEntries,
  extra: { hard?: Record<string, Check>; soft?: Record<string, Check> },
  env: NodeJS.ProcessEnv = process.env,
) {
  const hard: Record<string, Check> = { ...extra.hard };
  const soft: Record<string, Check> = { ...extra.soft };

  const run = async (check: Check) =>
    Promise.race([
      check().catch(() => false),
      new Promise<false>((resolve) => setTimeout(resolve, 1000, false).unref()),
    ]);
  const runChecks = async () => {
    const results: Record<string, 'up' | 'down'> = {};
    const down = { hard: false, soft: false };
    await Promise.all(
      [
        ...Object.entries(hard).map((c) => [...c, 'hard'] as const),
        ...Object.entries(soft).map((c) => [...c, 'soft'] as const),
      ].map(async ([name, check, kind]) => {
        const ok = await run(check);
        results[name] = ok ? 'up' : 'down';
        if (!ok) down[kind] = true;
      }),
    );
    const status = down.hard ? 'not_ready' : down.soft ? 'degraded' : 'ready';
    return { ready: !down.hard, status, checks: results };
  };

  app.get('/health/live', async () => ({ status: 'live' }));
  app.get('/health/ready', async (_request, reply) => {
    const { ready, status, checks: results } = await runChecks();
    return reply.status(ready ? 200 : 503).send({ status, checks: results });
  });
  app.get('/health', async () => {
    const { status, checks: results } = await runChecks();
    const samples = (await svc.metrics.registry.getMetricsAsJSON()).slice(0, 10);
    return {
      status,
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
