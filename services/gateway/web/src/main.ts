import { loadAccount, renderHoldings } from './holdings.ts';
import { renderCost, sendOrder } from './order-entry.ts';
import { loadOrders, startStream } from './orders.ts';
import { updateQuotes } from './quotes.ts';
import { $, api, handle, showProblem, signOut, state } from './state.ts';
import './style.css';

// The place-order screen (book §2.4), in four sections: holdings (holdings.ts), market data
// (quotes.ts), order entry with its cost (order-entry.ts), and the orders' status as it changes
// (orders.ts). This file signs in and out and wires the page's controls to them. The sections
// call one another only from inside functions (a fresh account re-prices the order being entered),
// so the cycles among their imports are resolved before any call.

async function enter(): Promise<void> {
  $('sign-in-view').hidden = true;
  $('trading-view').hidden = false;
  $('who').hidden = false;
  try {
    const [accounts, settings, quotes] = await Promise.all([api.accounts(), api.settings(), api.quotes()]);
    state.jaeger = settings.jaeger_ui_url;
    const select = $<HTMLSelectElement>('account');
    select.replaceChildren(...accounts.map((a) => new Option(a.account_id, a.account_id)));
    state.accountId = accounts[0]?.account_id ?? '';
    state.account = accounts[0] ?? null;
    $('who-name').textContent = `Signed in as ${accounts[0]?.owner ?? ''}`;
    updateQuotes(quotes);
    renderHoldings();
    await loadOrders();
    startStream();
  } catch (error) {
    handle(error, 'load your accounts');
  }
}

$('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = $<HTMLInputElement>('username').value.trim();
  const password = $<HTMLInputElement>('password').value;
  if (!username || !password) {
    showProblem('Enter your username and password.');
    return;
  }
  try {
    await api.signIn(username, password);
    sessionStorage.setItem('token', api.token ?? '');
    showProblem(null);
    $<HTMLInputElement>('password').value = '';
    await enter();
  } catch (error) {
    handle(error, 'sign in');
  }
});
$('sign-out').addEventListener('click', () => signOut());
$('account').addEventListener('change', () => {
  state.accountId = $<HTMLSelectElement>('account').value;
  state.orders.clear();
  void loadAccount();
  void loadOrders();
  startStream();
});
$('order-form').addEventListener('submit', (event) => void sendOrder(event as SubmitEvent));
$('order-form').addEventListener('input', () => void renderCost());

// a reload keeps the session of this tab
const saved = sessionStorage.getItem('token');
if (saved) {
  api.token = saved;
  void enter();
} else {
  $('username').focus();
}
