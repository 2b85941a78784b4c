/** Prices of the simulated exchange: opening prices and their bounded random walk. Pure. */

import { decimalToCents } from '@simplebank/contracts';

export const DEFAULT_SYMBOLS = 'ACME:100.00,GLOBEX:42.50,INITECH:12.30,UMBRELLA:250.00,HOOLI:75.20';

/** At most ±0.5 % a step. */
const MAX_STEP = 0.005;

/** Parses `SYMBOL:price,...` into opening prices in cents. */
export function parseSymbols(spec: string): Map<string, number> {
  const openings = new Map<string, number>();
  for (const entry of spec.split(',')) {
    const [symbol = '', price = ''] = entry.trim().split(':');
    if (!/^[A-Z]{1,8}$/.test(symbol)) throw new RangeError(`bad symbol ${JSON.stringify(symbol)}`);
    const cents = decimalToCents(price);
    if (cents <= 0) throw new RangeError(`${symbol} needs a positive price, got ${price}`);
    openings.set(symbol, cents);
  }
  return openings;
}

/**
 * The next price of a random walk that stays between half and double the opening price, so a long
 * run never drifts to zero or to the moon. `random` is uniform in [0, 1).
 */
export function nextPrice(priceCents: number, openingCents: number, random: () => number): number {
  const floor = Math.max(1, Math.ceil(openingCents / 2));
  const ceiling = openingCents * 2;
  // trunc, not round: the step never exceeds the bound, even by a cent
  const step = Math.trunc(priceCents * MAX_STEP * (2 * random() - 1));
  const next = priceCents + step;
  const reflected = next < floor || next > ceiling ? priceCents - step : next;
  return Math.min(ceiling, Math.max(floor, reflected));
}
