/**
 * Hostile input at the gateway: fast-check generates malformed and hostile requests (wrong types,
 * huge, zero and negative quantities, unicode, oversized bodies, wrong content types, missing and
 * forged tokens, other customers' ids, replayed idempotency keys, …) and each one must get the
 * documented answer: no 5xx, the `{ error: { code, message } }` shape, the code documented for
 * that case (README, "The public API" and "Security"). Around the whole suite, the accounts and
 * order lists involved must not change.
 *
 * Every property runs from a fixed seed (printed); `HOSTILE_SEED=<n>` runs another, and a failure
 * prints fast-check's own seed and path to replay exactly that run.
 */
import { randomUUID } from 'node:crypto';
import { handlerQueue, ParkingLot } from '@simplebank/chassis';
import { publishEvent, publishRaw, waitFor } from '@simplebank/chassis/testing';
import { type Account, type Order, TradeExecuted } from '@simplebank/contracts';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  badQuantity,
  badValue,
  foreignAccount,
  hostileString,
  hostileUrlString,
  json,
  unknownSymbol,
} from './hostile/arbitraries.ts';
import {
  fail,
  hostile,
  type Outcome,
  ok,
  parseJson,
  property,
  SEED,
  sent,
  totalSent,
} from './hostile/judge.ts';
import {
  ACCOUNT_ID,
  BODY_LIMIT,
  codePoints,
  feeVerdict,
  IDEMPOTENCY_KEY,
  isObject,
  isPlaceOrder,
  ordersVerdict,
  type Params,
  queryText,
  readJson,
  SYMBOLS,
  shareVerdict,
  USERNAME,
  UUID_FORMAT,
  wellFormed,
  wellFormedParams,
} from './hostile/oracle.ts';
import { type HostileRequest, send } from './hostile/raw-http.ts';
import { base64url, goodClaims, HEADER_SAFE, JWT_SECRET, nowSeconds, signToken } from './hostile/tokens.ts';
import {
  accountWithoutHolds,
  call,
  cents,
  newAccount,
  placeOrder,
  settled,
  signIn,
  tokenOf,
  url,
} from './system.ts';

// ---------------------------------------------------------------------------------------------
// The system under test: an attacker, a victim, and the demo customers.

interface Snapshot {
  accounts: Record<
    string,
    { cash: Account['cash']; positions: { symbol: string; quantity: number; reserved: number }[] }
  >;
  orders: Record<
    string,
    { order_id: string; status: string; side: string; symbol: string; quantity: number }[]
  >;
}

let attacker: string;
let victim: string;
let attackerOrder: string;
let victimOrder: string;
const demoTokens = new Map<string, string>();
let before: Snapshot;

const KEY = randomUUID(); // the attacker's key of a placed order
const KEY_REFUSED = randomUUID(); // the attacker's key of a refused order (422 unknown_account)
const keyedBody = () => ({ account_id: attacker, symbol: 'GLOBEX', quantity: 1 });
const refusedBody = () => ({ account_id: victim, symbol: 'ACME', quantity: 1 });
let refusedAnswer: unknown;

const ownerToken = (accountId: string) => demoTokens.get(accountId) ?? tokenOf(accountId);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const asAttacker = () => bearer(tokenOf(attacker));

/** The accounts and orders involved, as their owners see them; current values left out (prices walk). */
async function snapshot(): Promise<Snapshot> {
  const state: Snapshot = { accounts: {}, orders: {} };
  for (const accountId of [attacker, victim, 'acc-alice', 'acc-bob']) {
    const token = ownerToken(accountId);
    const account = await call<Account>(url.gateway, 'GET', `/accounts/${accountId}`, undefined, { token });
    const list = await call<{ orders: Order[]; next_cursor: string | null }>(
      url.gateway,
      'GET',
      `/orders?account_id=${accountId}&limit=100`,
      undefined,
      { token },
    );
    if (account.status !== 200 || list.status !== 200)
      throw new Error(`snapshot of ${accountId}: ${account.status}, ${list.status}`);
    if (list.body.next_cursor !== null) throw new Error(`${accountId} has more than 100 orders`);
    state.accounts[accountId] = {
      cash: account.body.cash,
      positions: account.body.positions.map(({ symbol, quantity, reserved }) => ({
        symbol,
        quantity,
        reserved,
      })),
    };
    state.orders[accountId] = list.body.orders.map(({ order_id, status, side, symbol, quantity }) => ({
      order_id,
      status,
      side,
      symbol,
      quantity,
    }));
  }
  return state;
}

