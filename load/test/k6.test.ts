// The k6 scripts as `k6 inspect` would see them (k6 cannot be installed here), and proof that the
// inspection fails a script that k6, or this project, would refuse.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectK6Script } from '../k6-inspect.ts';

const k6 = join(import.meta.dirname, '..', 'k6');
const scripts = readdirSync(k6).filter((f) => f.endsWith('.js') && f !== 'lib.js');

describe('the k6 scripts', () => {
  it('are the scenarios the README promises', () => {
    expect(scripts.sort()).toEqual(['browse.js', 'burst.js', 'demo.js', 'soak.js', 'trade.js']);
  });

  it.each(scripts)('%s passes inspection', (script) => {
    expect(inspectK6Script(join(k6, script))).toEqual([]);
  });

  it('every request carries a W3C traceparent and the scripts read the seeded credentials', () => {
    const lib = readFileSync(join(k6, 'lib.js'), 'utf8');
    expect(lib).toMatch(/traceparent: `00-\$\{trace\}-\$\{hex\(16\)\}-01`/);
    expect(lib).toContain('exec.vu.metrics.metadata.trace_id = traceId');
    expect(lib).toContain("new SharedArray('credentials'");
    expect(lib).toContain("open(__ENV.CREDENTIALS || './credentials.json')");
  });
});

describe('the inspection fails', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k6-inspect-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const trade = readFileSync(join(k6, 'trade.js'), 'utf8');

  /** trade.js with one change, beside a copy of lib.js; answers its problems. */
  const problemsOf = (name: string, change: (source: string) => string) => {
    cpSync(k6, join(dir, name), { recursive: true });
    const changed = change(trade);
    expect(changed).not.toBe(trade);
    writeFileSync(join(dir, name, 'trade.js'), changed);
    return inspectK6Script(join(dir, name, 'trade.js')).join('\n');
  };

  it('a script without an error-rate threshold', () => {
    expect(problemsOf('no-error-rate', (s) => s.replace("http_req_failed: ['rate<0.01'],", ''))).toContain(
      'no error-rate threshold',
    );
  });

  it('a script without a latency threshold', () => {
    expect(
      problemsOf('no-latency', (s) =>
        s.replace("'http_req_duration{kind:order}': ['p(95)<250', 'p(99)<500'],", ''),
      ),
    ).toContain('no latency threshold');
  });

  it('an order script without a terminal-state threshold', () => {
    expect(problemsOf('no-terminal', (s) => s.replace("orders_terminal: ['rate>0.99'],", ''))).toContain(
      'no threshold on orders reaching a terminal state',
    );
  });

  it('a threshold expression k6 cannot parse, or one that does not fit its metric', () => {
    expect(problemsOf('typo', (s) => s.replace("'p(95)<250'", "'p95<250'"))).toContain(
      'p95<250 is not a k6 threshold expression',
    );
    expect(
      problemsOf('wrong-aggregation', (s) =>
        s.replace("orders_terminal: ['rate>0.99']", "orders_terminal: ['p(95)>0.99']"),
      ),
    ).toContain('p(95) does not apply to a rate metric');
  });

  it('a threshold on a metric nobody defines', () => {
    expect(problemsOf('unknown-metric', (s) => s.replace('orders_terminal:', 'orders_finished:'))).toContain(
      'threshold on orders_finished, a metric neither k6 nor the script defines',
    );
  });

  it('a scenario whose exec function is not exported, or with an unknown executor', () => {
    expect(
      problemsOf('no-exec', (s) => s.replace('export function steadyTrade(', 'function steadyTrade(')),
    ).toContain('scenario trade runs steadyTrade, which the script does not export');
    expect(problemsOf('executor', (s) => s.replace("'constant-arrival-rate'", "'constant-rate'"))).toContain(
      'scenario trade has no known executor (constant-rate)',
    );
    expect(problemsOf('no-duration', (s) => s.replace("duration: __ENV.DURATION || '2m',", ''))).toContain(
      'scenario trade (constant-arrival-rate) needs duration',
    );
  });

  it('an import that is not a k6 module, a missing file or a missing export, and Node globals', () => {
    expect(problemsOf('npm', (s) => `import _ from 'lodash';\n${s}`)).toContain(
      'imports lodash: k6 scripts may import only k6 modules and relative files',
    );
    expect(problemsOf('missing', (s) => s.replace("'./lib.js'", "'./helpers.js'"))).toContain(
      'imports ./helpers.js, which does not exist',
    );
    expect(problemsOf('export', (s) => s.replace('signInAll,', 'signInEveryone,'))).toContain(
      'imports signInEveryone from ./lib.js, which does not export it',
    );
    expect(
      problemsOf('node', (s) => s.replace('Number(__ENV.RATE || 50)', 'Number(process.env.RATE)')),
    ).toContain('uses process');
  });

  it('a script without options, or one that does not parse', () => {
    expect(problemsOf('no-options', (s) => s.replace('export const options', 'const options'))).toContain(
      'no `export const options = { … }`',
    );
    expect(
      problemsOf('syntax', (s) => s.replace('export function setup() {', 'export function setup() {{')),
    ).toContain('not a valid ES module');
  });
});
