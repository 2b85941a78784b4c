import type { ApiError, Status } from './api.ts';

// Errors and failure reasons in words for the customer; the code stays visible for support.

const REASONS: Record<string, string> = {
  insufficient_shares: 'the account does not hold enough shares',
  insufficient_cash: 'the account does not have enough cash',
  unknown_account: 'the account does not exist',
  fee_above_quoted_maximum: 'the fee would have been higher than the one quoted',
  exchange_rejected: 'the stock exchange rejected the order',
  exchange_unavailable: 'the stock exchange could not be reached in time',
  canceled_by_customer: 'you cancelled it',
};

/** Why an order failed, in words. */
export const reasonInWords = (reason: string): string => REASONS[reason] ?? reason.replaceAll('_', ' ');

const STATUS: Record<Status, string> = {
  created: 'created',
  placed: 'placed',
  executed: 'executed',
  failed: 'failed',
  canceled: 'canceled',
  expired: 'expired',
};
export const statusInWords = (status: Status): string => STATUS[status] ?? status;

/** What went wrong with a request, in words. */
export function problemInWords(error: ApiError, doing: string): string {
  switch (error.code) {
    case 'network':
      return `Could not ${doing}: SimpleBank cannot be reached. Check your connection and try again.`;
    case 'rate_limited':
      return `Could not ${doing}: too many requests. Please wait ${error.retryAfter ? `${error.retryAfter} seconds` : 'a moment'} and try again.`;
    case 'service_unavailable':
      return `Could not ${doing}: the service is unavailable right now. Please try again in a moment.`;
    case 'invalid_credentials':
      return 'Wrong username or password.';
    case 'unauthorized':
      return 'Your session has ended. Please sign in again.';
    case 'unknown_symbol':
      return `Could not ${doing}: there is no quote for that symbol.`;
    case 'insufficient_shares':
    case 'insufficient_cash':
      return `Could not ${doing}: ${reasonInWords(error.code)}.`;
    case 'order_not_cancelable':
      return 'Too late to cancel: the order has already gone to the exchange.';
    case 'validation_failed':
      return `Could not ${doing}: ${error.message}.`;
    default:
      return `Could not ${doing}: ${error.message} (${error.code}).`;
  }
}
