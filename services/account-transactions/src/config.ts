import type { ServiceContext } from '@simplebank/chassis';
import { type Static, Type } from 'typebox';

export const AccountTransactionsConfig = Type.Object({
  /** The symbols the exchange trades; an account can only be opened with positions in these. */
  SYMBOLS: Type.String({
    pattern: '^[A-Z]{1,8}(,[A-Z]{1,8})*$',
    default: 'ACME,GLOBEX,INITECH,UMBRELLA,HOOLI',
  }),
  /** Passwords hashed at once (32 MiB each, outside the heap, for ~0.1 s). */
  PASSWORD_HASHES_AT_ONCE: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
  /** Passwords waiting for a hashing slot; past that, 503 service_unavailable at once. */
  PASSWORD_HASHES_WAITING: Type.Integer({ minimum: 0, default: 16 }),
  /**
   * Writes the demo customers alice, bob and carol (README) at start, with their published
   * passwords: for `pnpm start`, the e2e stack and the demo deployments. Refused in production.
   */
  DEMO_DATA: Type.Boolean({ default: false }),
});
export type AccountTransactionsContext = ServiceContext<Static<typeof AccountTransactionsConfig>>;
