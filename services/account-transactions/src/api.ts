import { AccountIdParam, NewPassword, Password, SymbolParam, Username } from '@simplebank/contracts';
import { Type } from 'typebox';

// The internal HTTP API the gateway (and tests) call: snake_case, money as decimal strings.
const strict = { additionalProperties: false } as const;
const Decimal = Type.String({ pattern: '^-?\\d+\\.\\d{2}$' });

export const OwnerQuery = Type.Object({ owner: Username }, strict);

export const AccountView = Type.Object({
  account_id: Type.String(),
  owner: Type.String(),
  cash: Type.Object({ available: Decimal, reserved: Decimal }),
  /** quantity = available + reserved shares. */
  positions: Type.Array(
    Type.Object({ symbol: Type.String(), quantity: Type.Integer(), reserved: Type.Integer() }),
  ),
});

export const OpenAccount = Type.Object(
  {
    account_id: AccountIdParam,
    /** A username (a customer of that name need not exist, unless `password` creates one). */
    owner: Username,
    /** Creates the owner as a customer with this password too (tests and seeding). */
    password: Type.Optional(NewPassword),
    cash: Type.String({ pattern: '^\\d{1,13}(\\.\\d{1,2})?$' }),
    positions: Type.Optional(
      Type.Array(
        Type.Object(
          { symbol: SymbolParam, quantity: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }) },
          strict,
        ),
        { maxItems: 100 },
      ),
    ),
  },
  strict,
);

/** `POST /customers`: a customer who can sign in. */
export const NewCustomer = Type.Object({ username: Username, password: NewPassword }, strict);
/** `POST /customers/authenticate`: the gateway checking a customer's credentials. */
export const Credentials = Type.Object({ username: Username, password: Password }, strict);
export const CustomerView = Type.Object({ username: Type.String() });

/** Per asset: opening + fills − fees = closing (shares pay no fees). */
export const Statement = Type.Object({
  account_id: Type.String(),
  cash: Type.Object({ opening: Decimal, fills: Decimal, fees: Decimal, closing: Decimal }),
  positions: Type.Array(
    Type.Object({
      symbol: Type.String(),
      opening: Type.Integer(),
      fills: Type.Integer(),
      closing: Type.Integer(),
    }),
  ),
});

export const BalanceCheck = Type.Object({
  /** Every asset's postings sum to zero. */
  balanced: Type.Boolean(),
  /** The sum of all postings per asset, in cents or shares. */
  assets: Type.Record(Type.String(), Type.Integer()),
  /** Every customer bucket equals the sum of its postings. */
  balances_match_journal: Type.Boolean(),
});
