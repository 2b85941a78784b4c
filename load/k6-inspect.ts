// What `k6 inspect` would refuse, found without k6 (it cannot be installed here): each script is
// parsed as an ES module with acorn, then its imports, `options.scenarios` and `options.thresholds`
// are checked against what k6 accepts. Every problem is a sentence; none means the script passes.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { type AnyNode, type Expression, type ObjectExpression, type Program, parse } from 'acorn';

/** k6's built-in modules a script may import (k6 v1). */
const K6_MODULES = new Set([
  'k6',
  'k6/crypto',
  'k6/data',
  'k6/encoding',
  'k6/execution',
  'k6/html',
  'k6/http',
  'k6/metrics',
  'k6/net/grpc',
  'k6/timers',
  'k6/ws',
  'k6/browser',
  'k6/secrets',
]);

/** Executors and the options each cannot run without. */
const EXECUTORS: Record<string, string[]> = {
  'shared-iterations': [],
  'per-vu-iterations': [],
  'constant-vus': ['duration'],
  'ramping-vus': ['stages'],
  'constant-arrival-rate': ['rate', 'duration', 'preAllocatedVUs'],
  'ramping-arrival-rate': ['stages', 'preAllocatedVUs'],
  'externally-controlled': ['duration'],
};

type MetricType = 'counter' | 'gauge' | 'rate' | 'trend';

/** k6's built-in metrics (HTTP, execution, network). */
const BUILT_IN_METRICS: Record<string, MetricType> = {
  checks: 'rate',
  data_received: 'counter',
  data_sent: 'counter',
  dropped_iterations: 'counter',
  iteration_duration: 'trend',
  iterations: 'counter',
  vus: 'gauge',
  vus_max: 'gauge',
  http_req_blocked: 'trend',
  http_req_connecting: 'trend',
  http_req_duration: 'trend',
  http_req_failed: 'rate',
  http_req_receiving: 'trend',
  http_req_sending: 'trend',
  http_req_tls_handshaking: 'trend',
  http_req_waiting: 'trend',
  http_reqs: 'counter',
};

/** Which aggregations a threshold may use on each type of metric. */
const AGGREGATIONS: Record<MetricType, RegExp> = {
  counter: /^(count|rate)$/,
  gauge: /^value$/,
  rate: /^rate$/,
  trend: /^(avg|min|max|med|p\(\d+(\.\d+)?\))$/,
};

const THRESHOLD =
  /^\s*(count|rate|value|avg|min|max|med|p\(\d+(?:\.\d+)?\))\s*(<=|>=|<|>|===|==|!=)\s*-?\d+(\.\d+)?\s*$/;
const METRIC_CLASSES: Record<string, MetricType> = {
  Counter: 'counter',
  Gauge: 'gauge',
  Rate: 'rate',
  Trend: 'trend',
};
/** Helpers of load/k6/lib.js that place orders: a script calling them must hold orders to their end. */
const ORDER_PLACING = new Set(['trade', 'placeOrder']);

interface Module {
  path: string;
  program: Program;
}

function parseModule(path: string): Module | string {
  try {
    return { path, program: parse(readFileSync(path, 'utf8'), { ecmaVersion: 2020, sourceType: 'module' }) };
  } catch (error) {
    return `${path}: not a valid ES module: ${(error as Error).message}`;
  }
}

/** Every node under `node`, depth first. */
function* walk(node: unknown): Generator<AnyNode> {
  if (Array.isArray(node)) {
    for (const child of node) yield* walk(child);
  } else if (node && typeof node === 'object' && typeof (node as { type?: unknown }).type === 'string') {
    yield node as AnyNode;
    for (const [key, value] of Object.entries(node)) {
      if (key !== 'type' && value && typeof value === 'object') yield* walk(value);
    }
  }
}

function keyName(key: Expression | AnyNode): string | undefined {
  if (key.type === 'Identifier') return key.name;
  if (key.type === 'Literal' && typeof key.value === 'string') return key.value;
  return undefined;
}

/** The properties of an object literal by name; a spread or computed key makes it unknowable. */
function properties(object: ObjectExpression): Map<string, Expression> | undefined {
  const out = new Map<string, Expression>();
  for (const property of object.properties) {
    if (property.type !== 'Property' || property.computed) return undefined;
    const name = keyName(property.key);
    if (name === undefined) return undefined;
    out.set(name, property.value);
  }
  return out;
}

