// One order per intent: the Idempotency-Key the screen sends with an order, kept until the order
// gets an answer, so that a retry (automatic, or the customer pressing Send again) after a lost
// answer is the same order, never a second one (README, "Placing an order: what a client must do").

export interface OrderTerms {
  accountId: string;
  side: string;
  symbol: string;
  quantity: number;
}

const sameTerms = (a: OrderTerms, b: OrderTerms) =>
  a.accountId === b.accountId && a.side === b.side && a.symbol === b.symbol && a.quantity === b.quantity;

/** The order the customer means now and its key, until the gateway answers it one way or the other. */
export class OrderIntent {
  private pending: { terms: OrderTerms; key: string } | null = null;

  constructor(private readonly newKey: () => string) {}

  /** The key for an order on these terms: the unanswered one's when the terms are the same. */
  keyFor(terms: OrderTerms): string {
    if (this.pending === null || !sameTerms(this.pending.terms, terms))
      this.pending = { terms, key: this.newKey() };
    return this.pending.key;
  }

  /** The gateway answered (accepted, or refused for good): the next order is a new one. */
  answered(): void {
    this.pending = null;
  }
}

/**
 * Whether a failed attempt leaves the order in doubt: no answer at all (status 0), a 5xx, or the
 * key's first request still running (409 request_in_progress), after which the order may or may
 * not exist. Any other 4xx is an answer: the order was not placed.
 */
export const inDoubt = (error: unknown): boolean => {
  const { status, code } = (error ?? {}) as { status?: unknown; code?: unknown };
  return typeof status !== 'number' || status === 0 || status >= 500 || code === 'request_in_progress';
};

/** How long to wait before try `attempt` (1, 2, …): the server's Retry-After, else 1 s, then 2 s. */
export const backOffMs = (attempt: number, retryAfter: string | null | undefined): number => {
  const seconds = Number(retryAfter);
  return retryAfter && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 1000 * attempt;
};

/**
 * Runs `attempt` (the same request, with the same key) until it is answered or `tries` attempts
 * are spent, waiting `backOffMs` between them; `onRetry` says so on the screen.
 */
export async function untilAnswered<T>(
  attempt: () => Promise<T>,
  {
    tries = 3,
    wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    onRetry = () => undefined,
  }: { tries?: number; wait?: (ms: number) => Promise<void>; onRetry?: (attempt: number) => void } = {},
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!inDoubt(error) || n >= tries) throw error;
      onRetry(n);
      await wait(backOffMs(n, (error as { retryAfter?: string | null }).retryAfter));
    }
  }
}
