import { fileURLToPath } from 'node:url';

/** Where the committed AsyncAPI document lives. */
export const ASYNCAPI_FILE = fileURLToPath(new URL('../../../docs/asyncapi.json', import.meta.url));

/** The document as committed: two-space JSON and a final newline (what Biome leaves alone). */
export const render = (document: unknown): string => `${JSON.stringify(document, null, 2)}\n`;
