import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import type { TcpProxy } from '@simplebank/chassis/testing';
import type { ServiceName, Stack } from '@simplebank/stack';

const run = promisify(execFile);

/** The services a chaos run kills at random; the exchange simulator is killed at a moment of its own. */
export const KILLABLE: ServiceName[] = ['gateway', 'orders', 'account-transactions', 'fees', 'market'];

export interface FaultLog {
  at: number;
  fault: string;
}

/** SIGKILL, as the kernel's OOM killer or a lost machine would; then start it again. */
export async function killAndRestart(
  stack: Stack,
  service: ServiceName,
  log: FaultLog[],
  started: number,
  instance = 0,
) {
  log.push({ at: Date.now() - started, fault: `SIGKILL ${service}#${instance + 1}` });
  await stack.stopService(service, 'SIGKILL', instance);
  await stack.startService(service, instance);
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

/** SIGSTOP, as a long GC pause, a frozen VM or a debugger would; SIGCONT after `ms`. */
export async function pauseAndResume(
  stack: Stack,
  service: ServiceName,
  instance: number,
  ms: number,
  log: FaultLog[],
  started: number,
) {
  log.push({ at: Date.now() - started, fault: `SIGSTOP ${service}#${instance + 1} for ${ms / 1000} s` });
  stack.signal(service, 'SIGSTOP', instance);
  await new Promise((resolve) => setTimeout(resolve, ms)); // the pause itself, not a wait for a condition
  stack.signal(service, 'SIGCONT', instance);
  log.push({ at: Date.now() - started, fault: `SIGCONT ${service}#${instance + 1}` });
}

/** A network partition through `proxy`: cut (connections reset) or silent (black hole), healed after `ms`. */
export async function partition(
  proxy: TcpProxy,
  what: string,
  kind: 'cut' | 'black hole',
  ms: number,
  log: FaultLog[],
  started: number,
) {
  log.push({ at: Date.now() - started, fault: `partition ${what} (${kind}) for ${ms / 1000} s` });
  if (kind === 'cut') await proxy.cut();
  else proxy.blackHole();
  await new Promise((resolve) => setTimeout(resolve, ms)); // the partition itself
  await proxy.restore();
  log.push({ at: Date.now() - started, fault: `partition ${what} healed` });
}

/** Stops Redis (it keeps nothing on disk) for `ms`, then starts it as the machine does. */
export async function stopRedis(ms: number, log: FaultLog[], started: number) {
  log.push({ at: Date.now() - started, fault: `Redis stopped for ${ms / 1000} s` });
  await run('redis-cli', ['shutdown', 'nosave']).catch(() => undefined); // it closes the connection as it goes
  await new Promise((resolve) => setTimeout(resolve, ms)); // the outage itself
  await run('redis-server', [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '-::1',
    '--port',
    '6379',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    '/var/lib/redis',
    '--logfile',
    '/var/log/redis/ci.log',
  ]);
  log.push({ at: Date.now() - started, fault: 'Redis back' });
}