/** Names a module exports, with whether each is a function (undefined when it cannot tell). */
function exportsOf(program: Program): Map<string, boolean | undefined> {
  const out = new Map<string, boolean | undefined>();
  const functions = new Set<string>();
  for (const node of program.body) {
    if (node.type === 'FunctionDeclaration' && node.id) functions.add(node.id.name);
  }
  for (const node of program.body) {
    if (node.type === 'ExportDefaultDeclaration') {
      const d = node.declaration;
      out.set(
        'default',
        d.type === 'FunctionDeclaration' ||
          d.type === 'FunctionExpression' ||
          d.type === 'ArrowFunctionExpression' ||
          (d.type === 'Identifier' && functions.has(d.name)),
      );
    } else if (node.type === 'ExportNamedDeclaration') {
      const d = node.declaration;
      if (d?.type === 'FunctionDeclaration') out.set(d.id.name, true);
      else if (d?.type === 'VariableDeclaration') {
        for (const v of d.declarations) {
          if (v.id.type === 'Identifier')
            out.set(
              v.id.name,
              v.init?.type === 'ArrowFunctionExpression' || v.init?.type === 'FunctionExpression',
            );
        }
      }
      for (const s of node.specifiers) {
        const exported = keyName(s.exported);
        const local = keyName(s.local);
        if (exported) out.set(exported, node.source ? undefined : local ? functions.has(local) : undefined);
      }
    }
  }
  return out;
}

/** The module and every relative module it imports, transitively, with problems in their imports. */
function moduleGraph(entry: string): { modules: Module[]; problems: string[] } {
  const modules: Module[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const parsed = parseModule(path);
    if (typeof parsed === 'string') {
      problems.push(parsed);
      return;
    }
    modules.push(parsed);
    for (const node of parsed.program.body) {
      if (
        node.type !== 'ImportDeclaration' &&
        !(node.type === 'ExportNamedDeclaration' && node.source) &&
        node.type !== 'ExportAllDeclaration'
      )
        continue;
      const source = String(node.source?.value);
      if (source.startsWith('./') || source.startsWith('../')) {
        const target = resolve(dirname(path), source);
        if (!existsSync(target)) {
          problems.push(`${path}: imports ${source}, which does not exist`);
          continue;
        }
        if (node.type === 'ImportDeclaration') {
          const imported = parseModule(target);
          if (typeof imported !== 'string') {
            const names = exportsOf(imported.program);
            for (const s of node.specifiers) {
              const name = s.type === 'ImportSpecifier' ? keyName(s.imported) : 'default';
              if (s.type !== 'ImportNamespaceSpecifier' && name && !names.has(name))
                problems.push(`${path}: imports ${name} from ${source}, which does not export it`);
            }
          }
        }
        visit(target);
      } else if (!K6_MODULES.has(source) && !source.startsWith('k6/experimental/')) {
        problems.push(`${path}: imports ${source}: k6 scripts may import only k6 modules and relative files`);
      }
    }
    for (const node of walk(parsed.program)) {
      if (node.type === 'Identifier' && (node.name === 'require' || node.name === 'process'))
        problems.push(`${path}: uses ${node.name}, which k6 has not got (it is not Node)`);
    }
  };
  visit(entry);
  return { modules, problems };
}

/** Custom metrics created anywhere in the module graph: `new Rate('name')` and the like. */
function customMetrics(modules: Module[]): Map<string, MetricType> {
  const out = new Map<string, MetricType>();
  for (const { program } of modules) {
    for (const node of walk(program)) {
      if (node.type !== 'NewExpression' || node.callee.type !== 'Identifier') continue;
      const type = METRIC_CLASSES[node.callee.name];
      const [name] = node.arguments;
      if (type && name?.type === 'Literal' && typeof name.value === 'string') out.set(name.value, type);
    }
  }
  return out;
}

function thresholdExpressions(value: Expression): Array<string | undefined> {
  if (value.type !== 'ArrayExpression') return [undefined];
  return value.elements.map((element) => {
    if (element?.type === 'Literal' && typeof element.value === 'string') return element.value;
    if (element?.type === 'ObjectExpression') {
      const threshold = properties(element)?.get('threshold');
      if (threshold?.type === 'Literal' && typeof threshold.value === 'string') return threshold.value;
    }
    return undefined;
  });
}

