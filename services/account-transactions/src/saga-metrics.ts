import { type Metrics, prometheus } from '@simplebank/chassis';

/**
 * `saga_compensations_total{compensation,reason}` (issue 4): the compensations this service ran
 * that undid something, by the OrderFailed reason (or `expired`); orders counts C1 the same way.
 */
export const compensationsCounter = (registry: Metrics['registry']) =>
  new prometheus.Counter({
    name: 'saga_compensations_total',
    help: 'Compensations run, by compensation (C1 orders, C2 account-transactions, C3 fees) and reason',
    labelNames: ['compensation', 'reason'],
    registers: [registry],
  });
