import type { TProperties } from 'typebox';
import { serviceCli } from './cli.ts';
import { ConfigError } from './config.ts';
import type { RunningService, ServiceDefinition } from './definition.ts';
import { InfrastructureError } from './infrastructure.ts';
import { startService } from './service.ts';
import { flushTelemetry } from './tracing.ts';

/** Starts a service as its own process: signals, graceful stop, one clear line when it cannot start. */
export async function runService<P extends TProperties, S>(
  definition: ServiceDefinition<P, S>,
): Promise<RunningService> {
  // `--version`, `--help`, `init` (cli.ts): answered before anything connects
  const cli = serviceCli(definition as unknown as Parameters<typeof serviceCli>[0], process.argv.slice(2), {
    env: process.env,
    execPath: process.execPath,
    entry: process.argv[1] ?? 'dist/server.js',
  });
  if (cli.action === 'exit') {
    process.stdout.write(cli.stdout);
    process.stderr.write(cli.stderr);
    process.exit(cli.code);
  }
  let running: RunningService;
  try {
    running = await startService(definition);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof InfrastructureError) {
      process.stderr.write(`${definition.name}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const shutdown = (signal: string) => {
    running.context.log.info({ signal }, 'shutdown requested');
    const timeout = running.context.config.SHUTDOWN_TIMEOUT_MS;
    setTimeout(() => {
      running.context.log.error({ timeout_ms: timeout }, 'shutdown took too long; exiting');
      process.exit(1);
    }, timeout).unref();
    running.stop().then(
      () => flushTelemetry().then(() => process.exit(0)),
      (error) => {
        running.context.log.error({ error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return running;
}
