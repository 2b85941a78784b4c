// seedAccounts against a stand-in for account-transactions and the gateway (node:http), answering
// as they do: it opens each account once, treats what exists as seeded, never has more than
// `concurrency` requests in flight, signs in through a 429, and writes credentials k6 and siege read.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAccounts, writeCredentials } from '../seed.ts';

const customers = new Map<string, string>();
const accounts = new Map<string, { owner: string; cash: string }>();
let inFlight = 0;
let maxInFlight = 0;
let held: Array<() => void> = [];
/** Requests are held until `holdUntil` of them are in flight, then answered together. */
let holdUntil = 1;
let signInsRefused = 0;
let url = '';

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

async function handle(req: IncomingMessage, res: ServerResponse) {
  let text = '';
  for await (const chunk of req) text += chunk;
  const body = JSON.parse(text);
  if (req.url === '/accounts') {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise<void>((release) => {
      held.push(release);
      if (held.length >= holdUntil) {
        for (const r of held) r();
        held = [];
      }
    });
    inFlight--;
    if (body.password !== undefined && customers.has(body.owner))
      return json(res, 409, { error: { code: 'customer_exists', message: '' } });
    if (accounts.has(body.account_id))
      return json(res, 409, { error: { code: 'account_exists', message: '' } });
    if (body.password !== undefined) customers.set(body.owner, body.password);
    accounts.set(body.account_id, { owner: body.owner, cash: body.cash });
    return json(res, 201, { account_id: body.account_id });
  }
  if (req.url === '/auth/token') {
    if (signInsRefused < 1) {
      signInsRefused++;
      return json(res, 429, { error: { code: 'rate_limited', message: '' } }, { 'retry-after': '0' });
    }
    if (customers.get(body.username) !== body.password)
      return json(res, 401, { error: { code: 'invalid_credentials', message: '' } });
    return json(res, 200, {
      access_token: `token-of-${body.username}`,
      token_type: 'Bearer',
      expires_in: 900,
    });
  }
  json(res, 404, {});
}

const server = createServer((req, res) => void handle(req, res));
const dir = mkdtempSync(join(tmpdir(), 'seed-'));
beforeAll(async () => {
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((closed) => server.close(closed));
  rmSync(dir, { recursive: true, force: true });
});

describe('seedAccounts', () => {
  it('opens count funded customers with at most `concurrency` requests at once', async () => {
    holdUntil = 3;
    const progress: number[] = [];
    const result = await seedAccounts({
      accountsUrl: url,
      count: 9,
      prefix: 'lt',
      cash: '500.00',
      concurrency: 3,
      onProgress: (p) => progress.push(p.done),
    });
    expect(result.created).toBe(9);
    expect(result.existing).toBe(0);
    expect(maxInFlight).toBe(3);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(result.accounts[0]).toEqual({
      username: 'lt-1',
      password: 'lt-1-password',
      account_id: 'acc-lt-1',
      created: true,
    });
    expect(accounts.get('acc-lt-9')).toEqual({ owner: 'lt-9', cash: '500.00' });
  });

  it('counts what a re-run finds as there already, and opens only what is missing', async () => {
    holdUntil = 1;
    const result = await seedAccounts({ accountsUrl: url, count: 10, prefix: 'lt', concurrency: 2 });
    expect(result.existing).toBe(9);
    expect(result.created).toBe(1);
    expect(result.accounts.filter((a) => a.created).map((a) => a.account_id)).toEqual(['acc-lt-10']);
  });

  it('opens extra accounts for a customer without creating the customer again, and signs in', async () => {
    holdUntil = 1;
    const result = await seedAccounts({
      accountsUrl: url,
      gatewayUrl: url,
      count: 2,
      prefix: 'siege',
      accountsPerCustomer: 3,
      signIn: true,
    });
    expect(result.accounts.map((a) => a.account_id)).toEqual([
      'acc-siege-1',
      'acc-siege-1-2',
      'acc-siege-1-3',
      'acc-siege-2',
      'acc-siege-2-2',
      'acc-siege-2-3',
    ]);
    expect(accounts.get('acc-siege-1-3')?.owner).toBe('siege-1');
    expect(signInsRefused).toBe(1);
    expect(result.accounts.map((a) => a.token)).toEqual([
      ...Array(3).fill('token-of-siege-1'),
      ...Array(3).fill('token-of-siege-2'),
    ]);
    expect(result.accounts[0]?.token_expires_at).toBeGreaterThan(Date.now() + 800_000);
  });

  it('fails loudly on an answer it does not expect', async () => {
    await expect(seedAccounts({ accountsUrl: `${url}/nowhere/`, count: 1 })).rejects.toThrow(
      /POST \/accounts acc-load-1: 404/,
    );
  });

  it('writes the credentials as JSON or CSV, without tokens', async () => {
    const seeded = [
      { username: 'lt-1', password: 'lt-1-password', account_id: 'acc-lt-1', created: true, token: 't' },
    ];
    await writeCredentials(join(dir, 'c.json'), seeded);
    await writeCredentials(join(dir, 'c.csv'), seeded);
    expect(JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8'))).toEqual([
      { username: 'lt-1', password: 'lt-1-password', account_id: 'acc-lt-1' },
    ]);
    expect(readFileSync(join(dir, 'c.csv'), 'utf8')).toBe(
      'username,password,account_id\nlt-1,lt-1-password,acc-lt-1\n',
    );
  });
});
