// Customers looking around: quotes, their accounts and holdings, their latest orders, with a
// pause between pages. k6 run load/k6/browse.js -e BASE_URL=http://127.0.0.1:8080 -e VUS=50
import { sleep } from 'k6';
import { beginIteration, browse as browsePages, session, signInAll } from './lib.js';

const vus = Number(__ENV.VUS || 50);

export const options = {
  scenarios: {
    browse: {
      executor: 'ramping-vus',
      exec: 'browse',
      startVUs: 0,
      stages: [
        { duration: '30s', target: vus },
        { duration: __ENV.DURATION || '2m', target: vus },
        { duration: '15s', target: 0 },
      ],
    },
  },
  thresholds: {
    'http_req_duration{kind:browse}': ['p(95)<200', 'p(99)<400'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

export function setup() {
  return signInAll();
}

export function browse(data) {
  beginIteration();
  browsePages(session(data));
  sleep(Number(__ENV.THINK_S || 1));
}
