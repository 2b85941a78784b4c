import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { App } from '@simplebank/chassis';
import { Type } from 'typebox';

/** Where the build puts the place-order screen (web/, bundled by Vite): dist/public. */
export const SCREEN_DIR = fileURLToPath(new URL('../../dist/public/', import.meta.url));

export const ScreenSettings = Type.Object({
  /** Jaeger's UI, where the screen links each order's trace id. */
  jaeger_ui_url: Type.String(),
});

/**
 * The place-order screen at `/` (book §2.4), as static files, and the settings it reads at start.
 * The files are fingerprinted by Vite except index.html, which is never cached.
 */
export async function screen(app: App, settings: { jaegerUiUrl: string }): Promise<void> {
  app.get(
    '/screen/settings',
    { schema: { summary: "The place-order screen's settings", response: { 200: ScreenSettings } } },
    () => ({ jaeger_ui_url: settings.jaegerUiUrl }),
  );
  if (!existsSync(SCREEN_DIR)) {
    app.get('/', { schema: { hide: true } }, (_request, reply) =>
      reply
        .type('text/plain')
        .send('The place-order screen is not built: pnpm --filter @simplebank/gateway build\n'),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: SCREEN_DIR,
    wildcard: false,
    setHeaders: (response, path) => {
      response.header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self'; connect-src 'self'; frame-ancestors 'none'",
      );
      response.header('x-content-type-options', 'nosniff');
      response.header(
        'cache-control',
        path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable',
      );
    },
  });
}
