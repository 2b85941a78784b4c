// `node scripts/with-infrastructure.ts <command> [args…]` (what `pnpm start`, `pnpm dev` and
// `pnpm test` run under):
// runs the command against RabbitMQ, PostgreSQL and Redis, the local ones when they answer, else the
// missing ones in containers (libs/stack containers.ts), which it removes when the command ends.
// Says which path ran; SIMPLEBANK_CONTAINERS=never|always overrides the choice.
import { spawn } from 'node:child_process';
import { ensureInfrastructure, type RunInfrastructure } from '@simplebank/stack';
import { containers } from './containers.ts';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: node scripts/with-infrastructure.ts <command> [args…]');
  process.exit(2);
}

let servers: RunInfrastructure;
try {
  servers = await ensureInfrastructure(containers);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
console.error(servers.summary);

// In a process group of its own, which gets every signal this gets exactly once: `node` and
// `turbo` here are shell shims that do not pass signals on to what they start.
const child = spawn(command, args, {
  stdio: 'inherit',
  env: { ...process.env, ...servers.env },
  detached: true,
});
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  });
const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
  child.once('exit', (c, s) => resolve([c, s])),
);
await servers.stop();
process.exit(code ?? (signal ? 1 : 0));
