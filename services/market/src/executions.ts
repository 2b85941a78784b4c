/** What an execution from the exchange's feed means for the placement it names. Pure. */

import type { PlacementStatus } from './prerequisites.ts';

export type ExecutionVerdict =
  | { kind: 'settle' }
  /** The exchange holds an order whose placement market never heard answered (a timeout). */
  | { kind: 'place_and_settle' }
  | { kind: 'skip'; why: string };

export function assessExecution(
  placement: { status: PlacementStatus; attempts: number } | undefined,
): ExecutionVerdict {
  if (!placement) return { kind: 'skip', why: 'not an order of ours' };
  if (placement.status === 'placed') return { kind: 'settle' };
  if (placement.status === 'ready' && placement.attempts > 0) return { kind: 'place_and_settle' };
  return { kind: 'skip', why: `the order is ${placement.status}` };
}
