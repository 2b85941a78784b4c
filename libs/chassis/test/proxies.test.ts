import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.ts';
import { type App, createApp, trustedProxies } from '../src/http.ts';
import { createLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** An app that answers each request with the address it takes the client to be. */
async function clientAddressApp(options: Parameters<typeof createApp>[2]) {
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const app = createApp(
    createLogger('proxies-test', 'info', { destination: sink }),
    createMetrics('proxies-test'),
    options,
  );
  app.get('/ip', async (request) => ({ ip: request.ip }));
  await app.ready();
  apps.push(app);
  return async (remoteAddress: string, forwardedFor?: string) =>
    (
      await app.inject({
        url: '/ip',
        remoteAddress,
        headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
      })
    ).json().ip;
}

describe('the client address of a public service (TRUSTED_PROXIES)', () => {
  it('believes X-Forwarded-For only from a trusted proxy, and only up to the first untrusted hop', async () => {
    const ipOf = await clientAddressApp({
      public: { requestTimeoutMs: 1000, trustedProxies: trustedProxies('10.0.0.0/8, 192.168.1.5') },
    });
    expect(await ipOf('10.2.3.4', '203.0.113.7')).toBe('203.0.113.7');
    expect(await ipOf('192.168.1.5', '203.0.113.8')).toBe('203.0.113.8');
    // a client that prepends a forged address gets its own address counted, not the forged one
    expect(await ipOf('10.2.3.4', '198.51.100.1, 203.0.113.7')).toBe('203.0.113.7');
    // through two trusted proxies
    expect(await ipOf('10.2.3.4', '203.0.113.9, 10.9.9.9')).toBe('203.0.113.9');
    // a peer that is no trusted proxy is the client, whatever it says
    expect(await ipOf('192.0.2.1', '203.0.113.7')).toBe('192.0.2.1');
  });

  it('trusts no proxy by default', async () => {
    const ipOf = await clientAddressApp({ public: { requestTimeoutMs: 1000 } });
    expect(await ipOf('10.2.3.4', '203.0.113.7')).toBe('10.2.3.4');
    const internal = await clientAddressApp({});
    expect(await internal('10.2.3.4', '203.0.113.7')).toBe('10.2.3.4');
  });

  it('refuses a setting that is not a list of addresses and CIDRs, naming the variable', () => {
    expect(trustedProxies('')).toEqual([]);
    expect(trustedProxies(' 10.0.0.0/8 ,::1, fd00::/8 ')).toEqual(['10.0.0.0/8', '::1', 'fd00::/8']);
    for (const bad of ['10.0.0', '10.0.0.0/33', '::1/129', '10.0.0.0/8/1', 'ingress'])
      expect(() => trustedProxies(bad)).toThrow(ConfigError);
    expect(() => trustedProxies('10.0.0.0/33')).toThrow(/TRUSTED_PROXIES/);
  });
});
