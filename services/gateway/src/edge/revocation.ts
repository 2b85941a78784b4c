import { HttpError, type Logger } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import { segment, type Upstream } from '../upstream/upstream.ts';

/** account-transactions' answer about a customer's tokens. */
interface TokenVersionView {
  username: string;
  token_version: number;
}

/**
 * Revocation: each token carries its customer's token version (`ver`) at issue, and a token
 * whose version is older than the customer's current one is refused. Signing out and changing
 * the password raise the version in account-transactions (durable, shared by every gateway
 * instance), ending every token the customer holds. Each instance remembers a customer's version
 * for `freshMs`, so a revocation takes effect on the instance that made it at once and on the
 * others within `freshMs`; while account-transactions cannot be asked, a version read less than
 * `staleMs` ago still serves, and after that the customer's requests are 503 (fail closed).
 */
export class TokenVersions {
  private readonly known = new Map<string, { version: number; at: number }>();
  private readonly asking = new Map<string, Promise<number>>();

  constructor(
    private readonly accounts: Upstream,
    private readonly freshMs: number,
    private readonly staleMs: number,
    private readonly log: Logger,
  ) {}

  /** The customer's current token version (0 for a customer who never changed it). */
  async current(customer: string): Promise<number> {
    const known = this.known.get(customer);
    if (known && Date.now() - known.at < this.freshMs) return known.version;
    let asking = this.asking.get(customer);
    if (!asking) {
      asking = this.ask(customer).finally(() => this.asking.delete(customer));
      this.asking.set(customer, asking);
    }
    try {
      return await asking;
    } catch (error) {
      if (known && Date.now() - known.at < this.staleMs) {
        this.log.warn({ error }, 'token version not refreshed; the last one known serves');
        return known.version;
      }
      throw error;
    }
  }

  /** Whether a token of `version` is still good for `customer`. */
  async valid(customer: string, version: number): Promise<boolean> {
    return version >= (await this.current(customer));
  }

  /** Records a version account-transactions just answered (after a sign-out or a new password). */
  remember(customer: string, version: number): void {
    const known = this.known.get(customer);
    if (known && known.version > version) return;
    this.known.set(customer, { version, at: Date.now() });
    if (this.known.size > 100_000) this.known.delete(this.known.keys().next().value as string);
  }

  private async ask(customer: string): Promise<number> {
    const unknown = new HttpError(404, ErrorCode.notFound, 'no such customer');
    const view = await this.accounts
      .get<TokenVersionView>(`/customers/${segment(customer)}/token-version`, { notFound: unknown })
      .catch((error: unknown) => {
        // accounts may name owners who are no customers: nothing of theirs was ever revoked
        if (error === unknown) return { username: customer, token_version: 0 };
        throw error;
      });
    this.remember(customer, view.token_version);
    return view.token_version;
  }
}
