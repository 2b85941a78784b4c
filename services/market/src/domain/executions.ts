/** What an execution from the exchange's feed means for the placement it names. Pure. */

import type { PlacementStatus } from './prerequisites.ts';

export type ExecutionVerdict =
  /**
   * Record it: a placed order, or one market never recorded as placed (an attempt in doubt, or
   * accepted before market's transaction rolled back), which is announced placed first.
   */
  | { kind: 'settle' }
  /** A fill for an order our books had ended: the customer traded, and our books say otherwise. */
  | { kind: 'trade_break' }
  | { kind: 'skip'; why: string };

export function assessExecution(
  placement: { status: PlacementStatus } | undefined,
  execution: { kind: 'filled' | 'expired' },
): ExecutionVerdict {
  if (!placement) return { kind: 'skip', why: 'not an order of ours' };
  if (placement.status === 'placed' || placement.status === 'ready') return { kind: 'settle' };
  if (placement.status === 'executed') return { kind: 'skip', why: 'the order is executed already' };
  if (execution.kind === 'expired') return { kind: 'skip', why: `the order is ${placement.status}` };
  return { kind: 'trade_break' };
}
