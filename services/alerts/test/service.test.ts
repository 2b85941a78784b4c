import { type RunningService, startService } from '@simplebank/chassis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import alerts from '../src/service.ts';

let service: RunningService;

beforeAll(async () => {
  service = await startService(alerts, { env: { LOG_LEVEL: 'info', PORT: '0' }, listen: false });
});

afterAll(() => service?.stop());

const firing = {
  status: 'firing',
  labels: {
    alertname: 'MessagesAccumulatingInQueue',
    severity: 'warning',
    queue: 'evt-orders-order_created--market.place_order',
    vhost: '/',
  },
  annotations: {
    summary: 'Messages accumulating in queue evt-orders-order_created--market.place_order',
    runbook: 'prometheus/RUNBOOK.md#messagesaccumulatinginqueue',
  },
  startsAt: '2026-11-21T10:00:00.000Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus:9090/graph?g0.expr=…',
  fingerprint: 'a1b2c3d4e5f60718',
};
const resolved = {
  ...firing,
  status: 'resolved',
  labels: { alertname: 'ServiceDown', severity: 'critical', service: 'fees' },
  annotations: { summary: 'fees is down' },
  endsAt: '2026-11-21T10:05:00.000Z',
};

/** Alertmanager's webhook body (version 4) for these alerts. */
const webhook = (alertList: object[], extra: object = {}) => ({
  version: '4',
  groupKey: '{}:{alertname="MessagesAccumulatingInQueue"}',
  truncatedAlerts: 0,
  status: 'firing',
  receiver: 'alerts-service',
  groupLabels: { alertname: 'MessagesAccumulatingInQueue' },
  commonLabels: {},
  commonAnnotations: {},
  externalURL: 'http://alertmanager:9093',
  alerts: alertList,
  ...extra,
});

const post = (payload: unknown) =>
  service.app.inject({ method: 'POST', url: '/alerts', payload: payload as object });

/** The alert log lines among the last entries the service logged (shown on /health). */
const alertLines = async () => {
  const health = (await service.app.inject({ url: '/health' })).json();
  return (health.recent_logs as { event?: string }[]).filter((entry) => entry.event === 'alert');
};

describe('alerts service (Alertmanager webhook receiver)', () => {
  it('logs each alert as one structured JSON line, firing and resolved', async () => {
    const response = await post(webhook([firing, resolved]));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ received: 2 });
    const lines = await alertLines();
    expect(lines.slice(-2)).toEqual([
      expect.objectContaining({
        level: 'warn',
        service: 'alerts',
        event: 'alert',
        alertname: 'MessagesAccumulatingInQueue',
        status: 'firing',
        severity: 'warning',
        labels: firing.labels,
        annotations: firing.annotations,
        starts_at: firing.startsAt,
        fingerprint: firing.fingerprint,
        message: `alert MessagesAccumulatingInQueue firing: ${firing.annotations.summary}`,
      }),
      expect.objectContaining({
        level: 'info',
        event: 'alert',
        alertname: 'ServiceDown',
        status: 'resolved',
        severity: 'critical',
        labels: resolved.labels,
        starts_at: resolved.startsAt,
        ends_at: resolved.endsAt,
      }),
    ]);
  });

  it('counts the alerts it received in /metrics', async () => {
    await post(webhook([firing]));
    const metrics = (await service.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(
      /alerts_received_total\{[^}]*alertname="MessagesAccumulatingInQueue"[^}]*status="firing"[^}]*severity="warning"[^}]*\} [2-9]/,
    );
  });

  it('takes fields Alertmanager may add later', async () => {
    const response = await post(webhook([{ ...firing, silenceURL: 'http://x' }], { newField: true }));
    expect(response.statusCode).toBe(200);
  });

  it('refuses what is not an Alertmanager webhook with validation_failed, and logs nothing', async () => {
    const before = (await alertLines()).length;
    for (const payload of [
      {},
      webhook([{ ...firing, labels: { severity: 'warning' } }]), // no alertname
      webhook([{ ...firing, status: 'pending' }]),
      webhook([firing], { version: '3' }),
      webhook([{ ...firing, labels: { alertname: 'X', count: 3 } }]), // label values are strings
    ]) {
      const response = await post(payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
    }
    expect((await alertLines()).length).toBe(before);
  });

  it('answers health and readiness without a database or broker', async () => {
    expect((await service.app.inject({ url: '/health/ready' })).statusCode).toBe(200);
  });
});