/** Problems `k6 inspect` (or the start of `k6 run`) would have with the script, and those of this project. */
export function inspectK6Script(path: string): string[] {
  const name = relative(process.cwd(), path);
  const { modules, problems } = moduleGraph(resolve(path));
  const script = modules[0];
  if (!script) return problems;
  const exported = exportsOf(script.program);

  let options: ObjectExpression | undefined;
  for (const node of script.program.body) {
    if (node.type !== 'ExportNamedDeclaration' || node.declaration?.type !== 'VariableDeclaration') continue;
    for (const v of node.declaration.declarations) {
      if (v.id.type === 'Identifier' && v.id.name === 'options' && v.init?.type === 'ObjectExpression')
        options = v.init;
    }
  }
  if (!options) return [...problems, `${name}: no \`export const options = { … }\``];
  const option = properties(options);
  if (!option) return [...problems, `${name}: options must be an object literal without spreads`];

  // scenarios
  const scenarios = option.get('scenarios');
  const scenarioMap = scenarios?.type === 'ObjectExpression' ? properties(scenarios) : undefined;
  if (!scenarioMap || scenarioMap.size === 0) problems.push(`${name}: options.scenarios names no scenario`);
  for (const [scenario, value] of scenarioMap ?? []) {
    const settings = value.type === 'ObjectExpression' ? properties(value) : undefined;
    if (!settings) {
      problems.push(`${name}: scenario ${scenario} is not an object literal`);
      continue;
    }
    const executor = settings.get('executor');
    const executorName = executor?.type === 'Literal' ? String(executor.value) : undefined;
    const required = executorName === undefined ? undefined : EXECUTORS[executorName];
    if (!required) problems.push(`${name}: scenario ${scenario} has no known executor (${executorName})`);
    for (const option of required ?? []) {
      if (!settings.has(option))
        problems.push(`${name}: scenario ${scenario} (${executorName}) needs ${option}`);
    }
    const exec = settings.get('exec');
    const execName =
      exec === undefined ? 'default' : exec.type === 'Literal' ? String(exec.value) : undefined;
    if (execName === undefined || exported.get(execName) === undefined)
      problems.push(
        `${name}: scenario ${scenario} runs ${execName ?? 'a computed name'}, which the script does not export`,
      );
    else if (exported.get(execName) === false)
      problems.push(`${name}: scenario ${scenario} runs ${execName}, which is not a function`);
  }

  // thresholds
  const thresholds = option.get('thresholds');
  const thresholdMap = thresholds?.type === 'ObjectExpression' ? properties(thresholds) : undefined;
  if (!thresholdMap) return [...problems, `${name}: options.thresholds is not an object literal`];
  const metrics = { ...BUILT_IN_METRICS, ...Object.fromEntries(customMetrics(modules)) };
  const byMetric = new Map<string, string[]>();
  for (const [key, value] of thresholdMap) {
    const metric = key.replace(/\{.*\}$/, '');
    const type = metrics[metric];
    if (!type) problems.push(`${name}: threshold on ${metric}, a metric neither k6 nor the script defines`);
    for (const expression of thresholdExpressions(value)) {
      const parsed = expression === undefined ? null : THRESHOLD.exec(expression);
      if (!parsed) {
        problems.push(
          `${name}: threshold ${key}: ${expression ?? 'a non-literal'} is not a k6 threshold expression`,
        );
        continue;
      }
      if (type && !AGGREGATIONS[type].test(parsed[1] as string))
        problems.push(`${name}: threshold ${key}: ${parsed[1]} does not apply to a ${type} metric`);
      byMetric.set(metric, [...(byMetric.get(metric) ?? []), expression as string]);
    }
  }
  const has = (metric: string, pattern: RegExp) => (byMetric.get(metric) ?? []).some((e) => pattern.test(e));
  if (!has('http_req_duration', /^\s*p\([\d.]+\)\s*<=?/))
    problems.push(`${name}: no latency threshold (a percentile of http_req_duration under a bound)`);
  if (!has('http_req_failed', /^\s*rate\s*<=?/))
    problems.push(`${name}: no error-rate threshold (http_req_failed's rate under a bound)`);
  const placesOrders = script.program.body.some(
    (node) =>
      node.type === 'ImportDeclaration' &&
      node.specifiers.some(
        (s) => s.type === 'ImportSpecifier' && ORDER_PLACING.has(keyName(s.imported) ?? ''),
      ),
  );
  if (placesOrders && !has('orders_terminal', /^\s*rate\s*>=?/))
    problems.push(
      `${name}: places orders but has no threshold on orders reaching a terminal state (orders_terminal)`,
    );
  return problems;
}
