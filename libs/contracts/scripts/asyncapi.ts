// Writes docs/asyncapi.json from the contracts: `pnpm --filter @simplebank/contracts asyncapi`.
import { writeFileSync } from 'node:fs';
import { asyncApiDocument } from '../src/asyncapi.ts';
import { ASYNCAPI_FILE, render } from './asyncapi-file.ts';

writeFileSync(ASYNCAPI_FILE, render(asyncApiDocument(process.env.npm_package_version ?? '0.1.0')));
process.stdout.write(`wrote ${ASYNCAPI_FILE}\n`);
