import { setTimeout as sleep } from 'node:timers/promises';
import { type Static, Type } from 'typebox';
import type { App } from './http.ts';
import type { Logger } from './logger.ts';

export const Faults = Type.Object({
  /** Wait before each event handler runs. */
  handler_delay_ms: Type.Integer({ minimum: 0, maximum: 3_600_000 }),
  /** Share of handler runs (0 to 1) that fail, after the delay, as a thrown Error. */
  handler_failure_rate: Type.Number({ minimum: 0, maximum: 1 }),
});
export type Faults = Static<typeof Faults>;
const FaultChanges = Type.Partial(Faults, { additionalProperties: false });

/** The error an injected handler failure throws: an ordinary Error, so the message is retried. */
export class InjectedFault extends Error {
  override name = 'InjectedFault';
}

/**
 * A switch per service that slows or fails its event handlers at run time, to see retries, parking
 * and a slow consumer happen (`PUT /admin/faults`, or FAULT_HANDLER_DELAY_MS and
 * FAULT_HANDLER_FAILURE_RATE at start).
 */
export class FaultSwitch {
  private current: Faults;

  constructor(
    initial: Faults,
    private readonly log: Logger,
    private readonly random: () => number = Math.random,
  ) {
    this.current = { ...initial };
    if (this.active) log.warn({ faults: this.current }, 'fault injection on');
  }

  get faults(): Faults {
    return { ...this.current };
  }

  get active(): boolean {
    return this.current.handler_delay_ms > 0 || this.current.handler_failure_rate > 0;
  }

  set(changes: Partial<Faults>): Faults {
    this.current = { ...this.current, ...changes };
    this.log.warn({ faults: this.current }, this.active ? 'fault injection changed' : 'fault injection off');
    return this.faults;
  }

  /** Runs before each event handler: waits the delay, then fails with the configured rate. */
  async beforeHandler(): Promise<void> {
    const { handler_delay_ms: delay, handler_failure_rate: rate } = this.current;
    if (delay > 0) await sleep(delay);
    if (rate > 0 && this.random() < rate) {
      throw new InjectedFault(`injected fault (handler_failure_rate ${rate})`);
    }
  }
}

/**
 * `GET /admin/faults` and `PUT /admin/faults { handler_delay_ms?, handler_failure_rate? }`. Every
 * service is internal except the gateway, whose `/admin/*` must not be reachable from outside.
 */
export function registerFaultRoutes(app: App, faults: FaultSwitch): void {
  const response = { 200: Faults };
  app.get('/admin/faults', { schema: { response } }, async () => faults.faults);
  app.put('/admin/faults', { schema: { body: FaultChanges, response } }, async ({ body }) =>
    faults.set(body as Partial<Faults>),
  );
}
