import { HttpError } from '@simplebank/chassis';
import { ErrorCode, type TokenRequest } from '@simplebank/contracts';
import { isUnavailable, type Upstream } from './upstream.ts';

/**
 * Checks a customer's credentials with account-transactions, which owns them
 * (`POST /customers/authenticate`), through the gateway's `Upstream` for it: its timeout, its
 * circuit breaker and its metrics (`http_client_calls_total{target="account-transactions",
 * method="POST"}`). Checking has no side effect, so the call is idempotent and tried once more
 * when account-transactions does not answer. True for the right password; false for a wrong
 * password or an unknown username (account-transactions answers both with the same 401, an
 * answer that never counts against its breaker). Anything else — account-transactions down,
 * slow, behind an open circuit or answering something unexpected — is a 503 for the customer.
 * The password goes in the request body only, and no message here ever includes it.
 */
export function credentialChecker(accounts: Upstream) {
  const unavailable = (why: string) =>
    new HttpError(503, ErrorCode.serviceUnavailable, `${accounts.name} is unavailable: ${why}`);

  return async ({ username, password }: TokenRequest): Promise<boolean> => {
    let body: { username?: unknown } | undefined;
    try {
      body = await accounts.post<{ username?: unknown } | undefined>(
        '/customers/authenticate',
        { username, password },
        { idempotent: true },
      );
    } catch (error) {
      if (isUnavailable(error)) throw error;
      if (error instanceof HttpError && error.statusCode === 401) return false;
      if (error instanceof HttpError) throw unavailable(`answered ${error.statusCode}`);
      throw error;
    }
    if (body?.username !== username) throw unavailable('answered for another customer');
    return true;
  };
}
