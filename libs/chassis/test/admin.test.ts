import type { Server } from 'node:http';
import { ADMIN, type RunningService, startService } from '@simplebank/chassis';
import { adminHeaders, testEnvironment } from '@simplebank/chassis/testing';
import { afterEach, describe, expect, it } from 'vitest';
import counter from './fixtures/counter-service.ts';

/** The counter fixture with an administrative route and an ordinary one of its own. */
const fixture = {
  ...counter,
  routes: (app: RunningService['app']) => {
    app.post('/widgets', { ...ADMIN }, async () => ({ made: true }));
    app.get('/widgets', async () => ({ widgets: [] }));
  },
};

const running: RunningService[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.stop()));
});

async function start(env: Record<string, string>) {
  const service = await startService(fixture, {
    env: { ...(await testEnvironment('chassis_admin')), ...env },
  });
  running.push(service);
  const at = (server: Server) => `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { service, servicePort: at(service.app.server), opsPort: at(service.opsServer) };
}

const call = (url: string, method: string, headers: Record<string, string> = {}) =>
  fetch(url, {
    method,
    headers: method === 'PUT' ? { ...headers, 'content-type': 'application/json' } : headers,
    ...(method === 'PUT' ? { body: JSON.stringify({ handler_delay_ms: 0 }) } : {}),
  });

const ADMINISTRATIVE = [
  ['POST', '/widgets'],
  ['GET', '/admin/faults'],
  ['PUT', '/admin/faults'],
] as const;

describe('administrative routes of an internal service with OPS_PORT', () => {
  it('are not found on its service port, even with the credential: exactly like a route that does not exist', async () => {
    const { servicePort } = await start({ OPS_PORT: '0' });
    for (const [method, path] of ADMINISTRATIVE) {
      const response = await call(`${servicePort}${path}`, method, adminHeaders);
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.headers.get('www-authenticate'), `${method} ${path}`).toBeNull();
      // the very answer of a path nobody serves, the URL aside
      const unknown = await call(`${servicePort}${path}-nobody-serves`, method, adminHeaders);
      expect(await response.json()).toEqual({
        error: { code: 'not_found', message: `no route for ${method} ${path}` },
      });
      expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
    // without the credential as well: nothing says they exist
    expect((await call(`${servicePort}/widgets`, 'POST')).status).toBe(404);
    // its ordinary routes are served there as before
    expect((await call(`${servicePort}/widgets`, 'GET')).status).toBe(200);
  });

  it('answer on its operations port, to the holder of ADMIN_TOKEN only', async () => {
    const { opsPort } = await start({ OPS_PORT: '0' });
    for (const [method, path] of ADMINISTRATIVE) {
      const refused = await call(`${opsPort}${path}`, method);
      expect(refused.status, `${method} ${path}`).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="admin"');
      const wrong = await call(`${opsPort}${path}`, method, { authorization: 'Bearer not-the-token' });
      expect(wrong.status, `${method} ${path}`).toBe(401);
      expect((await call(`${opsPort}${path}`, method, adminHeaders)).status, `${method} ${path}`).toBe(200);
    }
    expect(await (await call(`${opsPort}/widgets`, 'POST', adminHeaders)).json()).toEqual({ made: true });
    // with health, metrics and version; the service's ordinary routes are not there
    for (const path of ['/health/ready', '/metrics', '/version'])
      expect((await call(`${opsPort}${path}`, 'GET')).status, path).toBe(200);
    expect((await call(`${opsPort}/widgets`, 'GET')).status).toBe(404);
  });

  it('without OPS_PORT, are served beside everything else on its one listener, as before', async () => {
    const { service, servicePort } = await start({});
    expect(service.opsServer).toBe(service.app.server);
    for (const [method, path] of ADMINISTRATIVE) {
      expect((await call(`${servicePort}${path}`, method)).status, `${method} ${path}`).toBe(401);
      expect((await call(`${servicePort}${path}`, method, adminHeaders)).status, `${method} ${path}`).toBe(
        200,
      );
    }
    for (const path of ['/widgets', '/health/ready', '/metrics', '/version'])
      expect((await call(`${servicePort}${path}`, 'GET')).status, path).toBe(200);
  });
});
