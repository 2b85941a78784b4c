// Customers selling (the book's siege, as k6) or buying shares at a steady rate; each order is
// followed to its end. A buy reserves its limit price (quote plus collar) times the quantity plus
// the fee, so seeded cash must cover it.
// k6 run load/k6/trade.js -e BASE_URL=http://127.0.0.1:8080 -e SIDE=sell -e RATE=50 -e DURATION=2m
import { signInAll, trade } from './lib.js';

const SIDE = __ENV.SIDE || 'sell';
if (SIDE !== 'sell' && SIDE !== 'buy') throw new Error(`SIDE must be sell or buy, not ${SIDE}`);

export const options = {
  scenarios: {
    trade: {
      executor: 'constant-arrival-rate',
      exec: 'steadyTrade',
      rate: Number(__ENV.RATE || 50),
      timeUnit: '1s',
      duration: __ENV.DURATION || '2m',
      preAllocatedVUs: Number(__ENV.VUS || 50),
      maxVUs: Number(__ENV.MAX_VUS || 200),
    },
  },
  thresholds: {
    'http_req_duration{kind:order}': ['p(95)<250', 'p(99)<500'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    orders_terminal: ['rate>0.99'],
    order_completion: ['p(95)<2000'],
  },
};

export function setup() {
  return signInAll();
}

export function steadyTrade(data) {
  trade(data, SIDE);
}
