import {
  brokerPermissions,
  handlerQueue,
  OrderCreated,
  rpcTopicPermission,
  TradeExecuted,
} from '@simplebank/contracts';
import { describe, expect, it } from 'vitest';
import { brokerUserOf, publisherUser } from '../src/senders.ts';

describe('publisherUser: whom an event must come from', () => {
  it('a user named after the service: every service has its own, named alike', () => {
    expect(publisherUser('market', { service: 'account-transactions', user: 'account-transactions' })).toBe(
      'market',
    );
    expect(
      publisherUser('market', { service: 'account-transactions', user: 'simplebank.account-transactions' }),
    ).toBe('simplebank.market');
  });

  it('any other user is shared by all; AMQP_PUBLISHER_USERS says otherwise', () => {
    expect(publisherUser('market', { service: 'fees', user: 'guest' })).toBe('guest');
    expect(publisherUser('market', { service: 'fees', user: 'guest', template: 'prod-{service}' })).toBe(
      'prod-market',
    );
  });

  it("reads the broker user from the AMQP URL (AMQP's default: guest)", () => {
    expect(brokerUserOf('amqp://simplebank.fees:pw@mq:5672/v')).toBe('simplebank.fees');
    expect(brokerUserOf('amqp://mq:5672')).toBe('guest');
  });
});

describe("brokerPermissions: each service's own names only", () => {
  const matches = (regex: string, name: string) => new RegExp(regex).test(name);
  const settle = handlerQueue(TradeExecuted, 'account-transactions', 'settle_trade');

  it('lets the gateway write to the rpc exchange only: no events exchange, not the default exchange', () => {
    const { write, configure } = brokerPermissions('gateway');
    expect(['rpc'].filter((n) => matches(write, n))).toEqual(['rpc']);
    // (orders.events it may declare, to bind its live queues: consumers declare what they bind to)
    expect(matches(write, 'orders.events')).toBe(false);
    for (const name of ['market.events', 'amq.default', settle, `${settle}.retry.1`])
      expect({ name, write: matches(write, name), configure: matches(configure, name) }).toEqual({
        name,
        write: false,
        configure: false,
      });
    expect(rpcTopicPermission('gateway')).toEqual({ exchange: 'rpc', write: '^(rpc-orders)$', read: '^$' });
  });

  it('lets a consumer read its own queues and bind to its producers, and publish only its own events', () => {
    const { read, write } = brokerPermissions('account-transactions');
    for (const name of [settle, `${settle}.dlq`, `${settle}.retry.3`, 'market.events', 'orders.events'])
      expect({ name, read: matches(read, name) }).toEqual({ name, read: true });
    const fees = handlerQueue(OrderCreated, 'fees', 'charge_fee');
    for (const name of [fees, `${fees}.dlq`, 'rpc-orders'])
      expect({ name, read: matches(read, name) }).toEqual({ name, read: false });
    expect(matches(write, 'account-transactions.events')).toBe(true);
    expect(matches(write, 'market.events')).toBe(false);
    expect(rpcTopicPermission('account-transactions')).toBeUndefined();
  });
});
