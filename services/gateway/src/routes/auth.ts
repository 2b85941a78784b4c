import { type App, HttpError, type Logger } from '@simplebank/chassis';
import { ErrorCode, TokenRequest, TokenResponse } from '@simplebank/contracts';
import type { Tokens } from '../auth.ts';

export interface AuthRouteOptions {
  tokens: Tokens;
  /** True for the right username and password (account-transactions checks them). */
  checkCredentials: (credentials: TokenRequest) => Promise<boolean>;
  /** Sign-ins per IP address per window: guessing passwords is slow. */
  rateLimit: { max: number; timeWindow: number };
  log: Logger;
}

export function authRoutes(app: App, { tokens, checkCredentials, rateLimit, log }: AuthRouteOptions): void {
  // The body holds a password: nothing here logs it (the chassis logs no request bodies, and
  // redacts `password` wherever a log entry has one).
  app.post(
    '/auth/token',
    {
      schema: { body: TokenRequest, response: { 200: TokenResponse } },
      config: { rateLimit: { ...rateLimit, keyGenerator: (request) => `ip:${request.ip}` } },
    },
    async ({ body }, reply): Promise<TokenResponse> => {
      if (!(await checkCredentials(body))) {
        log.info({ username: body.username }, 'sign-in refused');
        // the same answer for an unknown username and a wrong password
        throw new HttpError(401, ErrorCode.invalidCredentials, 'wrong username or password');
      }
      log.info({ username: body.username }, 'customer signed in');
      // RFC 6749 §5.1: a token is never cached
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return {
        access_token: await tokens.issue(body.username),
        token_type: 'Bearer',
        expires_in: tokens.ttlSeconds,
      };
    },
  );
}
