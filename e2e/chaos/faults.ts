import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import type { ServiceName, Stack } from '@simplebank/stack';

const run = promisify(execFile);

/** The services a chaos run kills at random; the exchange simulator is killed at a moment of its own. */
export const KILLABLE: ServiceName[] = ['gateway', 'orders', 'account-transactions', 'fees', 'market'];

export interface FaultLog {
  at: number;
  fault: string;
}

/** SIGKILL, as the kernel's OOM killer or a lost machine would; then start it again. */
export async function killAndRestart(stack: Stack, service: ServiceName, log: FaultLog[], started: number) {
  log.push({ at: Date.now() - started, fault: `SIGKILL ${service}` });
  await stack.stopService(service, 'SIGKILL');
  await stack.startService(service);
}

/** Stops the RabbitMQ application (every connection drops) and starts it again. */
export async function restartRabbitMQ(downMs: number, log: FaultLog[], started: number) {
  log.push({ at: Date.now() - started, fault: 'RabbitMQ restart' });
  await run('rabbitmqctl', ['-q', 'stop_app']);
  await new Promise((resolve) => setTimeout(resolve, downMs)); // the outage itself, not a wait for a condition
  await run('rabbitmqctl', ['-q', 'start_app']);
}

/** Restarts the PostgreSQL cluster: every connection of every service is cut. */
export async function restartPostgreSQL(log: FaultLog[], started: number) {
  log.push({ at: Date.now() - started, fault: 'PostgreSQL restart' });
  const [version] = readdirSync('/etc/postgresql');
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', String(version), 'main', 'restart']);
}

/** Messages in every dead-letter queue of the vhost, by queue. */
export async function parkedMessages(vhost: string): Promise<Record<string, number>> {
  const { stdout } = await run('rabbitmqctl', [
    '-q',
    'list_queues',
    '-p',
    vhost,
    'name',
    'messages',
    '--no-table-headers',
  ]);
  const parked: Record<string, number> = {};
  for (const line of stdout.trim().split('\n')) {
    const [name, count] = line.trim().split(/\s+/);
    if (name?.endsWith('.dlq') && Number(count) > 0) parked[name] = Number(count);
  }
  return parked;
}
