import { type App, HttpError, type Logger } from '@simplebank/chassis';
import { ErrorCode, TokenRequest, TokenResponse } from '@simplebank/contracts';
import type { Tokens } from '../auth.ts';
import type { SignInGuard } from '../sign-in-guard.ts';

export interface AuthRouteOptions {
  tokens: Tokens;
  /** True for the right username and password (account-transactions checks them). */
  checkCredentials: (credentials: TokenRequest) => Promise<boolean>;
  /** Sign-ins per IP address per window: guessing passwords is slow. */
  rateLimit: { max: number; timeWindow: number };
  /** Failed sign-ins per username (sign-in-guard.ts). */
  guard: SignInGuard;
  log: Logger;
}

export function authRoutes(
  app: App,
  { tokens, checkCredentials, rateLimit, guard, log }: AuthRouteOptions,
): void {
  // The body holds a password: nothing here logs it (the chassis logs no request bodies, and
  // redacts `password` wherever a log entry has one).
  app.post(
    '/auth/token',
    {
      schema: { body: TokenRequest, response: { 200: TokenResponse } },
      config: { rateLimit: { ...rateLimit, keyGenerator: (request) => `ip:${request.ip}` } },
    },
    async (request, reply): Promise<TokenResponse> => {
      const { body } = request;
      await guard.admit(request, reply, body.username);
      if (!(await checkCredentials(body))) {
        await guard.failed(request);
        // who tried is personal data: only at debug level (README, "Logs")
        log.info('sign-in refused');
        log.debug({ username: body.username }, 'sign-in refused for this username');
        // the same answer for an unknown username and a wrong password
        throw new HttpError(401, ErrorCode.invalidCredentials, 'wrong username or password');
      }
      await guard.succeeded(body.username, request.ip);
      log.info('customer signed in');
      log.debug({ username: body.username }, 'this username signed in');
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
