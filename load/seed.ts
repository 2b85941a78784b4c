// Funded demo accounts for load tests: `pnpm seed` (scripts/seed.ts), the siege recipe
// (load/siege/prepare.ts) and the benchmark all open them through seedAccounts. Plain fetch, no
// dependencies: it runs on Node 24's type stripping.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface Position {
  symbol: string;
  quantity: number;
}

export interface SeedOptions {
  /** account-transactions' internal API, which opens accounts (`POST /accounts`). */
  accountsUrl: string;
  /** The gateway: only needed to sign in (`signIn: true`). */
  gatewayUrl?: string;
  /** How many customers to create. */
  count: number;
  /** Usernames are `<prefix>-<n>` (n from 1), account ids `acc-<prefix>-<n>` (`-<k>` per extra account). */
  prefix?: string;
  /** Accounts each customer owns (default 1); they share the customer's sign-in and rate limit. */
  accountsPerCustomer?: number;
  /** Cash in each account, a decimal string (default "1000000.00"). */
  cash?: string;
  /** Shares in each account (default 100,000 of each of ACME, GLOBEX, INITECH, UMBRELLA, HOOLI). */
  positions?: Position[];
  /** The password of customer n; default `<username>-password`. At least 8 characters. */
  password?: (username: string) => string;
  /** Requests in flight at once (default 4: every new customer costs account-transactions a scrypt hash). */
  concurrency?: number;
  /** Also sign every customer in at the gateway and return their bearer tokens. */
  signIn?: boolean;
  /** Called after each account, for progress output. */
  onProgress?: (progress: SeedProgress) => void;
}

export interface SeedProgress {
  done: number;
  total: number;
  created: number;
  existing: number;
}

export interface SeededAccount {
  username: string;
  password: string;
  account_id: string;
  /** False when it existed already (a re-run). */
  created: boolean;
  /** With `signIn`: the bearer token and when it expires (epoch ms). */
  token?: string;
  token_expires_at?: number;
}

export interface SeedResult {
  accounts: SeededAccount[];
  created: number;
  existing: number;
}

export const DEFAULT_SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA', 'HOOLI'];
export const DEFAULT_CASH = '1000000.00';
export const DEFAULT_POSITIONS: Position[] = DEFAULT_SYMBOLS.map((symbol) => ({ symbol, quantity: 100_000 }));

/** Runs `work` over `items` with at most `limit` at once, in order of start. */
export async function eachLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

class SeedError extends Error {}

/** `path` under a base URL, keeping the base's own path (a service behind a proxy's prefix). */
const endpoint = (base: string, path: string) => `${base.replace(/\/+$/, '')}${path}`;

async function answer(response: Response): Promise<{ status: number; code?: string; body: unknown }> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  const code = (body as { error?: { code?: string } } | null)?.error?.code;
  return { status: response.status, code, body };
}

/**
 * Opens one account. Idempotent: 409 `customer_exists` (the owner is there from an earlier run)
 * retries without the password, which opens the account for the existing customer or answers 409
 * `account_exists`; both mean it is there. Resolves true when it was created now.
 */
