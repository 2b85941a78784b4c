import { fileURLToPath } from 'node:url';
import type { App } from '@simplebank/chassis';

/** Where the committed OpenAPI document lives. */
export const OPENAPI_FILE = fileURLToPath(new URL('../../../docs/openapi.json', import.meta.url));

/** The document a running gateway serves at /docs/json, as committed (two-space JSON, final newline). */
export async function openApiOf(app: App): Promise<string> {
  const response = await app.inject({ method: 'GET', url: '/docs/json' });
  if (response.statusCode !== 200) throw new Error(`GET /docs/json answered ${response.statusCode}`);
  return `${JSON.stringify(response.json(), null, 2)}\n`;
}
