import { readFileSync } from 'node:fs';
import { validate } from '@readme/openapi-parser';
import { type RunningService, startService } from '@simplebank/chassis';
import { testEnvironment } from '@simplebank/chassis/testing';
import { ErrorCode } from '@simplebank/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_FILE, openApiOf } from '../scripts/openapi-file.ts';
import gateway from '../src/service.ts';

let service: RunningService;
let generated: string;

beforeAll(async () => {
  service = await startService(gateway, { env: await testEnvironment('gateway_openapi'), listen: false });
  generated = await openApiOf(service.app);
}, 30_000);

afterAll(() => service?.stop());

describe('the API documentation', () => {
  it('docs/openapi.json is what the routes make (regenerate: pnpm --filter @simplebank/gateway openapi)', () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(generated);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await validate(JSON.parse(generated));
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(JSON.parse(generated).openapi).toBe('3.1.0');
  });

  it('documents every route of the public API, and every error code', () => {
    const document = JSON.parse(generated);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/auth/token',
        '/shares/sell',
        '/shares/buy',
        '/orders',
        '/orders/{order_id}',
        '/accounts',
        '/accounts/{account_id}',
        '/accounts/{account_id}/stream',
        '/market/quotes',
        '/fees/estimate',
      ]),
    );
    expect(document.components.schemas.ApiError.properties.error.properties.code.enum).toEqual(
      Object.values(ErrorCode),
    );
    for (const code of Object.values(ErrorCode)) expect(document.info.description).toContain(`\`${code}\``);
    // a route that needs a customer says so
    expect(document.paths['/orders/{order_id}'].get.security).toEqual([{ bearer: [] }]);
    expect(document.paths['/market/quotes'].get.security).toBeUndefined();
  });

  it('serves the interactive documentation at /docs', async () => {
    const page = await service.app.inject({ method: 'GET', url: '/docs' });
    const html =
      page.statusCode === 302
        ? await service.app.inject({ method: 'GET', url: page.headers.location as string })
        : page;
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.body).toContain('swagger-ui');
  });
});
