// A burst of sell orders: the arrival rate climbs from a trickle to PEAK orders a second, holds,
// and falls back, as after market news. A tenth of the orders are followed to their end (TRACK).
// The run is aborted early when more than 5 % of requests fail.
// k6 run load/k6/burst.js -e BASE_URL=http://127.0.0.1:8080 -e PEAK=300
import { signInAll, trade } from './lib.js';

const peak = Number(__ENV.PEAK || 300);

export const options = {
  scenarios: {
    burst: {
      executor: 'ramping-arrival-rate',
      exec: 'burst',
      startRate: 10,
      timeUnit: '1s',
      preAllocatedVUs: Number(__ENV.VUS || 100),
      maxVUs: Number(__ENV.MAX_VUS || 500),
      stages: [
        { duration: '20s', target: 10 },
        { duration: '10s', target: peak },
        { duration: __ENV.HOLD || '60s', target: peak },
        { duration: '10s', target: 10 },
        { duration: '30s', target: 10 },
      ],
    },
  },
  thresholds: {
    'http_req_duration{kind:order}': ['p(95)<500', 'p(99)<1000'],
    http_req_failed: [{ threshold: 'rate<0.05', abortOnFail: true, delayAbortEval: '20s' }],
    checks: ['rate>0.95'],
    orders_terminal: ['rate>0.99'],
    order_completion: ['p(95)<5000'],
  },
};

export function setup() {
  return signInAll();
}

export function burst(data) {
  trade(data, 'sell', 0.1);
}
