// The book's siege run (ch.7 §7.4: `siege -c20 -t300S` against POST /shares/sell), ready to paste.
// Seeds one siege customer with one account per simulated user, signs in, writes
// load/siege/urls.txt (siege's `URL POST <body>` lines) and prints the siege command with the token.
//   pnpm -s siege:prepare [--concurrency 20] [--time 300S] [--gateway-url …] [--accounts-url …]
// siege sends one set of headers with every URL, so one customer (one bearer token) owns all the
// accounts; the lines spread the sells over them so that no one account's ledger rows are the hot spot.
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SYMBOLS, seedAccounts } from '../seed.ts';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '20' },
    time: { type: 'string', default: '300S' },
    prefix: { type: 'string', default: 'siege' },
    out: { type: 'string', default: join(import.meta.dirname, 'urls.txt') },
    'gateway-url': { type: 'string', default: 'http://127.0.0.1:8080' },
    'accounts-url': { type: 'string', default: 'http://127.0.0.1:8082' },
  },
});
const users = Number(values.concurrency);

// Shares for the longest siege: 1,000,000 of each symbol per account is 5 million sells of one
// share per account; cash pays every sell's fee.
const { accounts } = await seedAccounts({
  accountsUrl: values['accounts-url'],
  gatewayUrl: values['gateway-url'],
  count: 1,
  prefix: values.prefix,
  accountsPerCustomer: users,
  cash: '100000000.00',
  positions: DEFAULT_SYMBOLS.map((symbol) => ({ symbol, quantity: 1_000_000 })),
  signIn: true,
});

const gateway = values['gateway-url'].replace(/\/+$/, '');
const lines = DEFAULT_SYMBOLS.flatMap((symbol) =>
  accounts.map(
    (a) => `${gateway}/shares/sell POST ${JSON.stringify({ account_id: a.account_id, symbol, quantity: 1 })}`,
  ),
);
await writeFile(values.out, `${lines.join('\n')}\n`);

const [first] = accounts;
const minutes = Math.floor(((first?.token_expires_at ?? 0) - Date.now()) / 60000);
const urls = relative(process.cwd(), values.out);
console.error(
  `${accounts.length} accounts of customer ${first?.username}, ${lines.length} URLs in ${urls}; ` +
    `the token is good for ${minutes} more minutes. Run:`,
);
console.log(
  `siege -c${users} -t${values.time} -f ${urls} --content-type application/json ` +
    `-H "Authorization: Bearer ${first?.token}"`,
);
