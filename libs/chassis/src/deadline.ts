import { AsyncLocalStorage } from 'node:async_hooks';

// A caller's deadline, as HTTP and RPC carry it.

/**
 * The header a caller's deadline travels in (HTTP and RPC alike), as the milliseconds it has left
 * when it sends the request, never as a point in time: the receiver adds it to its own clock on
 * arrival, so no decision compares two hosts' clocks (a skewed one would expire every request, or
 * none). The time on the wire is not counted; the caller's own timeout still covers it.
 */
export const BUDGET_HEADER = 'x-budget-ms';

/** This host's deadline for a request whose budget header says `value` (ms), counted from `now`. */
export function deadlineFromBudget(value: unknown, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text === null || String(text).trim() === '') return undefined;
  const budget = Number(text);
  return Number.isFinite(budget) ? now + Math.max(0, budget) : undefined;
}

/** Runs a request's handling with its deadline (http.ts), for `requestDeadline`. */
export const requestContext = new AsyncLocalStorage<{ deadline: number | undefined }>();

/**
 * The deadline of the request being handled, wherever in its handling this runs (undefined
 * outside a request, or when the caller sent none): for code that is not handed the request.
 */
export const requestDeadline = (): number | undefined => requestContext.getStore()?.deadline;
