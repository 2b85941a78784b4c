import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';

/** A local port nothing listens on (port 1 would not do: fetch refuses it as a "bad port"). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A stand-in upstream on a local port: answers each GET from `answers` by path, and records it. */
export interface FakeUpstream {
  url: string;
  /** Every request's path and query, in arrival order. */
  requests: string[];
  /** What a path (without its query) answers; anything else is a 404. */
  answers: Map<string, { status: number; body: unknown }>;
  close(): Promise<void>;
}

export async function fakeUpstream(): Promise<FakeUpstream> {
  const requests: string[] = [];
  const answers = new Map<string, { status: number; body: unknown }>();
  const server = createHttpServer((request, response) => {
    const url = request.url ?? '/';
    requests.push(url);
    const answer = answers.get(url.split('?')[0] ?? url) ?? {
      status: 404,
      body: { error: { code: 'not_found', message: `no route ${url}` } },
    };
    response
      .writeHead(answer.status, { 'content-type': 'application/json' })
      .end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answers,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
