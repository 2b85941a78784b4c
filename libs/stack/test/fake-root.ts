import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICES } from '../src/services.ts';

/**
 * A stand-in for every service: listens on $PORT, answers /health/ready on $OPS_PORT (the same
 * listener unless it differs, as the chassis does), and any other path with who it is (port, pid,
 * TAG); on SIGTERM it says `bye` and exits 0.
 */
const FAKE_SERVICE = `
import { createServer } from 'node:http';
const port = Number(process.env.PORT);
const opsPort = Number(process.env.OPS_PORT ?? port);
const servers = [];
const listen = (at, health) => {
  const server = createServer((request, response) => {
    if (health && request.url === '/health/ready') return response.end('ready');
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ port: at, pid: process.pid, tag: process.env.TAG ?? null, exchange: process.env.EXCHANGE_URL }));
  });
  servers.push(server);
  server.listen(at, '127.0.0.1', () => console.log('listening on ' + at + ' as ' + process.pid));
};
listen(port, opsPort === port);
if (opsPort !== port) listen(opsPort, true);
process.on('SIGTERM', () => {
  console.log('bye');
  for (const server of servers) {
    server.close();
    server.closeAllConnections();
  }
  process.exitCode = 0;
});
`;

/**
 * The same in TypeScript, as `watch` runs it from src/: a parameter property and a type annotation,
 * which only Node's type transform (not mere stripping) runs; `tag` stands in for an edit.
 */
export const fakeSource = (tag = 'source') => `
class Who { constructor(readonly tag: string) {} }
const who: Who = new Who(${JSON.stringify(tag)});
process.env.TAG ??= who.tag;
${FAKE_SERVICE}`;

/** A repository root whose services are the fake above and whose telemetry module is empty. */
export function fakeRoot(): { root: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'simplebank-stack-'));
  writeFileSync(join(root, 'package.json'), '{ "type": "module" }');
  for (const { name } of SERVICES) {
    for (const dir of ['dist', 'src']) mkdirSync(join(root, 'services', name, dir), { recursive: true });
    writeFileSync(join(root, 'services', name, 'dist', 'server.js'), FAKE_SERVICE);
    writeFileSync(join(root, 'services', name, 'src', 'server.ts'), fakeSource());
  }
  for (const dir of ['dist', 'src']) mkdirSync(join(root, 'libs', 'chassis', dir), { recursive: true });
  writeFileSync(join(root, 'libs', 'chassis', 'dist', 'telemetry.js'), '');
  writeFileSync(join(root, 'libs', 'chassis', 'src', 'telemetry.ts'), '');
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}