/** A snapshot once nothing is moving: no holds, every order finished (retried while an upstream recovers). */
const settledSnapshot = () =>
  waitFor(
    'the accounts to settle',
    async () => {
      const state = await snapshot();
      const moving =
        Object.values(state.accounts).some(
          (a) => a.cash.reserved !== '0.00' || a.positions.some((p) => p.reserved !== 0),
        ) ||
        Object.values(state.orders).some((orders) =>
          orders.some((o) => o.status === 'created' || o.status === 'placed'),
        );
      return moving ? undefined : state;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );

beforeAll(async () => {
  console.log(
    `hostile input: fast-check seed ${SEED} (property n runs with seed ${SEED} + n; HOSTILE_SEED=<n> to change it)`,
  );
  attacker = await newAccount('1000.00', [
    { symbol: 'ACME', quantity: 10 },
    { symbol: 'GLOBEX', quantity: 5 },
  ]);
  victim = await newAccount('5000.00', [
    { symbol: 'ACME', quantity: 50 },
    { symbol: 'INITECH', quantity: 20 },
  ]);
  demoTokens.set('acc-alice', await signIn('alice', 'alice-password'));
  demoTokens.set('acc-bob', await signIn('bob', 'bob-password'));

  victimOrder = await placeOrder('sell', victim, 'ACME', 1);
  attackerOrder = await placeOrder('sell', attacker, 'GLOBEX', 1, { 'idempotency-key': KEY });
  const refused = await call(url.gateway, 'POST', '/shares/buy', refusedBody(), {
    token: tokenOf(attacker),
    headers: { 'idempotency-key': KEY_REFUSED },
  });
  expect(refused).toMatchObject({ status: 422, body: { error: { code: 'unknown_account' } } });
  refusedAnswer = refused.body;
  expect((await settled(victimOrder)).status).toBe('executed');
  expect((await settled(attackerOrder)).status).toBe('executed');
  await accountWithoutHolds(attacker);
  await accountWithoutHolds(victim);

  // the control for the forged tokens: a token signed here with good claims is accepted, so the
  // tokens below are refused for what they get wrong, not for the key they are signed with
  const control = await send({
    method: 'GET',
    path: `/accounts/${attacker}`,
    headers: bearer(signToken({ alg: 'HS256', typ: 'JWT' }, goodClaims(attacker))),
  });
  expect(control.status, 'a token signed with JWT_SECRET is accepted').toBe(200);

  before = await settledSnapshot();
}, 120_000);

afterAll(() => {
  const lines = [...sent.entries()].map(([category, { requests, statuses }]) => {
    const seen = [...statuses.entries()].map(([status, count]) => `${status} ×${count}`).join(', ');
    return `  ${category.padEnd(50)} ${String(requests).padStart(5)}   ${seen}`;
  });
  const all = new Map<string, number>();
  for (const { statuses } of sent.values())
    for (const [status, count] of statuses) all.set(status, (all.get(status) ?? 0) + count);
  const overall = [...all.entries()]
    .sort()
    .map(([status, count]) => `${status} ×${count}`)
    .join(', ');
  console.log(
    `hostile requests sent (seed ${SEED}):\n${lines.join('\n')}\n  ${'total'.padEnd(50)} ${String(totalSent()).padStart(5)}   ${overall}`,
  );
});

// ---------------------------------------------------------------------------------------------

describe('hostile input at the gateway', { timeout: 180_000 }, () => {
  it('POST /shares: wrong types and values in each field, missing and extra fields → 400', async () => {
    const side = fc.constantFrom('sell', 'buy');
    const valid = () =>
      fc.record({
        account_id: fc.constant(attacker),
        symbol: fc.constantFrom(...SYMBOLS),
        quantity: fc.integer({ min: 1, max: 1_000_000 }),
      });
    const extraKey = fc.oneof(
      fc.constantFrom(
        'price',
        'limit_price',
        'owner',
        'customer',
        'order_id',
        'fee',
        'side',
        '__proto__',
        'constructor',
        'Quantity',
        'quantity ',
      ),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
    );
    const body = fc.oneof(
      { arbitrary: fc.tuple(valid(), badQuantity).map(([b, quantity]) => ({ ...b, quantity })), weight: 5 },
      {
        arbitrary: fc
          .tuple(valid(), fc.constantFrom('account_id', 'symbol', 'quantity'), badValue)
          .map(([b, field, value]) => ({ ...b, [field]: value })),
        weight: 5,
      },
      {
        arbitrary: fc
          .tuple(valid(), fc.subarray(['account_id', 'symbol', 'quantity'], { minLength: 1 }))
          .map(([b, missing]) => Object.fromEntries(Object.entries(b).filter(([k]) => !missing.includes(k)))),
        weight: 2,
      },
      {
        arbitrary: fc
          .tuple(valid(), fc.dictionary(extraKey, fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 4 }))
          .map(([b, extra]) => {
            const out: Record<string, unknown> = { ...b };
            for (const [k, v] of Object.entries(extra))
              if (!(k in b))
                Object.defineProperty(out, k, {
                  value: v,
                  enumerable: true,
                  writable: true,
                  configurable: true,
                });
            return out;
          }),
        weight: 2,
      },
      {
        arbitrary: fc.oneof(
          fc.constantFrom(null, [], {}, '', 0, true, 'ACME'),
          fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
          valid().map((b) => [b]),
          fc.jsonValue({ maxDepth: 3 }),
          fc.object({ maxDepth: 2 }),
        ),
        weight: 2,
      },
    );
    const cases = fc
      .tuple(side, body)
      .map(([s, b]) => ({ s, text: JSON.stringify(b) ?? 'null' }))
      .filter(({ text }) => Buffer.byteLength(text) <= BODY_LIMIT && !isPlaceOrder(parseJson(text)))
      .map(({ s, text }) =>
        hostile(
          { method: 'POST', path: `/shares/${s}`, headers: { ...asAttacker(), ...json }, body: text },
          shareVerdict(text, attacker),
        ),
      );
    await property('body: wrong types and values', cases, 400);
  });

  it('POST /shares: malformed JSON text, odd number spellings, duplicate keys, bad UTF-8 → 400 or 422', async () => {
    const account = foreignAccount(victim);
    const template = fc
      .tuple(account, fc.constantFrom(...SYMBOLS))
      .map(([a, s]) => `{"account_id":${JSON.stringify(a)},"symbol":"${s}","quantity":`);
    const numberText = fc.oneof(
      fc.constantFrom(
        '1.0',
        '1E2',
        '1e+2',
        '0.1e1',
        '-0',
        '01',
        '1e400',
        '-1e400',
        '1e-400',
        '100000000000000000000000001',
        '9007199254740993',
        '1000000.0000000001',
        '1_000',
        '0x10',
        '+1',
        '.5',
        '1.',
        'NaN',
        'Infinity',
        '"1"',
        'true',
        'null',
        '[1]',
      ),
      fc.integer({ min: -5, max: 2_000_000 }).map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
    );
    const garbageChar = fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      ':',
      ',',
      '"',
      '\\',
      '1',
      'e',
      '-',
      '.',
      'n',
      'u',
      'l',
      't',
      ' ',
      '\n',
      'a',
      '\u0000',
      '\ud800',
      '😀',
    );
    const text = fc.oneof(
      fc.tuple(template, numberText).map(([t, n]) => `${t}${n}}`),
      fc.tuple(template, numberText).map(([t, n]) => `${t}5,"quantity":${n}}`),
      fc.tuple(template, numberText).map(([t, n]) => `${t}${n},}`),
      fc.tuple(template, numberText).map(([t, n]) => `${t}${n}}}`),
      fc.tuple(template, numberText).map(([t, n]) => `\ufeff${t}${n}}`),
      fc.tuple(template, numberText).map(([t, n]) => `${t}${n}`),
      fc.tuple(template, fc.nat()).map(([t, cut]) => `${t}1}`.slice(0, cut % (t.length + 2))),
      fc.array(garbageChar, { maxLength: 60 }).map((chars) => chars.join('')),
      fc.constantFrom(
        '',
        ' ',
        '\n',
        'nul',
        "{'account_id':'x'}",
        '{account_id:"x"}',
        '{"a":1,}',
        '[1,2',
        '{"quantity":01}',
        '{"__proto__":{"admin":true},"account_id":"x","symbol":"ACME","quantity":1}',
        '{"constructor":{"prototype":{"admin":true}},"account_id":"x","symbol":"ACME","quantity":1}',
        '{"\\u005f_proto__":{}}',
        '"\\ud800"',
        `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
        `{"a":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
      ),
    );
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
      fc
        .tuple(template, fc.uint8Array({ minLength: 1, maxLength: 6 }))
        .map(([t, b]) => Buffer.concat([Buffer.from(`${t}1,"x":"`), Buffer.from(b), Buffer.from('"}')])),
    );
    const cases = fc
      .tuple(
        fc.constantFrom('sell', 'buy'),
        fc.oneof({ arbitrary: text, weight: 4 }, { arbitrary: bytes, weight: 1 }),
      )
      .map(([side, body]) =>
        hostile(
          { method: 'POST', path: `/shares/${side}`, headers: { ...asAttacker(), ...json }, body },
          shareVerdict(body, attacker),
        ),
      );
    await property('body: raw and malformed JSON text', cases, 150);
  });

  it("POST /shares: unknown symbols, other customers' and unknown accounts → 422", async () => {
    const cases = fc
      .record({
        side: fc.constantFrom('sell', 'buy'),
        account_id: fc.oneof(fc.constant(attacker), foreignAccount(victim)),
        symbol: fc.oneof(fc.constantFrom(...SYMBOLS), unknownSymbol),
        quantity: fc.oneof(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(1, 1_000_000)),
      })
      .filter((b) => b.account_id !== attacker || !SYMBOLS.includes(b.symbol))
      .map(({ side, ...b }) => {
        const text = JSON.stringify(b);
        return hostile(
          { method: 'POST', path: `/shares/${side}`, headers: { ...asAttacker(), ...json }, body: text },
          shareVerdict(text, attacker),
        );
      });
    await property('body: unknown symbol or not own account', cases, 150);
  });

  it('POST /shares: bodies over 64 KiB → 413, even when they would be a valid order', async () => {
    const own = () => JSON.stringify({ account_id: attacker, symbol: 'ACME', quantity: 1 });
    const cases = fc
      .record({
        side: fc.constantFrom('sell', 'buy'),
        size: fc.integer({ min: BODY_LIMIT + 1, max: 256 * 1024 }),
        shape: fc.constantFrom('padded valid order', 'huge field', 'huge array', 'garbage'),
        contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain'),
        chunked: fc.boolean(),
      })
      .map(({ side, size, shape, contentType, chunked }) => {
        const body =
          shape === 'padded valid order'
            ? `${' '.repeat(size - own().length)}${own()}`
            : shape === 'huge field'
              ? JSON.stringify({ account_id: attacker, symbol: 'ACME', quantity: 1, note: 'x'.repeat(size) })
              : shape === 'huge array'
                ? JSON.stringify(Array.from({ length: Math.ceil(size / 2) }, () => 1))
                : 'ÿ'.repeat(Math.ceil(size / 2));
        return hostile(
          {
            method: 'POST',
            path: `/shares/${side}`,
            headers: { ...asAttacker(), 'content-type': contentType },
            body,
            chunked,
          },
          [fail(413, 'payload_too_large')],
        );
      });
    await property('body: oversized', cases, 40);
  });

  it('POST /shares: a valid order in another media type → 415 (text/plain: 400, a string is no order)', async () => {
    const token = fc.stringMatching(/^[a-z0-9][a-z0-9.+-]{0,15}$/);
    const unsupported = fc.oneof(
      fc.constantFrom(
        'application/xml',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/jsonx',
        'application/json-patch+json',
        'application/vnd.api+json',
        'application/octet-stream',
        'application/json, text/plain',
        'application/json garbage',
        'text/html',
        'text/json',
        'image/png',
        '*/*',
        'application/*',
        'json',
        '',
      ),
      fc
        .tuple(
          fc.constantFrom('application', 'text', 'image', 'multipart', 'x'),
          token,
          fc.constantFrom('', '; charset=utf-8'),
        )
        .filter(
          ([type, subtype]) =>
            `${type}/${subtype}` !== 'application/json' && `${type}/${subtype}` !== 'text/plain',
        )
        .map(([type, subtype, parameter]) => `${type}/${subtype}${parameter}`),
    );
    const plain = fc.constantFrom('text/plain', 'TEXT/PLAIN', 'text/plain; charset=utf-8', 'Text/Plain;a');
    const cases = fc
      .tuple(
        fc.constantFrom('sell', 'buy'),
        fc.oneof(
          unsupported.map((contentType) => ({
            contentType,
            expected: [fail(415, 'unsupported_media_type')],
          })),
          plain.map((contentType) => ({ contentType, expected: [fail(400, 'validation_failed')] })),
          fc.constant<{ contentType: string | undefined; expected: Outcome[] }>({
            contentType: undefined,
            expected: [fail(415, 'unsupported_media_type')],
          }),
        ),
      )
      .map(([side, { contentType, expected }]) =>
        hostile(
          {
            method: 'POST',
            path: `/shares/${side}`,
            headers: {
              ...asAttacker(),
              ...(contentType === undefined ? {} : { 'content-type': contentType }),
            },
            // the attacker's own valid order: if the media type were let through, it would be placed
            body: JSON.stringify({ account_id: attacker, symbol: 'ACME', quantity: 1 }),
          },
          expected,
        ),
      );
    await property('body: wrong content type', cases, 80);
  });

  it('GET /fees/estimate: wrong, missing, repeated and extra parameters → 400 (422 unknown_symbol)', async () => {
    // mostly well-formed values, so that some requests are answered 200 or 422 and the oracle
    // is tested on both sides of the line; repeats and extra parameters now and then
    const value = (good: fc.Arbitrary<string>) =>
      fc.oneof(
        { arbitrary: good, weight: 6 },
        { arbitrary: hostileUrlString, weight: 1 },
        { arbitrary: fc.string(), weight: 1 },
      );
    const rarely = <T>(arbitrary: fc.Arbitrary<T>) =>
      fc.oneof({ arbitrary: fc.constant(undefined), weight: 5 }, { arbitrary, weight: 1 });
    const quantity = fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: 1_000_000 }).map(String), weight: 4 },
      fc.constantFrom(
        '0',
        '-1',
        '1000001',
        '9007199254740993',
        '1e308',
        '1e3',
        '0x10',
        '1.5',
        ' 7 ',
        '',
        'Infinity',
        'NaN',
        'true',
        '[]',
      ),
      fc.double().map(String),
    );
    const params = fc
      .record({
        side: fc.option(value(fc.constantFrom('sell', 'buy', 'sell', 'buy', 'SELL', 'short', 'sell ')), {
          nil: undefined,
          freq: 10,
        }),
        symbol: fc.option(
          value(fc.oneof(fc.constantFrom(...SYMBOLS), unknownSymbol, fc.constantFrom('CASH', 'acme'))),
          { nil: undefined, freq: 10 },
        ),
        quantity: fc.option(value(quantity), { nil: undefined, freq: 10 }),
        repeated: rarely(fc.constantFrom('side', 'symbol', 'quantity')),
        extra: rarely(
          fc.tuple(
            fc.oneof(
              fc.constantFrom('price', 'account_id', '__proto__', 'constructor', 'side[]'),
              fc.string({ minLength: 1, maxLength: 10 }),
            ),
            fc.string(),
          ),
        ),
        token: fc.constantFrom('none', 'attacker', 'garbage'),
      })
      .map(({ side, symbol, quantity: q, repeated, extra, token }) => {
        let list: Params = [];
        if (side !== undefined) list.push(['side', side]);
        if (symbol !== undefined) list.push(['symbol', symbol]);
        if (q !== undefined) list.push(['quantity', q]);
        if (repeated !== undefined) list.push([repeated, list.find(([n]) => n === repeated)?.[1] ?? 'x']);
        if (extra !== undefined) list.push(extra);
        list = wellFormedParams(list);
        const headers = token === 'attacker' ? asAttacker() : token === 'garbage' ? bearer('garbage') : {};
        return hostile(
          { method: 'GET', path: `/fees/estimate?${queryText(list)}`, headers },
          feeVerdict(list),
        );
      });
    await property('query: GET /fees/estimate', params, 200);
  });

  it("GET /orders: bad account ids, limits and cursors, other customers' accounts → 400 / 404", async () => {
    const cursor = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,80}$/),
      fc.integer({ min: 257, max: 600 }).map((n) => 'A'.repeat(n)),
      hostileUrlString,
      fc.jsonValue().map((v) => base64url(v)),
      fc.tuple(fc.string(), fc.uuid()).map(([at, id]) => base64url([at, id])),
      fc.uuid().map((id) => Buffer.from(JSON.stringify(['2020-01-01T00:00:00.000Z', id])).toString('base64')),
    );
    const params = fc
      .record({
        account_id: fc.option(
          fc.oneof(
            { arbitrary: fc.constant(attacker), weight: 2 },
            { arbitrary: foreignAccount(victim), weight: 3 },
            { arbitrary: hostileUrlString, weight: 2 },
          ),
          { nil: undefined, freq: 10 },
        ),
        limit: fc.option(
          fc.oneof(
            { arbitrary: fc.integer({ min: 1, max: 100 }).map(String), weight: 3 },
            fc.constantFrom('0', '-1', '101', '1.5', '1e2', 'abc', '', ' ', '9007199254740993', 'Infinity'),
            hostileUrlString,
          ),
          { nil: undefined, freq: 2 },
        ),
        // a cursor or an extra parameter now and then (most are refused, which would hide the rest)
        cursor: fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: cursor, weight: 1 }),
        extra: fc.oneof(
          { arbitrary: fc.constant(undefined), weight: 6 },
          {
            arbitrary: fc.tuple(
              fc.constantFrom('owner', 'account_id', 'limit', 'offset', '__proto__'),
              fc.string(),
            ),
            weight: 1,
          },
        ),
      })
      .map(({ account_id, limit, cursor: c, extra }) => {
        let list: Params = [];
        if (account_id !== undefined) list.push(['account_id', account_id]);
        if (limit !== undefined) list.push(['limit', limit]);
        if (c !== undefined) list.push(['cursor', c]);
        if (extra !== undefined) list.push(extra);
        list = wellFormedParams(list);
        return hostile(
          { method: 'GET', path: `/orders?${queryText(list)}`, headers: asAttacker() },
          ordersVerdict(list, attacker),
        );
      });
    await property('query: GET /orders', params, 150);
  });

  it('GET/DELETE /orders/{id}, GET /accounts/{id}: bad ids, traversal, unicode, other customers → 400 / 404', async () => {
    const uuidLike = fc.oneof(
      fc.uuid(),
      fc.uuid().map((id) => id.toUpperCase()),
      fc.constantFrom(
        victimOrder,
        victimOrder.toUpperCase(),
        attackerOrder,
        attackerOrder.toUpperCase(),
        '00000000-0000-0000-0000-000000000000',
        `{${victimOrder}}`,
        victimOrder.replaceAll('-', ''),
        `${victimOrder}0`,
        `urn:uuid:${victimOrder}`,
        ` ${victimOrder}`,
      ),
    );
    const accountLike = fc.oneof(
      foreignAccount(victim),
      fc.constantFrom(attacker, attacker.toUpperCase(), `${attacker} `, `${attacker}\u0000`, `${attacker}/`),
    );
    const traversal = fc.constantFrom(
      '..',
      '.',
      '../accounts/acc-alice',
      `../orders/${victimOrder}`,
      '..%2faccounts%2facc-alice',
      '%2e%2e',
      '%2e%2e%2f%2e%2e%2fadmin',
      '....//',
      '..;/',
      '%00',
      'acc-alice%00',
      'acc-alice/',
      '/acc-alice',
      '',
      '%252e%252e',
      'acc-alice;x=1',
    );
    const encoded = (text: string) => ({
      raw: encodeURIComponent(wellFormed(text)),
      decoded: wellFormed(text),
    });
    const segment = fc.oneof(
      { arbitrary: uuidLike.map(encoded), weight: 3 },
      { arbitrary: accountLike.map(encoded), weight: 3 },
      { arbitrary: hostileUrlString.map(encoded), weight: 3 },
      { arbitrary: traversal.map((raw) => ({ raw, decoded: decodeURIComponent(raw) })), weight: 2 },
    );
    const route = fc.constantFrom('GET /orders/', 'DELETE /orders/', 'GET /accounts/', 'wrong');
    const wrong = fc.constantFrom(
      'POST /orders/x',
      'PUT /accounts/acc-alice',
      'DELETE /accounts/acc-alice',
      'PATCH /orders/x',
      'GET /shares/sell',
      'PUT /shares/buy',
      'GET /admin/faults',
      'PUT /admin/faults',
      'GET /orders/x/history',
      'GET /accounts/acc-alice/orders',
      'OPTIONS /shares/sell',
      'GET /Accounts/acc-alice',
      'GET /%2e%2e/admin/faults',
    );
    // a segment past find-my-way's 100 characters is the malformed-path property's (below)
    const cases = fc
      .tuple(
        route,
        segment.filter(({ raw }) => raw.length <= 100),
        wrong,
      )
      .map(([r, { raw, decoded }, w]) => {
        if (r === 'wrong') {
          const [method = 'GET', path = '/'] = w.split(' ');
          return hostile({ method, path, headers: asAttacker() }, [fail(404, 'not_found')]);
        }
        const [method = 'GET', prefix = '/'] = r.split(' ');
        const path = `${prefix}${raw}`;
        let expected: Outcome[];
        // a `/` makes it another route
        if (raw.includes('/')) expected = [fail(404, 'not_found')];
        else if (prefix === '/accounts/') {
          if (!ACCOUNT_ID.test(decoded)) expected = [fail(400, 'validation_failed')];
          else expected = decoded === attacker ? [ok()] : [fail(404, 'unknown_account')];
        } else if (!UUID_FORMAT.test(decoded) || codePoints(decoded) > 36)
          expected = [fail(400, 'validation_failed')];
        else if (decoded.toLowerCase() !== attackerOrder) expected = [fail(404, 'order_not_found')];
        else expected = method === 'GET' ? [ok()] : [fail(409, 'order_not_cancelable')];
        return hostile({ method, path, headers: asAttacker() }, expected);
      });
    await property('path: /orders/{id}, /accounts/{id}, wrong routes', cases, 250);
  });

  it('tokens: missing, garbage, other schemes, forged, expired, alg none → 401 on every protected route', async () => {
    const secretElsewhere = fc.string({ minLength: 1, maxLength: 64 }).filter((s) => s !== JWT_SECRET);
    const sub = fc.constantFrom(attacker, victim, 'alice', 'bob');
    const forged = fc.oneof(
      fc
        .tuple(sub, secretElsewhere)
        .map(([s, secret]) => signToken({ alg: 'HS256', typ: 'JWT' }, goodClaims(s), secret)),
      fc
        .tuple(sub, fc.integer({ min: 1, max: 10 ** 9 }))
        .map(([s, ago]) => signToken({ alg: 'HS256' }, { ...goodClaims(s), exp: nowSeconds() - ago })),
      fc
        .tuple(sub, fc.constantFrom('', 'sig', 'AAAA'))
        .map(([s, sig]) => `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(goodClaims(s))}.${sig}`),
      fc
        .tuple(sub, fc.constantFrom('none', 'None', 'NONE', 'nOnE'))
        .map(([s, alg]) => `${base64url({ alg })}.${base64url(goodClaims(s))}.`),
      fc
        .tuple(
          sub,
          fc.constantFrom(
            ['HS384', 'sha384'],
            ['HS512', 'sha512'],
            ['RS256', 'sha256'],
            ['ES256', 'sha256'],
            ['PS256', 'sha256'],
          ),
        )
        .map(([s, [alg, hash]]) => signToken({ alg }, goodClaims(s), JWT_SECRET, hash)),
      fc.tuple(sub, fc.constantFrom('sub', 'exp', 'iat', 'iss', 'aud')).map(([s, claim]) => {
        const claims: Record<string, unknown> = goodClaims(s);
        delete claims[claim];
        return signToken({ alg: 'HS256' }, claims);
      }),
      fc
        .tuple(
          sub,
          fc.constantFrom(
            { iss: 'someone-else' },
            { aud: 'another-api' },
            { aud: [] },
            { sub: '' },
            { sub: '../acc-alice' },
            { sub: 'alice bob' },
            { sub: 'ålice' },
            { sub: 'x'.repeat(65) },
            { sub: 42 },
            { sub: null },
            { exp: 'never' },
            { exp: null },
            { iat: 'now' },
            { nbf: 4_102_444_800 },
          ),
        )
        .map(([s, change]) => signToken({ alg: 'HS256' }, { ...goodClaims(s), ...change })),
      sub.map((s) => signToken({ alg: 'HS256', crit: ['exp'] }, goodClaims(s))),
      // a real token with its claims swapped for the victim's, or a signature character changed
      fc.constant(0).map(() => {
        const [header, , signature] = signToken({ alg: 'HS256' }, goodClaims(attacker)).split('.');
        return `${header}.${base64url(goodClaims(victim))}.${signature}`;
      }),
      fc.nat({ max: 41 }).map((at) => {
        const token = signToken({ alg: 'HS256' }, goodClaims(attacker));
        const dot = token.lastIndexOf('.') + 1;
        const old = token[dot + at];
        return `${token.slice(0, dot + at)}${old === 'A' ? 'B' : 'A'}${token.slice(dot + at + 1)}`;
      }),
    );
    const garbage = fc.oneof(
      fc.constantFrom(
        'a.b.c',
        '..',
        'a.b.c.d.e',
        'null',
        'undefined',
        'eyJhbGciOiJub25lIn0.e30.',
        '=',
        '%00',
      ),
      fc.string({ maxLength: 200 }).filter((s) => HEADER_SAFE.test(s)),
      fc.stringMatching(/^[A-Za-z0-9_-]{10,40}\.[A-Za-z0-9_-]{10,80}\.[A-Za-z0-9_-]{0,43}$/),
      fc.integer({ min: 4000, max: 12_000 }).map((n) => 'a'.repeat(n)),
    );
    const authorization = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        '',
        'Bearer',
        'Bearer ',
        'Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=',
        'Digest username="alice"',
        'Token abc',
      ),
      forged.map((t) => `Bearer ${t}`),
      forged.chain((t) =>
        fc.constantFrom(`Basic ${t}`, `Token ${t}`, `Bearer ${t}, Bearer ${t}`, `Bearer\t${t}`, t),
      ),
      garbage.map((t) => `Bearer ${t}`),
      fc.string({ maxLength: 100 }).filter((s) => HEADER_SAFE.test(s)),
    );
    const own = () => JSON.stringify({ account_id: attacker, symbol: 'ACME', quantity: 1 });
    const target = fc.constantFrom(
      'GET /accounts',
      'GET /accounts/own',
      'GET /accounts/victim',
      'GET /orders?own',
      'GET /orders/own',
      'DELETE /orders/victim',
      'POST /shares/sell',
      'POST /shares/buy keyed',
      'POST /shares/sell oversized',
      'POST /shares/buy xml',
      'POST /shares/sell malformed',
    );
    const cases = fc.tuple(authorization, target).map(([auth, t]) => {
      const headers: Record<string, string> = auth === undefined ? {} : { authorization: auth };
      const request = ((): HostileRequest => {
        switch (t) {
          case 'GET /accounts':
            return { method: 'GET', path: '/accounts', headers };
          case 'GET /accounts/own':
            return { method: 'GET', path: `/accounts/${attacker}`, headers };
          case 'GET /accounts/victim':
            return { method: 'GET', path: `/accounts/${victim}`, headers };
          case 'GET /orders?own':
            return { method: 'GET', path: `/orders?account_id=${attacker}`, headers };
          case 'GET /orders/own':
            return { method: 'GET', path: `/orders/${attackerOrder}`, headers };
          case 'DELETE /orders/victim':
            return { method: 'DELETE', path: `/orders/${victimOrder}`, headers };
          case 'POST /shares/sell':
            return { method: 'POST', path: '/shares/sell', headers: { ...headers, ...json }, body: own() };
          case 'POST /shares/buy keyed':
            return {
              method: 'POST',
              path: '/shares/buy',
              headers: { ...headers, ...json, 'idempotency-key': randomUUID() },
              body: own(),
            };
          case 'POST /shares/sell oversized':
            return {
              method: 'POST',
              path: '/shares/sell',
              headers: { ...headers, ...json },
              body: ' '.repeat(100_000) + own(),
            };
          case 'POST /shares/buy xml':
            return {
              method: 'POST',
              path: '/shares/buy',
              headers: { ...headers, 'content-type': 'application/xml' },
              body: '<a/>',
            };
          default:
            return {
              method: 'POST',
              path: '/shares/sell',
              headers: { ...headers, ...json },
              body: '{"account_id":',
            };
        }
      })();
      return hostile(request, [fail(401, 'unauthorized')]);
    });
    await property('token: missing, garbage, forged', cases, 200);
  });

  it('Idempotency-Key replayed with another body or side → 422 idempotency_key_reused; the same → the first answer', async () => {
    const cases = fc
      .record({
        key: fc.constantFrom('placed', 'refused'),
        side: fc.constantFrom('sell', 'buy'),
        same: fc.boolean(),
        account_id: fc.oneof(fc.constant(attacker), foreignAccount(victim)),
        symbol: fc.oneof(fc.constantFrom(...SYMBOLS), unknownSymbol),
        quantity: fc.integer({ min: 1, max: 1_000_000 }),
      })
      .map(({ key, side, same, ...changed }) => {
        const [first, firstSide, firstAnswer] =
          key === 'placed'
            ? [keyedBody(), 'sell', { order_id: attackerOrder, status: 'created' }]
            : [refusedBody(), 'buy', refusedAnswer];
        const body = same ? first : changed;
        const identical = side === firstSide && JSON.stringify(body) === JSON.stringify(first);
        const expected: Outcome[] = identical
          ? [
              {
                status: key === 'placed' ? 202 : 422,
                ...(key === 'placed' ? {} : { code: 'unknown_account' }),
                replay: firstAnswer,
              },
            ]
          : [fail(422, 'idempotency_key_reused')];
        return hostile(
          {
            method: 'POST',
            path: `/shares/${side}`,
            headers: { ...asAttacker(), ...json, 'idempotency-key': key === 'placed' ? KEY : KEY_REFUSED },
            body: JSON.stringify(body),
          },
          expected,
        );
      });
    await property('idempotency: replayed keys', cases, 120);
  });

  it('Idempotency-Key that is empty, too long or not printable ASCII → 400, even on a valid order', async () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 40,
    });
    const key = fc.oneof(
      fc.constantFrom('', ' ', '\t'),
      fc.integer({ min: 129, max: 2000 }).map((n) => 'k'.repeat(n)),
      fc
        .tuple(printable, fc.constantFrom(' ', '\t', 'é', 'ÿ', '\u0080', '\u00a0'), printable)
        .map(([a, bad, b]) => `${a || 'k'}${bad}${b || 'k'}`),
      fc.string({ unit: 'binary-ascii', maxLength: 60 }).filter((s) => HEADER_SAFE.test(s)),
    );
    const cases = fc
      .tuple(fc.constantFrom('sell', 'buy'), key)
      .filter(([, k]) => !IDEMPOTENCY_KEY.test(k.replace(/^[\t ]+|[\t ]+$/g, '')))
      .map(([side, k]) =>
        hostile(
          {
            method: 'POST',
            path: `/shares/${side}`,
            headers: { ...asAttacker(), ...json, 'idempotency-key': k },
            // the attacker's own valid order: only the key is wrong
            body: JSON.stringify({ account_id: attacker, symbol: 'ACME', quantity: 1 }),
          },
          [fail(400, 'validation_failed')],
        ),
      );
    await property('idempotency: invalid keys', cases, 60);
  });

  it('POST /auth/token: wrong types, unicode, long and wrong credentials → 400 / 401 invalid_credentials', async () => {
    const username = fc.oneof(
      fc.constantFrom('alice', 'bob', 'carol', victim, attacker, 'ALICE', 'alice ', 'admin', 'root'),
      fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/),
      hostileString,
      badValue,
    );
    const password = fc.oneof(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
      fc.integer({ min: 129, max: 5000 }).map((n) => 'p'.repeat(n)),
      fc.constantFrom('', "' OR '1'='1", 'alice-password ', 'ALICE-PASSWORD', '\u0000'),
      badValue,
    );
    const body = fc.oneof(
      { arbitrary: fc.record({ username, password }), weight: 6 },
      { arbitrary: fc.record({ username, password, admin: fc.constant(true) }), weight: 1 },
      { arbitrary: fc.record({ username }), weight: 1 },
      { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 },
    );
    const cases = body
      .map((b) => JSON.stringify(b) ?? 'null')
      .filter((text) => {
        const value = parseJson(text);
        // never the right password of a demo customer
        return !(isObject(value) && value.password === `${value.username}-password`);
      })
      .map((text) => {
        const value = readJson(text);
        let expected: Outcome[];
        if (!value.parsed) expected = [fail(400, 'malformed_json')];
        else {
          const v = value.value;
          const valid =
            isObject(v) &&
            Object.keys(v).sort().join() === 'password,username' &&
            typeof v.username === 'string' &&
            USERNAME.test(v.username) &&
            typeof v.password === 'string' &&
            codePoints(v.password) >= 1 &&
            codePoints(v.password) <= 128;
          expected = valid ? [fail(401, 'invalid_credentials')] : [fail(400, 'validation_failed')];
        }
        return hostile({ method: 'POST', path: '/auth/token', headers: json, body: text }, expected);
      });
    // sign-in has its own budget per IP address (AUTH_RATE_LIMIT_MAX, 300 a minute): stay well under it
    await property('body: POST /auth/token', cases, 60);
  });

  // Regression tests of the defects this suite found (all fixed):
  // - a cursor naming an instant before 4713 BC made orders' query fail in PostgreSQL (500 → the
  //   gateway's 503, and a handful opened its circuit breaker to orders for every customer);
  // - a path with malformed percent-encoding (FST_ERR_BAD_URL) or a segment over 100 characters
  //   (414 FST_ERR_MAX_PARAM_LENGTH) got fastify's own body instead of { error: { code, message } };
  // - an `x-deadline` header from outside was honoured: 504 deadline_exceeded (a near one: 503).
  // They run last, so that a breaker a regression trips has closed again before the final snapshot.

  it('GET /orders: a cursor forged in the canonical form, for any instant → 200 or 400, never 5xx', async () => {
    const cases = fc.tuple(fc.date({ noInvalidDate: true }), fc.uuid()).map(([at, id]) => {
      const cursor = base64url([at.toISOString(), id]);
      return hostile(
        { method: 'GET', path: `/orders?account_id=${attacker}&cursor=${cursor}`, headers: asAttacker() },
        [ok(), fail(400, 'validation_failed')],
      );
    });
    await property('query: GET /orders forged cursor', cases, 40);
  });

  const pathCases = (segments: fc.Arbitrary<string>) =>
    fc
      .tuple(fc.constantFrom('GET /orders/', 'DELETE /orders/', 'GET /accounts/'), segments)
      .map(([route, segment]) => {
        const [method = 'GET', prefix = '/'] = route.split(' ');
        return hostile({ method, path: `${prefix}${segment}`, headers: asAttacker() }, [
          fail(400, 'malformed_url'),
          fail(400, 'validation_failed'),
          fail(404, 'not_found'),
        ]);
      });

  it('paths with malformed percent-encoding → 400 malformed_url, in the error shape', async () => {
    const bad = fc.constantFrom(
      '%',
      '%F',
      '%G0',
      '%FF',
      '%C0%AF',
      '%ED%A0%80',
      '%E0%A4%A',
      '%uD800',
      '%%',
      '%-1',
    );
    const segments = fc
      .tuple(fc.stringMatching(/^[A-Za-z0-9-]{0,12}$/), bad, fc.stringMatching(/^[A-Za-z0-9-]{0,12}$/))
      .map(([before, b, after]) => `${before}${b}${after}`);
    await property('path: malformed percent-encoding', pathCases(segments), 30);
  });

  it('paths with a segment over 100 characters → 400 validation_failed or 404, in the error shape', async () => {
    const segments = fc.oneof(
      fc.integer({ min: 101, max: 3000 }).map((n) => 'a'.repeat(n)),
      hostileUrlString.map((text) => encodeURIComponent(wellFormed(text))).filter((raw) => raw.length > 100),
    );
    await property('path: segment over 100 characters', pathCases(segments), 30);
  });

  it('an x-deadline header from outside changes nothing: the same answer as without it', async () => {
    const deadline = fc.oneof(
      fc.integer({ min: -(10 ** 15), max: Date.now() - 60_000 }).map(String),
      fc.constantFrom('0', '1', '-1', '1e3', '0x10', '-Infinity', 'NaN', 'abc', '', ' '),
      fc.string({ maxLength: 30 }).filter((s) => HEADER_SAFE.test(s)),
    );
    const cases = fc
      .tuple(deadline, fc.constantFrom('GET /market/quotes', 'GET /accounts/own'))
      .map(([d, route]) =>
        hostile(
          route === 'GET /market/quotes'
            ? { method: 'GET', path: '/market/quotes', headers: { 'x-deadline': d } }
            : { method: 'GET', path: `/accounts/${attacker}`, headers: { ...asAttacker(), 'x-deadline': d } },
          [ok()],
        ),
      );
    await property('header: x-deadline', cases, 30);
  });

  it('sent at least 1,000 hostile requests, and nothing changed: cash, positions, orders', async () => {
    expect(totalSent()).toBeGreaterThanOrEqual(1000);
    // retried while an upstream's circuit breaker, tripped by a defect above, closes again
    const after = await settledSnapshot();
    for (const accountId of Object.keys(before.orders))
      expect(after.orders[accountId]?.length, `orders of ${accountId}`).toBe(
        before.orders[accountId]?.length,
      );
    expect(after).toEqual(before);
    expect(after.orders[attacker]?.map((o) => o.order_id)).toEqual([attackerOrder]);
    expect(after.orders[victim]?.map((o) => o.order_id)).toEqual([victimOrder]);
  });
});

