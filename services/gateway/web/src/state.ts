import { centsToDecimal, decimalToCents } from '@simplebank/contracts/money';
import { type Account, Api, ApiError, type Order } from './api.ts';
import { OrderIntent } from './order-intent.ts';
import { problemInWords } from './words.ts';

// What the screen's sections share: the API client, the state they render, and small helpers.
// Money is integer cents in here, shown as exact decimals.

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
export const api = new Api();
/** The order being sent and its Idempotency-Key, kept until the gateway answers it. */
export const intent = new OrderIntent(() => crypto.randomUUID());
export const TERMINAL = new Set(['executed', 'failed', 'canceled', 'expired']);

interface PriceTrack {
  cents: number;
  previousCents: number;
  openCents: number;
  stale: boolean;
}

export const state = {
  jaeger: 'http://localhost:16686',
  accountId: '',
  account: null as Account | null,
  quotes: new Map<string, PriceTrack>(),
  orders: new Map<string, Order>(),
  feeRequest: 0,
  stopStream: null as null | (() => void),
};

/** Trace ids of the orders sent from this browser, to link them to Jaeger. */
export const traces = {
  get: (orderId: string) => sessionStorage.getItem(`trace:${orderId}`),
  set: (orderId: string, traceId: string) => sessionStorage.setItem(`trace:${orderId}`, traceId),
};

/** 1234567 cents → "12,345.67" (exact: the digits of the decimal string, grouped). */
export function money(cents: number): string {
  const [whole = '0', fraction = '00'] = centsToDecimal(cents).split('.');
  const sign = whole.startsWith('-') ? '-' : '';
  return `${sign}${whole.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${fraction}`;
}
export const moneyOf = (decimal: string | null) => (decimal === null ? '–' : money(decimalToCents(decimal)));

export function showProblem(text: string | null): void {
  const box = $('problem');
  box.textContent = text ?? '';
  box.hidden = text === null;
}

export function handle(error: unknown, doing: string): void {
  if (error instanceof ApiError) {
    showProblem(problemInWords(error, doing));
    if (error.code === 'unauthorized') signOut(false);
  } else {
    showProblem(`Could not ${doing}: ${(error as Error).message}`);
  }
}

export function cell(row: HTMLTableRowElement, text: string, className = ''): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

export function signOut(clearProblem = true): void {
  state.stopStream?.();
  state.stopStream = null;
  api.token = null;
  sessionStorage.removeItem('token');
  state.orders.clear();
  state.quotes.clear();
  if (clearProblem) showProblem(null);
  $('trading-view').hidden = true;
  $('who').hidden = true;
  $('sign-in-view').hidden = false;
  $('username').focus();
}
