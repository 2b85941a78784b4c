import { type App, HttpError, type Logger } from '@simplebank/chassis';
import { ErrorCode, PasswordChange, TokenRequest, TokenResponse } from '@simplebank/contracts';
import { Type } from 'typebox';
import { requireCustomer, signedIn, type Tokens } from '../edge/auth.ts';
import type { TokenVersions } from '../edge/revocation.ts';
import type { SignInGuard } from '../edge/sign-in-guard.ts';
import { segment, type Upstream } from '../upstream/upstream.ts';

export interface AuthRouteOptions {
  tokens: Tokens;
  versions: TokenVersions;
  /** The customer's token version for the right username and password, else undefined (credentials.ts). */
  checkCredentials: (credentials: TokenRequest) => Promise<number | undefined>;
  /** account-transactions, which owns the customers' passwords and token versions. */
  accounts: Upstream;
  /** Sign-ins per IP address per window: guessing passwords is slow. */
  rateLimit: { max: number; timeWindow: number };
  /** Failed sign-ins per username (sign-in-guard.ts). */
  guard: SignInGuard;
  log: Logger;
}

/** account-transactions' answer to a sign-out or a password change: the customer's new version. */
interface TokenVersionView {
  username: string;
  token_version: number;
}

export function authRoutes(
  app: App,
  { tokens, versions, checkCredentials, accounts, rateLimit, guard, log }: AuthRouteOptions,
): void {
  const perIp = { ...rateLimit, keyGenerator: (request: { ip: string }) => `ip:${request.ip}` };
  const tokenAnswer = async (
    customer: string,
    version: number,
    reply: { header(name: string, value: string): unknown },
  ) => {
    // RFC 6749 §5.1: a token is never cached
    reply.header('cache-control', 'no-store');
    reply.header('pragma', 'no-cache');
    return {
      access_token: await tokens.issue(customer, new Date(), version),
      token_type: 'Bearer' as const,
      expires_in: tokens.ttlSeconds,
    };
  };

  // The body holds a password: nothing here logs it (the chassis logs no request bodies, and
  // redacts `password` wherever a log entry has one).
  app.post(
    '/auth/token',
    { schema: { body: TokenRequest, response: { 200: TokenResponse } }, config: { rateLimit: perIp } },
    async (request, reply): Promise<TokenResponse> => {
      const { body } = request;
      await guard.admit(request, reply, body.username);
      const version = await checkCredentials(body);
      if (version === undefined) {
        await guard.failed(request);
        // who tried is personal data: only at debug level (README, "Logs")
        log.info('sign-in refused');
        log.debug({ username: body.username }, 'sign-in refused for this username');
        // the same answer for an unknown username and a wrong password
        throw new HttpError(401, ErrorCode.invalidCredentials, 'wrong username or password');
      }
      await guard.succeeded(body.username, request.ip);
      versions.remember(body.username, version);
      log.info('customer signed in');
      log.debug({ username: body.username }, 'this username signed in');
      return tokenAnswer(body.username, version, reply);
    },
  );

  // Ends every token of the customer (revocation.ts): this one, and those of their other devices.
  app.post(
    '/auth/sign-out',
    {
      preParsing: requireCustomer,
      schema: {
        summary: 'Sign out: ends every token of the customer',
        response: { 204: Type.Null({ description: 'Signed out' }) },
      },
    },
    async (request, reply) => {
      const customer = signedIn(request);
      const { token_version } = await accounts.post<TokenVersionView>(
        `/customers/${segment(customer)}/sign-out`,
        {},
      );
      versions.remember(customer, token_version);
      log.info('customer signed out');
      log.debug({ username: customer }, 'this username signed out');
      return reply.status(204).send(null);
    },
  );

  // A new password ends every token issued before; the answer is a token of the new version.
  app.put(
    '/auth/password',
    {
      preParsing: requireCustomer,
      schema: {
        summary: "Change the customer's password; every earlier token ends",
        body: PasswordChange,
        response: { 200: TokenResponse },
      },
      config: { rateLimit: perIp },
    },
    async (request, reply): Promise<TokenResponse> => {
      const customer = signedIn(request);
      const { token_version } = await accounts.post<TokenVersionView>(
        `/customers/${segment(customer)}/password`,
        request.body,
      );
      versions.remember(customer, token_version);
      log.info('customer changed their password');
      log.debug({ username: customer }, 'this username changed their password');
      return tokenAnswer(customer, token_version, reply);
    },
  );
}
