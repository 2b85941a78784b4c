// `pnpm seed`: funded demo customers for load tests, and the credentials file k6 and siege read.
// The work is load/seed.ts's seedAccounts; this is its command line.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CASH, DEFAULT_SYMBOLS, seedAccounts, writeCredentials } from '../load/seed.ts';

const root = join(import.meta.dirname, '..');
const usage = `pnpm seed [options]
  --accounts N         customers to create (default 100), each with a funded account
  --prefix P           usernames P-1…P-N, accounts acc-P-1… (default "load")
  --per-customer K     accounts per customer (default 1): acc-P-n, acc-P-n-2, …
  --cash AMOUNT        cash in each account (default ${DEFAULT_CASH})
  --shares Q           shares of each symbol in each account (default 100000)
  --symbols A,B        which symbols (default ${DEFAULT_SYMBOLS.join(',')})
  --concurrency C      requests at once (default 4)
  --out FILE           credentials file, .json or .csv (default load/k6/credentials.json)
  --tokens             also sign each customer in and print "username account_id token" lines
  --accounts-url URL   account-transactions (default http://127.0.0.1:8082)
  --gateway-url URL    the gateway (default http://127.0.0.1:8080)
Safe to run again: accounts that exist already are counted, not created twice.`;

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '100' },
    prefix: { type: 'string', default: 'load' },
    'per-customer': { type: 'string', default: '1' },
    cash: { type: 'string', default: DEFAULT_CASH },
    shares: { type: 'string', default: '100000' },
    symbols: { type: 'string', default: DEFAULT_SYMBOLS.join(',') },
    concurrency: { type: 'string', default: '4' },
    out: { type: 'string', default: join(root, 'load', 'k6', 'credentials.json') },
    tokens: { type: 'boolean', default: false },
    'accounts-url': { type: 'string', default: 'http://127.0.0.1:8082' },
    'gateway-url': { type: 'string', default: 'http://127.0.0.1:8080' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}

const count = Number(values.accounts);
const started = performance.now();
let lastPrinted = 0;
try {
  const result = await seedAccounts({
    accountsUrl: values['accounts-url'],
    gatewayUrl: values['gateway-url'],
    count,
    prefix: values.prefix,
    accountsPerCustomer: Number(values['per-customer']),
    cash: values.cash,
    positions: values.symbols.split(',').map((symbol) => ({ symbol, quantity: Number(values.shares) })),
    concurrency: Number(values.concurrency),
    signIn: values.tokens,
    onProgress: ({ done, total, created, existing }) => {
      const now = performance.now();
      if (done === total || now - lastPrinted > 1000) {
        lastPrinted = now;
        console.error(`seeded ${done}/${total} accounts (${created} created, ${existing} there already)`);
      }
    },
  });
  await writeCredentials(values.out, result.accounts);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.error(
    `${result.accounts.length} accounts of ${count} customers in ${seconds} s: ${result.created} created, ` +
      `${result.existing} there already; credentials in ${values.out}`,
  );
  if (values.tokens) {
    for (const a of result.accounts) console.log(`${a.username} ${a.account_id} ${a.token}`);
  }
} catch (error) {
  console.error(`pnpm seed: ${(error as Error).message}`);
  if ((error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED')
    console.error('Is the system running? Start it with `pnpm start` in another terminal.');
  process.exit(1);
}
