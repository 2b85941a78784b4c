/**
 * Whether a request's URL is for health, metrics or version: asked every few seconds by probes and
 * Prometheus, so neither traced (telemetry.ts) nor logged per request (http.ts), wherever it arrives
 * (a public service answers them 404 on its own port, and that is no news either).
 */
export const isOperationsUrl = (url: string | undefined): boolean =>
  url !== undefined && (url.startsWith('/health') || url.startsWith('/metrics') || url === '/version');

/** Whether a route is one of the chassis' operations routes: health, metrics, version, debug. */
export const isOperationsRoute = (url: string | undefined): boolean =>
  isOperationsUrl(url) || /^\/debug(\/|$)/.test(url ?? '');
