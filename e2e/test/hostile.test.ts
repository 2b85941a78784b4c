import { createHmac, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { it } from 'vitest';
import { newAccount, placeOrder, settled, tokenOf, url } from './system.ts';

const gw = new URL(url.gateway);
function send(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) {
  return new Promise<{ status: number; text: string; headers: Record<string, unknown> }>((resolve, reject) => {
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
  });
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
  const p = async (label: string, m: string, path: string, h: Record<string, string> = {}, b?: string | Buffer) => {
    try {
      const r = await send(m, path, h, b);
      out.push([label, r.status, r.text.slice(0, 160)]);
    } catch (e) {
      out.push([label, 'ERR', String(e)]);
    }
  };
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: 40 }, (_, i) => p(`dl ${round} ${i}`, 'GET', `/orders?account_id=${me}`, { ...auth, 'x-deadline': String(Date.now() + 2 + (i % 10)) })));
    await p(`normal after deadline ${round}`, 'GET', `/orders?account_id=${me}`, auth);
  }
  await p('normal account after deadline', 'GET', `/accounts/${me}`, auth);
  console.log(out.map((x) => JSON.stringify(x)).join('\n'));
});
