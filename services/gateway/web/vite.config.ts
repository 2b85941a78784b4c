import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The place-order screen: built into the gateway's dist/public, served at `/` (src/screen.ts).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../dist/public', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  // `pnpm --filter @simplebank/gateway dev:screen`: the screen with hot reload, the API of `pnpm start`
  server: {
    proxy: Object.fromEntries(
      ['/auth', '/shares', '/orders', '/accounts', '/market', '/fees', '/screen', '/docs'].map((path) => [
        path,
        'http://127.0.0.1:8080',
      ]),
    ),
  },
});
