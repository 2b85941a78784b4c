// Every UI of the compose stack, where docker-compose.yml publishes it (deploy/test/compose.test.ts
// checks each port against the file). No I/O here.

export interface Link {
  title: string;
  url: string;
  what: string;
}

/** The Grafana boards (grafana/dashboards/*.json), by uid. */
const BOARDS = [
  ['simplebank-golden-signals', 'Service golden signals', 'requests, errors and latency of every service'],
  ['simplebank-saga', 'Sell-order saga', 'orders by state, saga steps and compensations'],
  ['simplebank-place-order', 'Place Order', "the book's timers, from the StatsD exporter"],
  ['simplebank-rabbitmq', 'RabbitMQ', 'queues, rates and parked messages'],
] as const;

export function links(host: string): Link[] {
  const at = (port: number, path = '/') => `http://${host}:${port}${path}`;
  return [
    { title: 'Place-order screen', url: at(8080), what: 'sign in as alice / alice-password and trade' },
    ...BOARDS.map(([uid, title, what]) => ({ title: `Grafana: ${title}`, url: at(3000, `/d/${uid}`), what })),
    {
      title: 'Jaeger',
      url: at(16686, '/search?service=gateway'),
      what: 'one trace per order, across every service',
    },
    {
      title: 'Kibana',
      url: at(5601, '/app/discover'),
      what: "the services' logs; the saved search One order's story",
    },
    {
      title: 'RabbitMQ management',
      url: at(15672),
      what: 'exchanges, queues, parked messages (simplebank / simplebank)',
    },
    { title: 'Prometheus', url: at(9090, '/alerts'), what: 'targets, rules and the alerts firing' },
    { title: 'Alertmanager', url: at(9093), what: 'alerts on their way to the alerts service' },
  ];
}
