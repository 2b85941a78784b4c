// A bare fastify route beside the same route served by the chassis, side by side (autocannon).
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { waitFor } from '@simplebank/chassis/testing';
import autocannon from 'autocannon';

export interface RouteFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

const here = (file: string) => new URL(file, import.meta.url).pathname;
const telemetry = createRequire(import.meta.url).resolve('@simplebank/chassis/telemetry');

async function serve(args: string[], port: number, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: 'ignore',
  });
  await waitFor(
    `${args.at(-1)} to answer on port ${port}`,
    async () => (await fetch(`http://127.0.0.1:${port}/hello`).catch(() => undefined))?.ok,
    { timeoutMs: 20_000, intervalMs: 100 },
  ).catch((error: Error) => {
    child.kill();
    throw error;
  });
  return child;
}

async function measure(port: number, seconds: number): Promise<RouteFigures> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/hello`,
    connections: 20,
    duration: seconds,
  });
  return { requestsPerSecond: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99 };
}

/** Bare fastify, then the chassis, one after the other so neither takes the other's core. */
export async function chassisCost(
  env: NodeJS.ProcessEnv,
  seconds = 10,
): Promise<{ bare: RouteFigures; chassis: RouteFigures }> {
  const bareServer = await serve([here('./hello-bare.ts')], 39_101, env);
  const bare = await measure(39_101, seconds);
  bareServer.kill('SIGTERM');
  const chassisServer = await serve(['--import', telemetry, here('./hello-chassis.ts')], 39_102, env);
  const chassis = await measure(39_102, seconds);
  chassisServer.kill('SIGTERM');
  return { bare, chassis };
}
