import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICES } from '../src/services.ts';

/**
 * A stand-in for every service: listens on $PORT, answers /health/ready, and any other path with
 * who it is (port, pid, TAG); on SIGTERM it says `bye` and exits 0.
 */
const FAKE_SERVICE = `
import { createServer } from 'node:http';
const port = Number(process.env.PORT);
const server = createServer((request, response) => {
  if (request.url === '/health/ready') return response.end('ready');
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify({ port, pid: process.pid, tag: process.env.TAG ?? null, exchange: process.env.EXCHANGE_URL }));
});
server.listen(port, '127.0.0.1', () => console.log('listening on ' + port + ' as ' + process.pid));
process.on('SIGTERM', () => {
  console.log('bye');
  server.close();
  server.closeAllConnections();
  process.exitCode = 0;
});
`;

/** A repository root whose services are the fake above and whose telemetry module is empty. */
export function fakeRoot(): { root: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'simplebank-stack-'));
  writeFileSync(join(root, 'package.json'), '{ "type": "module" }');
  for (const { name } of SERVICES) {
    mkdirSync(join(root, 'services', name, 'dist'), { recursive: true });
    writeFileSync(join(root, 'services', name, 'dist', 'server.js'), FAKE_SERVICE);
  }
  mkdirSync(join(root, 'libs', 'chassis', 'dist'), { recursive: true });
  writeFileSync(join(root, 'libs', 'chassis', 'dist', 'telemetry.js'), '');
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}
