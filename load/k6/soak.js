// The soak: browsing, selling and buying together at a modest rate for a long time (DURATION,
// default 30 minutes), to show slow leaks, growing queues and tokens expiring mid-run (VUs sign
// in again). Latency must hold for the whole run; a twentieth of the orders are followed to their end.
// k6 run load/k6/soak.js -e BASE_URL=http://127.0.0.1:8080 -e DURATION=30m -e RATE=20
import { sleep } from 'k6';
import { beginIteration, browse as browsePages, session, signInAll, trade } from './lib.js';

const duration = __ENV.DURATION || '30m';
const rate = Number(__ENV.RATE || 20);

export const options = {
  scenarios: {
    browse: {
      executor: 'constant-vus',
      exec: 'browse',
      vus: Number(__ENV.BROWSE_VUS || 10),
      duration,
    },
    sell: {
      executor: 'constant-arrival-rate',
      exec: 'sell',
      rate,
      timeUnit: '1s',
      duration,
      preAllocatedVUs: 20,
      maxVUs: 100,
    },
    buy: {
      executor: 'constant-arrival-rate',
      exec: 'buy',
      rate: Math.max(1, Math.round(rate / 2)),
      timeUnit: '1s',
      duration,
      preAllocatedVUs: 10,
      maxVUs: 50,
    },
  },
  thresholds: {
    'http_req_duration{kind:order}': ['p(95)<250', 'p(99)<500'],
    'http_req_duration{kind:browse}': ['p(95)<200'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    orders_terminal: ['rate>0.99'],
    order_completion: ['p(95)<2000'],
  },
};

export function setup() {
  return signInAll();
}

export function browse(data) {
  beginIteration();
  browsePages(session(data));
  sleep(1);
}

export function sell(data) {
  trade(data, 'sell', 0.05);
}

export function buy(data) {
  trade(data, 'buy', 0.05);
}
