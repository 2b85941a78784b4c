import { readFileSync } from 'node:fs';
import { defineService, HttpError } from '@simplebank/chassis';
import { localUrl, PORTS } from '@simplebank/contracts';
import { type Static, Type } from 'typebox';
import { links } from './links.ts';
import { type FaultTarget, isOn, SCENARIOS, scenarioNamed } from './scenarios.ts';

const ConsoleConfig = Type.Object({
  /** The host the browser reaches the published UIs on. */
  PUBLIC_HOST: Type.String({ default: 'localhost' }),
  /** k6's REST API in the load generator (`k6 run --address`). */
  LOADGEN_URL: Type.String({ default: 'http://127.0.0.1:6565' }),
  EXCHANGE_URL: Type.String({ default: localUrl('stock-exchange') }),
  FEES_URL: Type.String({ default: localUrl('fees') }),
});

const LoadChange = Type.Object({ paused: Type.Boolean() }, { additionalProperties: false });
const ScenarioChange = Type.Object({ on: Type.Boolean() }, { additionalProperties: false });

const page = readFileSync(new URL('../page/index.html', import.meta.url), 'utf8');

/** A call to another part of the stack: its JSON answer, or a 502 that names it. */
async function call(what: string, url: string, init: RequestInit = {}): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(3000) });
  } catch (error) {
    throw new HttpError(502, 'upstream_unavailable', `${what} did not answer: ${(error as Error).message}`);
  }
  if (!response.ok) {
    throw new HttpError(
      502,
      'upstream_failed',
      `${what} answered ${response.status}: ${await response.text()}`,
    );
  }
  return response.json();
}

/**
 * The compose demo's landing page (docker-compose.yml `console`, http://localhost:8070): a link to
 * each UI, a switch for the load generator and one per named fault scenario, with what to watch
 * while it is on. The page asks this service, which alone holds the admin credential the fault
 * switches need; it is published on 127.0.0.1 only, as every UI of the demo.
 */
export default defineService({
  name: 'console',
  version: '0.1.0',
  port: PORTS.console,
  broker: false,
  adminFaults: false,
  config: ConsoleConfig,

  routes: (app, { config }) => {
    const faultsUrl = (target: FaultTarget) =>
      `${target === 'exchange' ? config.EXCHANGE_URL : config.FEES_URL}/admin/faults`;
    const admin = () => {
      if (!config.ADMIN_TOKEN) {
        throw new HttpError(
          503,
          'admin_token_missing',
          'the console has no ADMIN_TOKEN: the fault switches need one',
        );
      }
      return { authorization: `Bearer ${config.ADMIN_TOKEN}`, 'content-type': 'application/json' };
    };
    const faultsOf = (target: FaultTarget) =>
      call(target, faultsUrl(target), { headers: admin() }) as Promise<Record<string, unknown>>;
    /** k6's status, as GET and PATCH /v1/status answer it (JSON:API). */
    const loadStatus = async (init?: RequestInit) => {
      const status = (await call('the load generator', `${config.LOADGEN_URL}/v1/status`, init)) as {
        data: { attributes: { paused: boolean; running: boolean; vus: number } };
      };
      const { paused, running, vus } = status.data.attributes;
      return { paused, running, vus };
    };
    const scenarios = async () => {
      const [exchange, fees] = await Promise.all([faultsOf('exchange'), faultsOf('fees')]);
      const now = { exchange, fees };
      return SCENARIOS.map((scenario) => ({
        name: scenario.name,
        title: scenario.title,
        watch: scenario.watch,
        on: isOn(scenario, now[scenario.target]),
      }));
    };

    app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));

    app.get('/api/console', async () => {
      // each part answers or says why not: the page shows what it can
      const [loadState, scenarioStates] = await Promise.allSettled([loadStatus(), scenarios()]);
      return {
        links: links(config.PUBLIC_HOST),
        load:
          loadState.status === 'fulfilled' ? loadState.value : { error: String(loadState.reason.message) },
        scenarios:
          scenarioStates.status === 'fulfilled'
            ? scenarioStates.value
            : { error: String(scenarioStates.reason.message) },
      };
    });

    app.put('/api/load', { schema: { body: LoadChange } }, async ({ body }) => {
      const { paused } = body as Static<typeof LoadChange>;
      // k6 answers the change with its status: no second read
      return loadStatus({
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: { type: 'status', id: 'default', attributes: { paused } } }),
      });
    });

    app.put('/api/scenarios/:name', { schema: { body: ScenarioChange } }, async ({ params, body }) => {
      const scenario = scenarioNamed((params as { name: string }).name);
      if (!scenario)
        throw new HttpError(404, 'unknown_scenario', `no scenario ${(params as { name: string }).name}`);
      const { on } = body as Static<typeof ScenarioChange>;
      // both /admin/faults answer a change with the faults now in force
      const now = (await call(scenario.target, faultsUrl(scenario.target), {
        method: 'PUT',
        headers: admin(),
        body: JSON.stringify(on ? scenario.on : scenario.off),
      })) as Record<string, unknown>;
      return { name: scenario.name, on: isOn(scenario, now) };
    });
  },
});