async function openAccount(
  accountsUrl: string,
  account: { account_id: string; owner: string; password?: string; cash: string; positions: Position[] },
): Promise<boolean> {
  const post = (body: object) =>
    fetch(endpoint(accountsUrl, '/accounts'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(answer);
  let result = await post(account);
  if (result.status === 409 && result.code === 'customer_exists') {
    const { password: _, ...withoutPassword } = account;
    result = await post(withoutPassword);
  }
  if (result.status === 201) return true;
  if (result.status === 409 && result.code === 'account_exists') return false;
  throw new SeedError(
    `POST /accounts ${account.account_id}: ${result.status} ${JSON.stringify(result.body)}`,
  );
}

/**
 * Signs a customer in at the gateway. A 429 (sign-ins are limited per IP address,
 * AUTH_RATE_LIMIT_MAX a minute) waits for its Retry-After and tries again, up to `attempts` times.
 */
export async function signIn(
  gatewayUrl: string,
  username: string,
  password: string,
  attempts = 5,
): Promise<{ token: string; expiresAt: number }> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(endpoint(gatewayUrl, '/auth/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const result = await answer(response);
    if (result.status === 200) {
      const { access_token, expires_in } = result.body as { access_token: string; expires_in: number };
      return { token: access_token, expiresAt: Date.now() + expires_in * 1000 };
    }
    if (result.status === 429 && attempt < attempts) {
      const seconds = Number(response.headers.get('retry-after') ?? '1');
      await new Promise((resolve) => setTimeout(resolve, (Number.isFinite(seconds) ? seconds : 1) * 1000));
      continue;
    }
    throw new SeedError(`sign-in as ${username}: ${result.status} ${JSON.stringify(result.body)}`);
  }
}

/** The accounts `seedAccounts` opens for these options, in order, without opening them. */
export function plannedAccounts(
  options: Pick<SeedOptions, 'count' | 'prefix' | 'accountsPerCustomer' | 'password'>,
): Array<Omit<SeededAccount, 'created'>> {
  const prefix = options.prefix ?? 'load';
  const perCustomer = options.accountsPerCustomer ?? 1;
  const passwordOf = options.password ?? ((username: string) => `${username}-password`);
  const planned: Array<Omit<SeededAccount, 'created'>> = [];
  for (let n = 1; n <= options.count; n++) {
    const username = `${prefix}-${n}`;
    const password = passwordOf(username);
    for (let k = 1; k <= perCustomer; k++) {
      planned.push({ username, password, account_id: `acc-${username}${k === 1 ? '' : `-${k}`}` });
    }
  }
  return planned;
}

/**
 * Opens `count` funded customers (each with `accountsPerCustomer` accounts), at most `concurrency`
 * requests at once; safe to run again with the same options. With `signIn`, each customer's token
 * is on each of their accounts.
 */
export async function seedAccounts(options: SeedOptions): Promise<SeedResult> {
  if (!Number.isInteger(options.count) || options.count < 1) throw new SeedError('count must be at least 1');
  const cash = options.cash ?? DEFAULT_CASH;
  const positions = options.positions ?? DEFAULT_POSITIONS;
  const concurrency = options.concurrency ?? 4;
  const planned = plannedAccounts(options);
  const progress: SeedProgress = { done: 0, total: planned.length, created: 0, existing: 0 };

  const accounts = await eachLimited(planned, concurrency, async (account) => {
    const first = account.account_id === `acc-${account.username}`;
    const created = await openAccount(options.accountsUrl, {
      account_id: account.account_id,
      owner: account.username,
      // the customer comes with their first account; the others are opened for them
      ...(first ? { password: account.password } : {}),
      cash,
      positions,
    });
    progress.done++;
    if (created) progress.created++;
    else progress.existing++;
    options.onProgress?.({ ...progress });
    return { ...account, created };
  });

  if (options.signIn) {
    if (!options.gatewayUrl) throw new SeedError('signIn needs gatewayUrl');
    const gatewayUrl = options.gatewayUrl;
    const customers = [...new Map(accounts.map((a) => [a.username, a.password])).entries()];
    const tokens = new Map(
      await eachLimited(customers, concurrency, async ([username, password]) => {
        const { token, expiresAt } = await signIn(gatewayUrl, username, password);
        return [username, { token, expiresAt }] as const;
      }),
    );
    for (const account of accounts) {
      const signedIn = tokens.get(account.username);
      account.token = signedIn?.token;
      account.token_expires_at = signedIn?.expiresAt;
    }
  }
  return { accounts, created: progress.created, existing: progress.existing };
}

/** Writes the credentials k6 and siege read: JSON (an array) or CSV (username,password,account_id). */
export async function writeCredentials(path: string, accounts: readonly SeededAccount[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const rows = accounts.map(({ username, password, account_id }) => ({ username, password, account_id }));
  const text = path.endsWith('.csv')
    ? `username,password,account_id\n${rows.map((r) => `${r.username},${r.password},${r.account_id}`).join('\n')}\n`
    : `${JSON.stringify(rows, null, 2)}\n`;
  await writeFile(path, text, { mode: 0o600 });
}
