import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * The highest resident memory each service has reached under `pnpm bench`'s load, as recorded in
 * deploy/measured-memory.json: compose's and Kubernetes' memory limits are checked against it
 * (deploy/test/limits.test.ts), so a limit cannot fall below what a service was seen to need.
 */
export interface MeasuredMemory {
  about: string;
  services: Record<string, { peakMiB: number; measured: string; commit: string; machine: string }>;
}

const ABOUT =
  "Peak resident memory (VmHWM, MiB) of each service under `pnpm bench`'s load; BENCH_RECORD_MEMORY=1 pnpm bench raises a figure when a run measures more. Memory limits must exceed these (deploy/test/limits.test.ts).";

/**
 * Raises each service's recorded peak to `peaks`' where this run measured more; a lower reading
 * leaves the record alone, since one run's peak is one sample of what the service can need.
 */
export function recordPeaks(
  file: string,
  peaks: readonly (readonly [string, number])[],
  root: string,
): string[] {
  let record: MeasuredMemory = { about: ABOUT, services: {} };
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as MeasuredMemory;
  } catch {
    // no record yet
  }
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`;
  const measured = new Date().toISOString().slice(0, 10);
  const raised: string[] = [];
  for (const [name, mib] of peaks) {
    const peakMiB = Math.ceil(mib);
    if (peakMiB === 0) continue; // the process was not found: no reading
    if ((record.services[name]?.peakMiB ?? 0) >= peakMiB) continue;
    record.services[name] = { peakMiB, measured, commit, machine };
    raised.push(`${name} ${peakMiB} MiB`);
  }
  record.about = ABOUT;
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return raised;
}
