import { HttpError } from '@simplebank/chassis';
import { ErrorCode, type TokenRequest } from '@simplebank/contracts';

/**
 * Checks a customer's credentials with account-transactions, which owns them
 * (`POST /customers/authenticate`). True for the right password; false for a wrong password or an
 * unknown username (account-transactions answers both with the same 401). Anything else —
 * account-transactions down, slow or answering something unexpected — is a 503 for the customer.
 * The password goes in the request body only, and no message here ever includes it.
 */
export function credentialChecker(accountsUrl: string, timeoutMs: number) {
  const url = `${accountsUrl.replace(/\/+$/, '')}/customers/authenticate`;
  const unavailable = (why: string) =>
    new HttpError(503, ErrorCode.serviceUnavailable, `account-transactions is unavailable: ${why}`);

  return async ({ username, password }: TokenRequest): Promise<boolean> => {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ username, password }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status === 401) {
        await response.body?.cancel();
        return false;
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        throw unavailable(`answered ${response.status}`);
      }
      const body = (await response.json()) as { username?: unknown };
      if (body.username !== username) throw unavailable('answered for another customer');
      return true;
    } catch (error) {
      if (error instanceof HttpError) throw error;
      const name = (error as Error)?.name;
      throw unavailable(
        name === 'TimeoutError' || name === 'AbortError'
          ? `no answer within ${timeoutMs} ms`
          : ((error as { cause?: { code?: string } })?.cause?.code ?? 'the request failed'),
      );
    }
  };
}
