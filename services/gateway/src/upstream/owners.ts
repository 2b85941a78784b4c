import { HttpError } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import { LRUCache } from 'lru-cache';
import { segment, type Upstream } from './upstream.ts';

/** How many account → owner pairs are remembered (an account's owner never changes). */
const CACHE_SIZE = 10_000;

/**
 * Who owns which account, from account-transactions, remembered (an owner never changes): only a
 * miss asks. A customer may only see and trade the accounts they own; the routes answer another
 * customer's account exactly as one that does not exist, so nobody learns which account ids exist.
 */
export class Owners {
  /** The least recently used is forgotten when it is full. */
  private readonly known = new LRUCache<string, string>({ max: CACHE_SIZE });

  constructor(private readonly accounts: Upstream) {}

  /** The account's owner; undefined when there is no such account. */
  async ownerOf(accountId: string): Promise<string | undefined> {
    const cached = this.known.get(accountId);
    if (cached !== undefined) return cached;
    const missing = new HttpError(404, ErrorCode.unknownAccount, `no account ${accountId}`);
    const account = await this.accounts
      .get<{ owner: string }>(`/accounts/${segment(accountId)}`, { notFound: missing })
      .catch((error: unknown) => {
        if (error === missing) return undefined;
        throw error;
      });
    if (account) this.remember(accountId, account.owner);
    return account?.owner;
  }

  /** Records an owner seen in an answer of account-transactions. */
  remember(accountId: string, owner: string): void {
    this.known.set(accountId, owner);
  }

  async owns(customer: string, accountId: string): Promise<boolean> {
    return (await this.ownerOf(accountId)) === customer;
  }
}
