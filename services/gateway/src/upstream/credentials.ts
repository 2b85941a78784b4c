import { HttpError } from '@simplebank/chassis';
import { ErrorCode, type TokenRequest } from '@simplebank/contracts';
import { isUnavailable, type Upstream } from './upstream.ts';

/**
 * Checks a customer's credentials with account-transactions, which owns them
 * (`POST /customers/authenticate`), through the gateway's `Upstream` for sign-in: its timeout,
 * its circuit breaker (not the one ownership checks and orders go through) and its metrics
 * (`http_client_calls_total{target="account-transactions-sign-in", method="POST"}`). A call that
 * goes unanswered is not tried again: the first one may still be hashing, and a second would
 * double the work under the very load that slowed the first. The customer's token version
 * (revocation.ts) for the right password; undefined for a wrong
 * password or an unknown username (account-transactions answers both with the same 401, an
 * answer that never counts against its breaker). Anything else — account-transactions down,
 * slow, behind an open circuit or answering something unexpected — is a 503 for the customer.
 * The password goes in the request body only, and no message here ever includes it.
 */
export function credentialChecker(accounts: Upstream) {
  const unavailable = (why: string) =>
    new HttpError(503, ErrorCode.serviceUnavailable, `${accounts.name} is unavailable: ${why}`);

  return async ({ username, password }: TokenRequest): Promise<number | undefined> => {
    let body: { username?: unknown; token_version?: unknown } | undefined;
    try {
      body = await accounts.post<{ username?: unknown; token_version?: unknown } | undefined>(
        '/customers/authenticate',
        { username, password },
      );
    } catch (error) {
      if (isUnavailable(error)) throw error;
      if (error instanceof HttpError && error.statusCode === 401) return undefined;
      if (error instanceof HttpError) throw unavailable(`answered ${error.statusCode}`);
      throw error;
    }
    if (body?.username !== username) throw unavailable('answered for another customer');
    // an account-transactions of before revocation answers no version: the first one
    const version = body.token_version ?? 0;
    if (typeof version !== 'number' || !Number.isSafeInteger(version))
      throw unavailable('answered no version');
    return version;
  };
}
