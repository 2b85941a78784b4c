import { decimalToCents } from '@simplebank/contracts/money';
import { loadAccount } from './holdings.ts';
import { inDoubt, untilAnswered } from './order-intent.ts';
import { announce, remember, renderOrders } from './orders.ts';
import { $, api, handle, intent, money, showProblem, state, traces } from './state.ts';

// The screen's order entry: what an order costs before it is sent, and sending it once.

const orderInput = () => {
  const side = (document.querySelector('input[name="side"]:checked') as HTMLInputElement).value as
    | 'sell'
    | 'buy';
  const symbol = $<HTMLSelectElement>('symbol').value;
  const raw = $<HTMLInputElement>('quantity').value;
  const quantity = /^[1-9]\d{0,6}$/.test(raw) ? Number(raw) : 0;
  return { side, symbol, quantity };
};

function setCost(price = '–', value = '–', fee = '–', total = '–', after = '–'): void {
  $('cost-price').textContent = price;
  $('cost-value').textContent = value;
  $('cost-fee').textContent = fee;
  $('cost-total').textContent = total;
  $('cost-after').textContent = after;
}

/** quantity × price, the fee from the fees service, the total and what the account holds after. */
export async function renderCost(): Promise<void> {
  const { side, symbol, quantity } = orderInput();
  $('cost-total-label').textContent = side === 'sell' ? 'Total you receive' : 'Total you pay';
  const track = state.quotes.get(symbol);
  if (!track || quantity === 0 || !state.account) {
    setCost(track ? money(track.cents) : '–');
    return;
  }
  const valueCents = quantity * track.cents;
  const request = ++state.feeRequest;
  let feeCents: number;
  try {
    feeCents = decimalToCents((await api.fee(side, symbol, quantity)).fee);
  } catch (error) {
    if (request === state.feeRequest) {
      setCost(money(track.cents), money(valueCents), 'unavailable');
      handle(error, 'work out the fee');
    }
    return;
  }
  if (request !== state.feeRequest) return; // a newer input is being priced
  const totalCents = side === 'sell' ? valueCents - feeCents : valueCents + feeCents;
  const held = state.account.positions.find((p) => p.symbol === symbol)?.quantity ?? 0;
  const cashCents = decimalToCents(state.account.cash.available);
  const sharesAfter = side === 'sell' ? held - quantity : held + quantity;
  const cashAfter = side === 'sell' ? cashCents + totalCents : cashCents - totalCents;
  // said before sending; the saga decides (the holdings shown may be a moment old)
  const short =
    sharesAfter < 0
      ? ` — you hold only ${held} ${symbol}`
      : cashAfter < 0
        ? ' — more than the cash available'
        : '';
  setCost(
    money(track.cents),
    money(valueCents),
    money(feeCents),
    money(totalCents),
    `${sharesAfter} ${symbol} and ${money(cashAfter)} cash${short}`,
  );
  $('cost-after').classList.toggle('down', short !== '');
}

export async function sendOrder(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const { side, symbol, quantity } = orderInput();
  if (quantity === 0) {
    showProblem('Enter a whole number of shares, at least 1.');
    $('quantity').focus();
    return;
  }
  showProblem(null);
  const button = $<HTMLButtonElement>('send');
  button.disabled = true;
  // one key per order the customer means: retries, and Send pressed again on the same terms after
  // no answer, carry it, so a lost answer never places a second order
  const key = intent.keyFor({ accountId: state.accountId, side, symbol, quantity });
  try {
    const { body, traceId } = await untilAnswered(
      () => api.place(side, state.accountId, symbol, quantity, key),
      { onRetry: () => showProblem('No answer yet: trying again with the same order…') },
    );
    intent.answered();
    showProblem(null);
    if (traceId) traces.set(body.order_id, traceId);
    const now = new Date().toISOString();
    remember({
      order_id: body.order_id,
      account_id: state.accountId,
      side,
      symbol,
      quantity,
      status: 'created',
      limit_price: '0.00',
      fee: null,
      fill_price: null,
      reason: null,
      created_at: now,
      updated_at: now,
    });
    // its news may have come first, read by a refresh before this answer: say where it is
    const known = state.orders.get(body.order_id);
    if (known && known.status !== 'created') announce(known, known.status, known.reason);
    renderOrders();
    void loadAccount();
  } catch (error) {
    if (!inDoubt(error)) intent.answered();
    handle(error, `${side} ${quantity} ${symbol}`);
  } finally {
    button.disabled = false;
  }
}
