import { request as httpRequest } from 'node:http';
import { url } from '../system.ts';

// Raw HTTP: node:http sends the path, headers and bytes exactly as given (fetch would normalise
// `..`, refuse some headers and always set a content length).

export interface HostileRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** Sent with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

export interface RawAnswer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

export const gateway = () => new URL(url.gateway);

export function send(request: HostileRequest): Promise<RawAnswer> {
  const { hostname, port } = gateway();
  const headers = { ...request.headers };
  if (request.body !== undefined && !request.chunked)
    headers['content-length'] = String(Buffer.byteLength(request.body));
  return new Promise((resolve, reject) => {
    let answered = false;
    const outgoing = httpRequest(
      { host: hostname, port, method: request.method, path: request.path, headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          answered = true;
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            headers: response.headers,
          });
        });
      },
    );
    outgoing.setTimeout(15_000, () => outgoing.destroy(new Error('no answer within 15 s')));
    // the gateway may answer (401, 413, 415) and close before it has read a large body
    outgoing.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (request.body === undefined) outgoing.end();
    else if (request.chunked) {
      const bytes = Buffer.from(request.body);
      for (let at = 0; at < bytes.length; at += 16 * 1024) outgoing.write(bytes.subarray(at, at + 16 * 1024));
      outgoing.end();
    } else outgoing.end(request.body);
  });
}
