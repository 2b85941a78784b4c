/** What an execution from the exchange's feed means for the placement it names. Pure. */

import type { PlacementStatus } from './prerequisites.ts';

export type ExecutionVerdict =
  | { kind: 'settle' }
  /**
   * The exchange holds an order market never recorded as placed: the placement timed out, or the
   * exchange accepted it and market's transaction then rolled back (a crash or a lost database).
   */
  | { kind: 'place_and_settle' }
  | { kind: 'skip'; why: string };

export function assessExecution(placement: { status: PlacementStatus } | undefined): ExecutionVerdict {
  if (!placement) return { kind: 'skip', why: 'not an order of ours' };
  if (placement.status === 'placed') return { kind: 'settle' };
  // whatever its recorded attempts: an attempt whose transaction rolled back left none
  if (placement.status === 'ready') return { kind: 'place_and_settle' };
  return { kind: 'skip', why: `the order is ${placement.status}` };
}
