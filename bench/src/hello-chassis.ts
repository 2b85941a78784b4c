// The chassis-cost subject: the route of hello-bare.ts served by the chassis, as every service is
// (request logging, RED metrics, tracing through `--import @simplebank/chassis/telemetry`).
import { defineService, runService } from '@simplebank/chassis';

await runService(
  defineService({
    name: 'hello',
    version: '0.1.0',
    port: 0, // PORT in the environment wins
    routes: (app) => {
      app.get('/hello', async () => ({ hello: 'world' }));
    },
  }),
);
