import type { Logger } from '@simplebank/chassis';
import { type FeeSchedule, FeeScheduleBody, feeScheduleOf } from '@simplebank/contracts';
import { Compile } from 'typebox/compile';
import { Refreshed } from './refreshed.ts';
import { fetchCopy, type Upstream, unavailable } from './upstream.ts';

const isSchedule = Compile(FeeScheduleBody);

/**
 * fees' schedule (`GET /fees/schedule`), held in memory and fetched again every `refreshMs`, so
 * that a fee is quoted with no round trip (the arithmetic is the contracts' `feeFor`, the one fees
 * charges with). Any schedule once fetched will do, however old: fees charges by its own at T3
 * and fails an order whose fee is above what it was quoted (`fee_above_quoted_maximum`), so a
 * schedule that changed since costs a failed order, never a wrong charge. Without one ever
 * fetched, quoting is a 503 service_unavailable, as when fees is down.
 */
export function feeSchedule(fees: Upstream, refreshMs: number, log: Logger): Refreshed<FeeSchedule> {
  return new Refreshed(
    'fee schedule',
    refreshMs,
    async () => {
      const body = await fetchCopy(fees, '/fees/schedule');
      if (!isSchedule.Check(body))
        throw unavailable(fees, 'it answered something that is not a fee schedule');
      return feeScheduleOf(body);
    },
    log,
  );
}
