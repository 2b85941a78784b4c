import { createHash, timingSafeEqual } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { captureStatements } from './database.ts';
import { type App, errorBody } from './http.ts';
import type { Logger } from './logger.ts';

const ProfileQuery = Type.Object(
  { seconds: Type.Integer({ minimum: 1, maximum: 60, default: 5 }) },
  { additionalProperties: false },
);

/** Whether `given` is the token, compared in constant time (digests hide the lengths too). */
export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/**
 * `POST /debug/profile?seconds=5` (a CPU profile, `.cpuprofile` JSON for Chrome DevTools) and
 * `POST /debug/heap-snapshot` (a `.heapsnapshot`, streamed), taken with `node:inspector` in the
 * service's own process; `POST /debug/statements?seconds=5`, every SQL statement it sends meanwhile,
 * with its values (the bench's exact-work floor replays them). Only with a `DEBUG_TOKEN` (`Authorization: Bearer <token>`, else 401);
 * without one they are not there (404), and a public service never gets them.
 */
export function registerDebugRoutes(app: App, options: { token: string | undefined; log: Logger }): boolean {
  const { token, log } = options;
  if (!token) return false;
  let busy = false;

  const authorized = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    if (!tokenMatches(given, token))
      return reply
        .status(401)
        .header('www-authenticate', 'Bearer')
        .send(errorBody('unauthorized', 'a debug token is required'));
  };

  /** One inspector session at a time: a profile or snapshot is heavy, and they would interfere. */
  const withSession = async <T>(work: (session: Session) => Promise<T>): Promise<T> => {
    const session = new Session();
    session.connect();
    try {
      return await work(session);
    } finally {
      session.disconnect();
    }
  };

  app.post(
    '/debug/profile',
    { onRequest: authorized, schema: { querystring: ProfileQuery } },
    async (request, reply) => {
      if (busy) return reply.status(409).send(errorBody('busy', 'a profile or snapshot is being taken'));
      busy = true;
      const { seconds } = request.query as { seconds: number };
      log.warn({ seconds }, 'CPU profile requested');
      try {
        const profile = await withSession(async (session) => {
          await session.post('Profiler.enable');
          await session.post('Profiler.start');
          await sleep(seconds * 1000);
          const { profile } = await session.post('Profiler.stop');
          await session.post('Profiler.disable');
          return profile;
        });
        return reply
          .header('content-disposition', `attachment; filename="${Date.now()}.cpuprofile"`)
          .type('application/json')
          .send(JSON.stringify(profile));
      } finally {
        busy = false;
      }
    },
  );

  app.post(
    '/debug/statements',
    { onRequest: authorized, schema: { querystring: ProfileQuery } },
    async (request, reply) => {
      const { seconds } = request.query as { seconds: number };
      log.warn({ seconds }, 'statement capture requested');
      try {
        return { statements: await captureStatements(seconds * 1000) };
      } catch (error) {
        return reply.status(409).send(errorBody('busy', (error as Error).message));
      }
    },
  );

  app.post('/debug/heap-snapshot', { onRequest: authorized }, async (_request, reply) => {
    if (busy) return reply.status(409).send(errorBody('busy', 'a profile or snapshot is being taken'));
    busy = true;
    log.warn('heap snapshot requested');
    const out = new PassThrough();
    // The snapshot is written in chunks while it is taken; the response streams them.
    withSession(async (session) => {
      session.on('HeapProfiler.addHeapSnapshotChunk', (message) => out.write(message.params.chunk));
      await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    })
      .then(
        () => out.end(),
        (error: unknown) => {
          log.error({ error }, 'heap snapshot failed');
          out.destroy(error as Error);
        },
      )
      .finally(() => {
        busy = false;
      });
    return reply
      .header('content-disposition', `attachment; filename="${Date.now()}.heapsnapshot"`)
      .type('application/json')
      .send(out);
  });
  return true;
}
