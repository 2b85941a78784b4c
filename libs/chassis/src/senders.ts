import type { EventDefinition } from '@simplebank/contracts';
import type { AsyncMessage, Connection } from 'rabbitmq-client';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { rpcRoutes } from './topology.ts';

/**
 * On a copy a service sends itself (retry, parking): the broker user of the original's publisher.
 * Believed only on a message whose `user_id` is the consuming service's own.
 */
export const PUBLISHER_HEADER = 'x-publisher';

/** The broker user an AMQP URL connects as (AMQP's default: guest). */
export function brokerUserOf(url: string): string {
  return decodeURIComponent(new URL(url).username) || 'guest';
}

/**
 * Whom `source`'s events must come from, as a broker user. `template` (AMQP_PUBLISHER_USERS) is a
 * user name in which `{service}` stands for the producer's name. Without one, the consuming service's
 * own user tells the scheme: a user named after the service (`market`, or `<prefix>.market`) means
 * every service has its own, named alike; any other (guest in development) is shared by all.
 */
export function publisherUser(
  source: string,
  { service, user, template }: { service: string; user: string; template?: string | undefined },
): string {
  if (template) return template.replaceAll('{service}', source);
  if (user === service) return source;
  if (user.endsWith(`.${service}`)) return `${user.slice(0, -service.length)}${source}`;
  return user;
}

/**
 * Who sent a delivery, as the broker vouches for it (its `user_id`, which the broker checks against
 * the publishing connection's user), and whether that sender may send it to this service.
 */
export class Senders {
  /** The broker users of the clients the contracts let call this service, worked out once. */
  private readonly callers: string[];

  constructor(
    private readonly service: string,
    /** This service's own broker user. */
    private readonly user: string,
    /** AMQP_PUBLISHER_USERS: `{service}` stands for the producer. */
    private readonly template: string | undefined,
  ) {
    this.callers = rpcRoutes.filter((r) => r.server === service).map((r) => this.userOf(r.client));
  }

  /**
   * A copy this service made itself (a retry, a parked message replayed as this service) carries its
   * own user, and the original's in `x-publisher`.
   */
  publisherOf(message: AsyncMessage): string | undefined {
    if (message.userId !== undefined && message.userId === this.user) {
      const original = message.headers?.[PUBLISHER_HEADER];
      if (typeof original === 'string') return original;
    }
    return message.userId;
  }

  /** The header a copy sent under this service's own user keeps the original publisher in. */
  publisherHeader(message: AsyncMessage): Record<string, string> {
    const publisher = this.publisherOf(message);
    return publisher === undefined ? {} : { [PUBLISHER_HEADER]: publisher };
  }

  /** Why an event did not come from its declared producer (contracts' `source`); none if it did. */
  publisherProblem(message: AsyncMessage, event: EventDefinition): string | undefined {
    const expected = this.userOf(event.source);
    const publisher = this.publisherOf(message);
    if (publisher === expected) return undefined;
    return publisher === undefined
      ? `publisher: no user_id; a ${event.name} comes from ${event.source} (broker user ${expected})`
      : `publisher: broker user ${publisher} may not publish a ${event.name}; it comes from ${event.source} (broker user ${expected})`;
  }

  /**
   * Why a request's sender may not call this service: only the clients the contracts name
   * (`rpcRoutes`), by their broker user. A service no route names (a test fixture) takes any caller.
   */
  callerProblem(message: AsyncMessage): string | undefined {
    if (this.callers.length === 0) return undefined;
    if (message.userId !== undefined && this.callers.includes(message.userId)) return undefined;
    return `broker user ${message.userId ?? '(none)'} may not call ${this.service}`;
  }

  private userOf(source: string): string {
    return publisherUser(source, { service: this.service, user: this.user, template: this.template });
  }
}

/** What the broker's parts share: the service's connection, who it is, and where it reports. */
export interface BrokerLink {
  connection: Connection;
  service: string;
  /** The broker user this service connects as: the `user_id` of everything it publishes. */
  user: string;
  senders: Senders;
  log: Logger;
  metrics: Metrics;
}