// Resource exhaustion through live streams (README, Security): many of one customer's, and
// clients that leave while a stream is being set up or right after its headers.
describe('hostile streams at the gateway', { timeout: 60_000 }, () => {
  const MAX_STREAMS = 5; // LIVE_MAX_STREAMS_PER_CUSTOMER's default
  const openStreams = async () => {
    const text = await (await fetch(`${inject('ops:gateway')}/metrics`)).text();
    const match = /^gateway_live_streams(?:\{[^}]*\})? (\d+)/m.exec(text);
    if (!match) throw new Error('no gateway_live_streams in the gateway /metrics');
    return Number(match[1]);
  };
  const stream = (accountId: string, signal: AbortSignal) =>
    fetch(`${url.gateway}/accounts/${accountId}/stream`, {
      headers: { authorization: `Bearer ${tokenOf(accountId)}` },
      signal,
    });

  it(`many streams of one customer: ${MAX_STREAMS} open, every one more is 429 too_many_streams`, async () => {
    const accountId = await newAccount('10.00');
    const controller = new AbortController();
    const answers = await Promise.all(Array.from({ length: 30 }, () => stream(accountId, controller.signal)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(MAX_STREAMS);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30 - MAX_STREAMS);
    const refused = answers.find((a) => a.status === 429) as Response;
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('too_many_streams');
    controller.abort();
    await waitFor('every stream to close', async () => (await openStreams()) === 0);
  });

  it('streams aborted during set-up or right after the headers leave nothing open', async () => {
    const accounts = await Promise.all(Array.from({ length: 10 }, () => newAccount('10.00')));
    await Promise.all(
      accounts.flatMap((accountId, i) =>
        Array.from({ length: MAX_STREAMS }, async (_, j) => {
          const controller = new AbortController();
          if ((i + j) % 2 === 0) setTimeout(() => controller.abort(), j); // before the answer
          try {
            const response = await stream(accountId, controller.signal);
            if (response.status !== 200) await response.body?.cancel();
          } catch {
            // aborted before the answer
          } finally {
            controller.abort();
          }
        }),
      ),
    );
    await waitFor('every aborted stream to be torn down', async () => (await openStreams()) === 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile broker messages: each service is only what it is (its own broker user, README "Security").

const brokerUrls = inject('amqp:services');

describe.skipIf(Object.keys(brokerUrls).length === 0)(
  'hostile messages on the broker',
  { timeout: 120_000 },
  () => {
    const settleQueue = handlerQueue(TradeExecuted, 'account-transactions', 'settle_trade');
    const markQueue = handlerQueue(TradeExecuted, 'orders', 'mark_executed');

    /** An executed sell of the test's own, and the TradeExecuted that announced it (its payload). */
    async function executedSell() {
      const accountId = await newAccount('1000.00', [{ symbol: 'ACME', quantity: 10 }]);
      const order = await settled(await placeOrder('sell', accountId, 'ACME', 2));
      expect(order.status).toBe('executed');
      const trade = {
        orderId: order.order_id,
        accountId,
        side: order.side,
        symbol: order.symbol,
        quantity: order.quantity,
        fillPriceCents: cents(order.fill_price),
        feeCents: cents(order.fee),
      };
      return { accountId, order, trade, balances: holdings(await accountWithoutHolds(accountId)) };
    }

    /** Cash and shares (not their value at the moment's quotes, which walk). */
    const holdings = (a: Account) => ({
      cash: a.cash,
      shares: a.positions.map((p) => [p.symbol, p.quantity, p.reserved]),
    });

    async function parkedReasons(queue: string): Promise<Map<string, string>> {
      const lot = await ParkingLot.connect(inject('amqp:admin'));
      try {
        return new Map((await lot.show(queue, 1000)).map((m) => [String(m.id), String(m.reason)]));
      } finally {
        await lot.close();
      }
    }

    async function handled(database: string, queue: string, id: string): Promise<boolean> {
      const client = new pg.Client({
        connectionString: `postgres://postgres@127.0.0.1:5432/simplebank_e2e_${database}`,
      });
      await client.connect();
      try {
        const { rowCount } = await client.query(
          'SELECT 1 FROM inbox WHERE handler = $1 AND message_id = $2',
          [queue, id],
        );
        return rowCount === 1;
      } finally {
        await client.end();
      }
    }

    it("forged: the gateway's broker user cannot publish a TradeExecuted anywhere; one from any other service is parked with the reason by both consumers, and moves no money", async () => {
      const { accountId, trade, balances } = await executedSell();
      const rich = { ...trade, fillPriceCents: 1_000_000_000 };
      const envelope = {
        id: randomUUID(),
        type: TradeExecuted.name,
        version: TradeExecuted.version,
        occurredAt: new Date().toISOString(),
        source: 'market',
        correlationId: trade.orderId,
        causationId: null,
        payload: rich,
      };
      const gateway = brokerUrls.gateway as string;
      for (const [exchange, routingKey] of [
        [TradeExecuted.exchange, TradeExecuted.routingKey],
        ['', settleQueue],
        ['rpc', settleQueue],
      ] as const) {
        await expect(
          publishRaw(gateway, exchange, routingKey, envelope, { declare: false }),
          `${exchange || '(default)'} ${routingKey}`,
        ).rejects.toThrow(/ACCESS_REFUSED|refused/i);
      }
      // fees may write to the default exchange (its retries go through it): straight into both queues
      const forged = { ...envelope, id: randomUUID() };
      for (const queue of [settleQueue, markQueue])
        await publishRaw(brokerUrls.fees as string, '', queue, forged, {
          declare: false,
          messageId: forged.id,
        });
      for (const queue of [settleQueue, markQueue]) {
        const reason = await waitFor(`the forgery parked from ${queue}`, async () =>
          (await parkedReasons(queue)).get(forged.id),
        );
        expect(reason).toMatch(
          /^publisher: broker user simplebank_e2e\.fees may not publish a TradeExecuted/,
        );
      }
      expect(holdings(await accountWithoutHolds(accountId))).toEqual(balances);
    });

    it('replayed: the same fill again, under its id or a new one, from market itself, changes nothing', async () => {
      const { accountId, order, trade, balances } = await executedSell();
      const market = brokerUrls.market as string;
      const once = await publishEvent(market, TradeExecuted, trade);
      await publishEvent(market, TradeExecuted, trade, { id: once.id });
      await waitFor('the replayed fill to be handled', () =>
        handled('account_transactions', settleQueue, once.id),
      );
      await waitFor('orders to have seen it', () => handled('orders', markQueue, once.id));
      expect(holdings(await accountWithoutHolds(accountId))).toEqual(balances);
      const after = await call<Order>(url.gateway, 'GET', `/orders/${order.order_id}`, undefined, {
        token: tokenOf(order.order_id),
      });
      expect(after.body).toMatchObject({ status: 'executed', fill_price: order.fill_price });
      for (const queue of [settleQueue, markQueue])
        expect((await parkedReasons(queue)).has(once.id)).toBe(false);
    });
  },
);
