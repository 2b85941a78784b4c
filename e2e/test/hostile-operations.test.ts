/**
 * Hostile reads of the operations endpoints at the public gateway: anyone on the internet reaches
 * its port, so health details with recent logs, metrics, version and profiling must not be there
 * (README, "Security"). They are on the gateway's operations port, which the Ingress does not route.
 */
import { describe, expect, inject, it } from 'vitest';
import { newAccount, placeOrder, settled, url } from './system.ts';

const ops = inject('ops:gateway');

/** Each operations route, and spellings of it a router might take for the same path. */
const OPERATIONS = [
  ['GET', '/health'],
  ['GET', '/health/live'],
  ['GET', '/health/ready'],
  ['GET', '/metrics'],
  ['GET', '/version'],
  ['POST', '/debug/profile?seconds=1'],
  ['POST', '/debug/heap-snapshot'],
  ['POST', '/debug/statements?seconds=1'],
  ['GET', '/admin/faults'],
] as const;
const SPELLINGS = (path: string) => [
  path,
  `${path.split('?')[0]}/`,
  `${path.split('?')[0]}?verbose=1`,
  path.toUpperCase(),
  `/${path}`,
  `/.${path}`, // fetch sends the dot segments resolved, as a browser would
  `/%2e${path}`,
];

async function anonymous(method: string, path: string, base = url.gateway) {
  const response = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, text: await response.text() };
}

describe('operations endpoints from the internet', { timeout: 120_000 }, () => {
  it('the public port answers 404 (or 400) to every spelling of them, with nothing of the service in it', async () => {
    // a sign-in and an order first: what an attacker polling /health used to collect
    const accountId = await newAccount('100.00', [{ symbol: 'ACME', quantity: 5 }]);
    const orderId = await placeOrder('sell', accountId, 'ACME', 1);
    await settled(orderId);

    const leaks: string[] = [];
    for (const [method, route] of OPERATIONS)
      for (const path of SPELLINGS(route)) {
        const { status, text } = await anonymous(method, path);
        const what = `${method} ${path} → ${status} ${text.slice(0, 200)}`;
        if (status !== 404 && status !== 400) leaks.push(what);
        else if (!/^\{"error":\{"code":"[a-z_]+","message":/.test(text))
          leaks.push(`not the error shape: ${what}`);
        for (const secret of ['recent_logs', 'process_cpu', 'http_requests', accountId, orderId, '"checks"'])
          if (text.includes(secret)) leaks.push(`${secret} in ${what}`);
      }
    expect(leaks).toEqual([]);
  });

  it('they are on the operations port, where the recent logs name no customer at info level', async () => {
    for (const [method, route] of OPERATIONS.slice(0, 5)) {
      const { status } = await anonymous(method, route, ops);
      expect(status, route).toBe(200);
    }
    const accountId = await newAccount('10.00');
    const health = JSON.parse((await anonymous('GET', '/health', ops)).text) as {
      status: string;
      recent_logs: { level: string; message: string }[];
    };
    expect(health.status).toBe('ready');
    expect(health.recent_logs.length).toBeGreaterThan(0);
    const signedIn = health.recent_logs.filter((entry) => entry.message === 'customer signed in');
    expect(signedIn.length).toBeGreaterThan(0);
    for (const entry of health.recent_logs.filter((e) => e.level !== 'debug' && e.level !== 'trace'))
      expect(JSON.stringify(entry)).not.toContain(accountId); // the e2e customers' usernames are their account ids
    expect((await anonymous('GET', '/metrics', ops)).text).toMatch(/http_request_duration_seconds/);
  });
});
