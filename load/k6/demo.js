// The compose stack's own load (docker-compose.yml, `loadgen`): the demo customers trade one share
// at a gentle rate, selling and buying in turn so their holdings stay about where they started, and
// every order is followed to its end, so the boards, traces and logs fill from the first minute.
// Paused and resumed through k6's REST API (the landing page's switch), not by stopping it.
// k6 run load/k6/demo.js -e BASE_URL=http://127.0.0.1:8080 -e CREDENTIALS=./demo-customers.json
import { awaitTerminal, beginIteration, browse, placeOrder, session, signInAll } from './lib.js';

/** What each demo account holds at the start (README, "Demo customers and accounts"). */
const HOLDINGS = { 'acc-alice': ['ACME', 'GLOBEX'], 'acc-bob': ['INITECH', 'ACME'] };

export const options = {
  scenarios: {
    demo: {
      executor: 'constant-arrival-rate',
      exec: 'demo',
      rate: Number(__ENV.RATE || 2),
      timeUnit: '1s',
      duration: __ENV.DURATION || '24h',
      preAllocatedVUs: Number(__ENV.VUS || 4),
      maxVUs: Number(__ENV.MAX_VUS || 20),
    },
  },
  // a demo, not a test: loose thresholds, reported at the end, never an early stop
  thresholds: {
    'http_req_duration{kind:order}': ['p(95)<2000'],
    http_req_failed: ['rate<0.05'],
    orders_terminal: ['rate>0.9'],
  },
};

export function setup() {
  return signInAll();
}

let orders = 0;
export function demo(data) {
  beginIteration();
  const current = session(data);
  const symbols = HOLDINGS[current.account_id] || ['ACME'];
  const symbol = symbols[orders % symbols.length];
  const side = Math.floor(orders / symbols.length) % 2 === 0 ? 'sell' : 'buy';
  orders += 1;
  const orderId = placeOrder(current, side, symbol);
  if (orderId) awaitTerminal(current, orderId);
  if (orders % 10 === 0) browse(current);
}
