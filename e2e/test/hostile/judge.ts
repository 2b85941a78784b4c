import fc from 'fast-check';
import { type Category, TABLE } from './answers.ts';
import { type HostileRequest, type RawAnswer, send } from './raw-http.ts';

// Sending a generated case, judging its answer against the documented ones, and counting what
// was sent and seen (printed at the end); each property runs from a fixed seed.

export const SEED = Number(process.env.HOSTILE_SEED ?? 20_240_611);

// What was sent and seen, printed at the end.

export const sent = new Map<Category, { requests: number; statuses: Map<string, number> }>();
export function tally(category: Category, answer: RawAnswer, code: string | undefined) {
  const row = sent.get(category) ?? { requests: 0, statuses: new Map<string, number>() };
  row.requests += 1;
  const seen = code === undefined ? String(answer.status) : `${answer.status} ${code}`;
  row.statuses.set(seen, (row.statuses.get(seen) ?? 0) + 1);
  sent.set(category, row);
}
export const totalSent = () => [...sent.values()].reduce((sum, row) => sum + row.requests, 0);

// A generated case: the request and the answers its oracle allows.

export interface Outcome {
  status: number;
  /** The error code; none for a success. */
  code?: string;
  /** A replayed idempotent answer: this exact body, with `Idempotent-Replayed: true`. */
  replay?: unknown;
}

export interface Case {
  request: HostileRequest;
  expected: Outcome[];
}

export const fail = (status: number, code: string): Outcome => ({ status, code });
export const ok = (status = 200): Outcome => ({ status });

export const preview = (value: string | Buffer | undefined, max = 240) => {
  if (value === undefined) return '(none)';
  const text = typeof value === 'string' ? value : `<${value.length} bytes> ${value.toString('latin1')}`;
  const shown = JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
  return `${shown} (${Buffer.byteLength(value)} bytes)`;
};

export function describeRequest({ method, path, headers, body, chunked }: HostileRequest): string {
  const shownHeaders = Object.entries(headers).map(([name, value]) => `${name}: ${preview(value, 120)}`);
  return `${method} ${preview(path, 300)} [${shownHeaders.join('; ')}] body ${preview(body)}${chunked ? ' chunked' : ''}`;
}

/** A case as fast-check prints a counterexample: readable, large bodies cut. */
export function hostile(request: HostileRequest, expected: Outcome[]): Case {
  return {
    request,
    expected,
    [fc.toStringMethod]: () =>
      `${describeRequest(request)} → expects ${expected.map((o) => `${o.status} ${o.code ?? ''}`).join(' | ')}`,
  } as Case;
}

export function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Checks one answer against its case and the category's row; returns what is wrong, if anything. */
export function judge(category: Category, { expected }: Case, answer: RawAnswer): string | undefined {
  const body = parseJson(answer.text) as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof body?.error?.code === 'string' ? body.error.code : undefined;
  tally(category, answer, code);
  if (answer.status >= 500) return `a ${answer.status} for bad input`;
  if (answer.status >= 400) {
    const error = body?.error;
    if (
      typeof body !== 'object' ||
      body === null ||
      typeof error !== 'object' ||
      error === null ||
      typeof error.code !== 'string' ||
      typeof error.message !== 'string'
    )
      return 'the body is not { error: { code, message } }';
    const extra = Object.keys(body).filter(
      (key) => key !== 'error' && !(code === 'order_not_cancelable' && key === 'status'),
    );
    if (extra.length > 0) return `unexpected fields beside error: ${extra.join(', ')}`;
    if (code === 'unauthorized' && !String(answer.headers['www-authenticate'] ?? '').startsWith('Bearer'))
      return '401 without WWW-Authenticate: Bearer';
  }
  const seen = code === undefined || answer.status < 400 ? String(answer.status) : `${answer.status} ${code}`;
  if (!TABLE[category].includes(seen))
    return `${seen} is not among the documented answers ${TABLE[category].join(', ')}`;
  const match = expected.find(
    (outcome) => outcome.status === answer.status && (outcome.code === undefined || outcome.code === code),
  );
  if (!match) return `expected ${expected.map((o) => `${o.status} ${o.code ?? ''}`.trim()).join(' or ')}`;
  if (match.replay !== undefined) {
    if (answer.headers['idempotent-replayed'] !== 'true') return 'a replay without Idempotent-Replayed: true';
    if (JSON.stringify(body) !== JSON.stringify(match.replay))
      return `a replay of another answer than ${JSON.stringify(match.replay)}`;
  }
  return undefined;
}

export async function check(category: Category, hostileCase: Case): Promise<void> {
  const answer = await send(hostileCase.request);
  const problem = judge(category, hostileCase, answer);
  if (problem !== undefined) {
    throw new Error(
      `${category}: ${problem}\n  request: ${describeRequest(hostileCase.request)}\n  answer: ${answer.status} ${answer.text.slice(0, 400)}`,
    );
  }
}

export let seedOffset = 0;
/** fast-check's settings for one property: the fixed seed (one per property), no shrinking. */
export function runs(numRuns: number): fc.Parameters<[Case]> {
  seedOffset += 1;
  // stop at the first failure: the failing request is printed whole, and a defect that trips an
  // upstream's circuit breaker is not hammered into every later request of the suite
  return { seed: SEED + seedOffset, numRuns, endOnFailure: true };
}

export function property(category: Category, cases: fc.Arbitrary<Case>, numRuns: number) {
  return fc.assert(
    fc.asyncProperty(cases, (hostileCase) => check(category, hostileCase)),
    runs(numRuns),
  );
}
