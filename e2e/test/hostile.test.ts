import { createHmac, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { it } from 'vitest';
import { newAccount, placeOrder, settled, tokenOf, url } from './system.ts';

const gw = new URL(url.gateway);
function send(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) {
  return new Promise<{ status: number; text: string; headers: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = httpRequest(
        { host: gw.hostname, port: gw.port, method, path, headers, timeout: 10_000 },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
        },
      );
      req.on('error', (e) => reject(e));
      if (body !== undefined) req.end(body);
      else req.end();
    },
  );
}
const b64 = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url');
const SECRET = 'simplebank-development-secret-do-not-use-in-production';
function jwt(header: object, payload: object, secret = SECRET) {
  const h = `${b64(header)}.${b64(payload)}`;
  return `${h}.${createHmac('sha256', secret).update(h).digest('base64url')}`;
}

it('probes', async () => {
  const me = await newAccount('1000.00', [{ symbol: 'ACME', quantity: 10 }]);
  const t = tokenOf(me);
  const auth = { authorization: `Bearer ${t}` };
  const out: unknown[] = [];
  const p = async (
    label: string,
    m: string,
    path: string,
    h: Record<string, string> = {},
    b?: string | Buffer,
  ) => {
    try {
      const r = await send(m, path, h, b);
      out.push([label, r.status, r.text.slice(0, 160)]);
    } catch (e) {
      out.push([label, 'ERR', String(e)]);
    }
  };
  for (const q of [
    '1.5',
    '5.5',
    '999999.5',
    'Infinity',
    '1e-7',
    ' 7 ',
    '0b11',
    '0o7',
    '  ',
    '+5',
    '-0',
    '5.',
    '.5e1',
  ])
    await p(`fee q=${q}`, 'GET', `/fees/estimate?side=buy&symbol=ACME&quantity=${encodeURIComponent(q)}`);
  for (const l of ['1.5', '0.5', '100.5', 'true', ' ', '1e2'])
    await p(`limit=${l}`, 'GET', `/orders?account_id=${me}&limit=${encodeURIComponent(l)}`, auth);
  const now = Math.floor(Date.now() / 1000);
  const base = { sub: me, iss: 'simplebank-gateway', aud: 'simplebank-api', iat: now, exp: now + 600 };
  const good = jwt({ alg: 'HS256', typ: 'JWT' }, base);
  for (const [l, h] of [
    ['pad', `Bearer ${good}=`],
    ['pad2', `Bearer ${good}==`],
    ['lower', `bearer ${good}`],
    ['2sp', `Bearer  ${good}`],
    ['trail', `Bearer ${good} `],
    ['typ', `Bearer ${jwt({ alg: 'HS256', typ: 'xyz' }, base)}`],
    ['kid', `Bearer ${jwt({ alg: 'HS256', kid: '../../etc/passwd' }, base)}`],
    ['nbf', `Bearer ${jwt({ alg: 'HS256' }, { ...base, nbf: now + 3600 })}`],
    ['iatfut', `Bearer ${jwt({ alg: 'HS256' }, { ...base, iat: now + 3600 })}`],
    ['audarr', `Bearer ${jwt({ alg: 'HS256' }, { ...base, aud: ['x', 'simplebank-api'] })}`],
    ['crit', `Bearer ${jwt({ alg: 'HS256', crit: ['exp'] }, base)}`],
    ['exp str', `Bearer ${jwt({ alg: 'HS256' }, { ...base, exp: String(now + 600) })}`],
    ['sub num', `Bearer ${jwt({ alg: 'HS256' }, { ...base, sub: 5 })}`],
    ['jwe', 'Bearer a.b.c.d.e'],
    ['tab', `Bearer\t${good}`],
    [
      'sig std b64',
      `Bearer ${good.slice(0, good.lastIndexOf('.'))}.${Buffer.from(good.slice(good.lastIndexOf('.') + 1), 'base64url').toString('base64')}`,
    ],
  ])
    await p(`tok ${l}`, 'GET', `/accounts/${me}`, { authorization: h as string });
  for (const ct of [
    'application/json garbage',
    'text/plain; charset=utf-8',
    'TEXT/PLAIN',
    'text/html',
    'application/json;charset=',
    'application/json; foo',
    'text/plain;a',
    '*/*',
    'application/*',
    'json',
  ])
    await p(
      `ct ${ct}`,
      'POST',
      '/shares/sell',
      { ...auth, 'content-type': ct },
      JSON.stringify({ account_id: 'nope', symbol: 'ACME', quantity: 1 }),
    );
  for (const b of ['null', '"x"', '1', 'true', '[]', '{}'])
    await p(`body ${b}`, 'POST', '/shares/sell', { ...auth, 'content-type': 'application/json' }, b);
  await p('big text', 'POST', '/shares/sell', { ...auth, 'content-type': 'text/plain' }, 'x'.repeat(70000));
  await p(
    'big xml',
    'POST',
    '/shares/sell',
    { ...auth, 'content-type': 'application/xml' },
    'x'.repeat(70000),
  );
  await p(
    'esc proto',
    'POST',
    '/shares/sell',
    { ...auth, 'content-type': 'application/json' },
    '{"\\u005f_proto__":{},"account_id":"nope","symbol":"ACME","quantity":1}',
  );
  await p(
    'ctor no proto',
    'POST',
    '/shares/sell',
    { ...auth, 'content-type': 'application/json' },
    '{"constructor":{"a":1},"account_id":"nope","symbol":"ACME","quantity":1}',
  );
  await p(
    'ctor str',
    'POST',
    '/shares/sell',
    { ...auth, 'content-type': 'application/json' },
    '{"constructor":"x","account_id":"nope","symbol":"ACME","quantity":1}',
  );
  await p(
    'nested proto',
    'POST',
    '/shares/sell',
    { ...auth, 'content-type': 'application/json' },
    '{"x":[{"__proto__":1}],"account_id":"nope","symbol":"ACME","quantity":1}',
  );
  await p(
    'auth proto',
    'POST',
    '/auth/token',
    { 'content-type': 'application/json' },
    '{"__proto__":1,"username":"a","password":"b"}',
  );
  await p('slash acc', 'GET', '/accounts/acc-alice/', auth);
  await p('dbl slash', 'GET', '/accounts//acc-alice', auth);
  await p('dot', 'GET', '/orders/.', auth);
  await p('semi', 'GET', '/accounts/acc;x', auth);
  await p('semi own', 'GET', `/accounts/${me};x`, auth);
  await p('q in path', 'GET', `/accounts/${me}?x=1`, auth);
  await p('hash', 'GET', `/accounts/${me}#x`, auth);
  await p('star', 'GET', "/accounts/a*b'()!~", auth);
  console.log(out.map((x) => JSON.stringify(x)).join('\n'));
});
