import { defineService, prometheus } from '@simplebank/chassis';
import { PORTS } from '@simplebank/contracts';
import { type Static, Type } from 'typebox';

const Labels = Type.Record(Type.String(), Type.String());

/** One alert of Alertmanager's webhook (payload version 4). */
const WebhookAlert = Type.Object({
  status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
  labels: Type.Intersect([Type.Object({ alertname: Type.String({ minLength: 1 }) }), Labels]),
  annotations: Labels,
  startsAt: Type.String({ minLength: 1 }),
  endsAt: Type.Optional(Type.String()),
  generatorURL: Type.Optional(Type.String()),
  fingerprint: Type.Optional(Type.String()),
});

/**
 * Alertmanager's webhook payload (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
 * Fields this service does not read may come and go with Alertmanager versions: they are allowed.
 */
export const AlertmanagerWebhook = Type.Object({
  version: Type.Literal('4'),
  status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
  receiver: Type.String(),
  groupKey: Type.Optional(Type.String()),
  groupLabels: Type.Optional(Labels),
  commonLabels: Type.Optional(Labels),
  commonAnnotations: Type.Optional(Labels),
  externalURL: Type.Optional(Type.String()),
  truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
  alerts: Type.Array(WebhookAlert, { maxItems: 1000 }),
});
export type AlertmanagerWebhook = Static<typeof AlertmanagerWebhook>;

/**
 * The book's alerts service (§11.2.4): Alertmanager's webhook receiver. It logs each alert it is
 * sent, firing or resolved, as one JSON line (`event: "alert"`), for the log pipeline to keep and
 * for a person (or, later, an autoscaler) to act on.
 */
export default defineService({
  name: 'alerts',
  version: '0.1.0',
  port: PORTS.alerts,
  broker: false,

  setup: (svc) => ({
    received: new prometheus.Counter({
      name: 'alerts_received_total',
      help: 'Alerts received from Alertmanager, by alert name, status and severity',
      labelNames: ['alertname', 'status', 'severity'],
      registers: [svc.metrics.registry],
    }),
  }),

  routes: (app, svc, { received }) => {
    app.post(
      '/alerts',
      // Alertmanager sends every alert of a group in one request: more than the API's 64 KiB.
      { bodyLimit: 1024 * 1024, schema: { body: AlertmanagerWebhook } },
      async (request, reply) => {
        const webhook = request.body as AlertmanagerWebhook;
        for (const alert of webhook.alerts) {
          const { alertname, severity = 'none' } = alert.labels as { alertname: string; severity?: string };
          received.inc({ alertname, status: alert.status, severity });
          svc.log[alert.status === 'firing' ? 'warn' : 'info'](
            {
              event: 'alert',
              alertname,
              status: alert.status,
              severity,
              labels: alert.labels,
              annotations: alert.annotations,
              starts_at: alert.startsAt,
              ends_at: alert.endsAt ?? null,
              fingerprint: alert.fingerprint ?? null,
              receiver: webhook.receiver,
            },
            `alert ${alertname} ${alert.status}${alert.annotations.summary ? `: ${alert.annotations.summary}` : ''}`,
          );
        }
        return reply.status(200).send({ received: webhook.alerts.length });
      },
    );
  },
});
