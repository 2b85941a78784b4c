// CPU and memory as Linux accounts them (/proc), for the processes of the system under load.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SERVICES, type ServiceName } from '@simplebank/stack';

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux this runs on

/** CPU seconds spent by the whole machine, every process, since boot (not idle, not waiting on I/O). */
export function machineBusySeconds(): number {
  const [, ...fields] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal: all but idle and iowait
  const busy = fields
    .slice(0, 8)
    .reduce((sum, value, i) => (i === 3 || i === 4 ? sum : sum + Number(value)), 0);
  return busy / TICKS_PER_SECOND;
}

/** CPU seconds (user + system) one process has spent; 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) "
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime
  } catch {
    return 0;
  }
}

/** The most resident memory the process has had (VmHWM), in MiB. */
export function peakResidentMib(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(match?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Process ids of every process with exactly this name (`postgres`, `beam.smp`, `redis-server`). */
export function pidsNamed(name: string): number[] {
  try {
    return execFileSync('pgrep', ['-x', name], { encoding: 'utf8' }).trim().split('\n').map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds of a group of processes, read now. */
export const groupCpuSeconds = (pids: number[]) => pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);

export interface CpuReading {
  machine: number;
  bench: number;
  rabbitmq: number;
  postgres: number;
  redis: number;
  /** Every instance of the service, summed. */
  byService: Record<string, number>;
}

/** CPU seconds so far: the machine, this process, each service, and each piece of infrastructure. */
export function cpuReadings(pidsOf: (service: ServiceName) => number[]): CpuReading {
  const own = process.cpuUsage();
  return {
    machine: machineBusySeconds(),
    bench: (own.user + own.system) / 1e6,
    rabbitmq: groupCpuSeconds(pidsNamed('beam.smp')),
    postgres: groupCpuSeconds(pidsNamed('postgres')),
    redis: groupCpuSeconds(pidsNamed('redis-server')),
    byService: Object.fromEntries(SERVICES.map(({ name }) => [name, groupCpuSeconds(pidsOf(name))])),
  };
}

/** CPU seconds spent between two readings. */
export function cpuSpent(before: CpuReading, after: CpuReading): CpuReading {
  return {
    machine: after.machine - before.machine,
    bench: after.bench - before.bench,
    rabbitmq: after.rabbitmq - before.rabbitmq,
    postgres: after.postgres - before.postgres,
    redis: after.redis - before.redis,
    byService: Object.fromEntries(
      Object.entries(after.byService).map(([name, s]) => [name, s - (before.byService[name] ?? 0)]),
    ),
  };
}
