import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Balancer } from './balancer.ts';
import { SERVICES, type ServiceName } from './services.ts';

export interface StackOptions {
  /** The repository root (where `services/` is). */
  root: string;
  /** Environment given to every service, on top of the ports and upstream URLs. */
  env?: NodeJS.ProcessEnv;
  /** Added to every default port, so a test stack can run beside `pnpm start`. */
  portOffset?: number;
  /** Extra environment per service. */
  serviceEnv?: Partial<Record<ServiceName, NodeJS.ProcessEnv>>;
  /**
   * The credential of the services' administrative routes (ADMIN_TOKEN): `POST /accounts`,
   * `/customers`, `/admin/*`. Default: a new random one per stack (`stack.adminToken`).
   */
  adminToken?: string;
  /** Each service's own AMQP URL (its own broker user: `provisionBrokerUsers`); `env`'s otherwise. */
  brokerUrls?: Partial<Record<ServiceName, string>>;
  /**
   * How many instances of each service run (default 1): one number for every service, or some
   * services by name. The stock-exchange simulator always runs one (see `instanceCounts`).
   */
  instances?: number | Partial<Record<ServiceName, number>>;
  /** Extra environment for one instance, merged last. */
  instanceEnv?: (name: ServiceName, instance: number) => NodeJS.ProcessEnv | undefined;
  /**
   * Runs an instance under a wrapper: `{ prefix: ['faketime', '-f', '+5s'] }` spawns
   * `faketime -f +5s <node> …`. A wrapped instance gets a process group of its own and every
   * signal goes to the whole group (a wrapper such as faketime forks and does not pass signals
   * on); its `pid` is the wrapper's.
   */
  command?: (name: ServiceName, instance: number) => { prefix: string[] } | undefined;
  /** Receives every line a service writes, with the index of the instance that wrote it. */
  onLine?: (service: ServiceName, line: string, stream: 'stdout' | 'stderr', instance: number) => void;
  readyTimeoutMs?: number;
  /**
   * Runs each service from its TypeScript source (Node's type transform; the workspace packages'
   * `simplebank-source` export condition) and restarts it when a file it loaded changes
   * (`node --watch`): `pnpm dev`. Otherwise the built `dist/`.
   */
  watch?: boolean;
}

interface Instance {
  child: ChildProcess;
  /** Its own process group (a wrapper command), signalled as a whole. */
  group: boolean;
  /** Resolves once the process has exited and its output is read to the end. */
  closed: Promise<void>;
  spawnError?: Error;
}

/**
 * Ports of instance i (0-based) when a service runs more than one: (i + 1) times this far above its
 * URL's. 100, not 1000: 8080 + 2000 is 10080, a port fetch refuses to connect to (the Fetch
 * standard's "bad ports"). The services' ports are 15 apart at most, so no instance port is another
 * service's.
 */
export const INSTANCE_PORT_STEP = 100;

/**
 * How many instances of each service `instances` asks for. The stock-exchange simulator always
 * runs one: it stands for an outside system (the exchange, not ours to scale), and its prices
 * are a random walk in its process's memory, which a second instance would not share.
 */
export function instanceCounts(instances: StackOptions['instances'] = 1): Record<ServiceName, number> {
  return Object.fromEntries(
    SERVICES.map(({ name }) => {
      const count = typeof instances === 'number' ? instances : (instances[name] ?? 1);
      if (!Number.isInteger(count) || count < 1) {
        throw new RangeError(`instances of ${name} must be a whole number ≥ 1, not ${count}`);
      }
      if (name === 'stock-exchange') {
        if (typeof instances !== 'number' && count !== 1) {
          throw new RangeError('the stock-exchange simulator runs as one instance');
        }
        return [name, 1];
      }
      return [name, count];
    }),
  ) as Record<ServiceName, number>;
}

/**
 * What `node` runs a service with: the built `dist/server.js` with source maps, as the image's
 * entrypoint does, or with `watch` its `src/server.ts` under Node's type transform and `--watch`
 * (the workspace packages' `simplebank-source` export condition points at their sources).
 * OpenTelemetry comes first, before the service loads what it instruments (chassis' telemetry.ts).
 */
export function nodeArguments(root: string, name: ServiceName, watch: boolean): string[] {
  const [dir, extension] = watch ? ['src', 'ts'] : ['dist', 'js'];
  const entry = join(root, 'services', name, dir, `server.${extension}`);
  const telemetry = pathToFileURL(join(root, 'libs', 'chassis', dir, `telemetry.${extension}`)).href;
  const flags = watch
    ? [
        '--experimental-transform-types',
        '--disable-warning=ExperimentalWarning',
        '--conditions=simplebank-source',
        '--watch',
        '--watch-preserve-output',
      ]
    : ['--enable-source-maps'];
  return [...flags, '--import', telemetry, entry];
}

/**
 * The whole system as local processes. Each service answers at `urls[name]` (its default port
 * plus `portOffset`). With one instance (the default) that is the service itself. With N > 1 it
 * is a round-robin TCP balancer inside this process (`Balancer`), and instance i (0-based) listens
 * on that port + 100 × (i + 1): `pnpm start --instances 2` runs orders on 8181 and 8281 behind
 * 8081. Stacks side by side (pnpm start, the e2e and chaos suites: offsets 10 000 apart) stay clear
 * of each other while their offsets differ by more than 100 × N. Services call each other through
 * the balanced URLs.
 */
export class Stack {
  private readonly processes = new Map<ServiceName, (Instance | undefined)[]>();
  private readonly balancers = new Map<ServiceName, Balancer>();
  private readonly counts: Record<ServiceName, number>;
  readonly urls: Record<ServiceName, string>;
  /** What tools send as `Authorization: Bearer …` to the services' administrative routes. */
  readonly adminToken: string;

  constructor(private readonly options: StackOptions) {
    const offset = options.portOffset ?? 0;
    this.urls = Object.fromEntries(
      SERVICES.map((s) => [s.name, `http://127.0.0.1:${s.port + offset}`]),
    ) as Record<ServiceName, string>;
    this.counts = instanceCounts(options.instances);
    this.adminToken =
      options.adminToken ??
      options.env?.ADMIN_TOKEN ??
      process.env.ADMIN_TOKEN ??
      randomBytes(24).toString('base64url');
    for (const { name } of SERVICES) {
      const last = this.instancePort(name, this.counts[name] - 1);
      if (last > 65_535) throw new RangeError(`${name} instance ports would reach ${last}`);
    }
  }

  /** How many instances of the service this stack runs. */
  instanceCount(name: ServiceName): number {
    return this.counts[name];
  }

  /** The port instance `instance` (0-based) listens on: the URL's port when it is the only one. */
  instancePort(name: ServiceName, instance = 0): number {
    this.checkInstance(name, instance);
    const port = Number(new URL(this.urls[name]).port);
    return this.counts[name] === 1 ? port : port + INSTANCE_PORT_STEP * (instance + 1);
  }

  /**
   * The port of one instance's operations routes (/health*, /metrics): its own port, unless the
   * service serves them on a listener of their own (the gateway: 9080, moved as its port is).
   */
  opsPort(name: ServiceName, instance = 0): number {
    const port = this.instancePort(name, instance);
    const service = SERVICES.find((s) => s.name === name);
    // as far above its default as the instance's port is above the service's
    return service && 'opsPort' in service ? service.opsPort + (port - service.port) : port;
  }

  /** Where one instance's /health and /metrics are. */
  opsUrl(name: ServiceName, instance = 0): string {
    return `http://127.0.0.1:${this.opsPort(name, instance)}`;
  }

  /** The address of one instance, bypassing the balancer. */
  instanceUrl(name: ServiceName, instance = 0): string {
    return `http://127.0.0.1:${this.instancePort(name, instance)}`;
  }

  /** The process id of a running instance (for CPU and memory readings), if it runs. */
  pid(name: ServiceName, instance = 0): number | undefined {
    this.checkInstance(name, instance);
    return this.processes.get(name)?.[instance]?.child.pid;
  }

  /** The process ids of every running instance of the service. */
  pids(name: ServiceName): number[] {
    return (this.processes.get(name) ?? []).flatMap((p) =>
      p && running(p) && p.child.pid !== undefined ? [p.child.pid] : [],
    );
  }

  /**
   * Starts every instance of every service; resolves once each answers `/health/ready` on its own
   * port. In waves: the first instance of every service (as with one instance), then the second of
   * each, and so on; 13 processes booting at once on two cores take longer than the ready timeout.
   */
  async start(): Promise<void> {
    for (const { name } of SERVICES) await this.ensureBalancer(name);
    const waves = Math.max(...SERVICES.map(({ name }) => this.counts[name]));
    for (let i = 0; i < waves; i++) {
      const wave = SERVICES.filter(({ name }) => i < this.counts[name]);
      for (const { name } of wave) this.spawn(name, i);
      await Promise.all(wave.map(({ name }) => this.waitReady(name, i)));
    }
  }

  /** Starts one instance (again) and waits until it is ready. */
  async startService(name: ServiceName, instance = 0): Promise<void> {
    this.checkInstance(name, instance);
    const current = this.processes.get(name)?.[instance];
    if (current && running(current)) throw new Error(`${instanceLabel(name, instance)} is already running`);
    await this.ensureBalancer(name);
    this.spawn(name, instance);
    await this.waitReady(name, instance);
  }

  /**
   * SIGTERM, the way an orchestrator stops an instance; resolves with its exit code once it has
   * exited and its last lines are read. A frozen (SIGSTOP) instance is continued after the signal,
   * so that it can act on it.
   */
  async stopService(
    name: ServiceName,
    signal: NodeJS.Signals = 'SIGTERM',
    instance = 0,
  ): Promise<number | null> {
    this.checkInstance(name, instance);
    const slots = this.processes.get(name);
    const proc = slots?.[instance];
    if (!slots || !proc) return null;
    if (running(proc)) {
      deliver(proc, signal);
      if (signal !== 'SIGKILL') deliver(proc, 'SIGCONT');
    }
    await proc.closed;
    if (slots[instance] === proc) slots[instance] = undefined;
    return proc.child.exitCode;
  }

  /** Sends a signal to one instance without waiting (SIGSTOP, SIGCONT); false if it is not running. */
  signal(name: ServiceName, signal: NodeJS.Signals, instance = 0): boolean {
    this.checkInstance(name, instance);
    const proc = this.processes.get(name)?.[instance];
    return proc !== undefined && running(proc) && deliver(proc, signal);
  }

  /** Stops every instance, upstream services first, then closes the balancers. */
  async stop(): Promise<void> {
    // Upstream first, so nothing new enters while the rest drains.
    for (const { name } of [...SERVICES].reverse()) {
      await Promise.all(
        Array.from({ length: this.counts[name] }, (_, i) => this.stopService(name, 'SIGTERM', i)),
      );
    }
    await Promise.all([...this.balancers.values()].map((balancer) => balancer.close()));
    this.balancers.clear();
  }

  environmentOf(name: ServiceName, instance = 0): NodeJS.ProcessEnv {
    return {
      ...process.env,
      ...this.options.env,
      ADMIN_TOKEN: this.adminToken,
      ...(this.options.brokerUrls?.[name] ? { AMQP_URL: this.options.brokerUrls[name] } : {}),
      PORT: String(this.instancePort(name, instance)),
      OPS_PORT: String(this.opsPort(name, instance)),
      // The balanced URLs: a caller never picks an instance.
      EXCHANGE_URL: this.urls['stock-exchange'],
      ORDERS_URL: this.urls.orders,
      ACCOUNTS_URL: this.urls['account-transactions'],
      FEES_URL: this.urls.fees,
      MARKET_URL: this.urls.market,
      ...this.options.serviceEnv?.[name],
      ...this.options.instanceEnv?.(name, instance),
    };
  }

  private checkInstance(name: ServiceName, instance: number): void {
    if (!Number.isInteger(instance) || instance < 0 || instance >= this.counts[name]) {
      throw new RangeError(`${name} has ${this.counts[name]} instance(s), no instance ${instance}`);
    }
  }

  private async ensureBalancer(name: ServiceName): Promise<void> {
    if (this.counts[name] === 1 || this.balancers.has(name)) return;
    const balancer = new Balancer(
      Array.from({ length: this.counts[name] }, (_, i) => ({
        port: this.instancePort(name, i),
        running: () => {
          const proc = this.processes.get(name)?.[i];
          return proc !== undefined && running(proc);
        },
      })),
    );
    this.balancers.set(name, balancer);
    try {
      await balancer.listen(Number(new URL(this.urls[name]).port));
    } catch (error) {
      this.balancers.delete(name);
      throw new Error(`${name}'s balancer cannot listen on ${this.urls[name]}: ${(error as Error).message}`);
    }
  }

  private spawn(name: ServiceName, instance: number): void {
    const node = [process.execPath, ...nodeArguments(this.options.root, name, this.options.watch ?? false)];
    const prefix = this.options.command?.(name, instance)?.prefix ?? [];
    const [file, ...args] = [...prefix, ...node] as [string, ...string[]];
    const child = spawn(file, args, {
      env: this.environmentOf(name, instance),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: prefix.length > 0,
    });
    const proc: Instance = {
      child,
      group: prefix.length > 0,
      closed: new Promise((resolve) => child.once('close', () => resolve())),
    };
    // A wrapper that cannot be found: no 'exit', 'close' still comes.
    child.once('error', (error) => {
      proc.spawnError = error;
    });
    const slots = this.processes.get(name) ?? [];
    slots[instance] = proc;
    this.processes.set(name, slots);
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream] }).on('line', (line) =>
        this.options.onLine?.(name, line, stream, instance),
      );
    }
  }

  private async waitReady(name: ServiceName, instance: number): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const proc = this.processes.get(name)?.[instance];
    const url = `${this.opsUrl(name, instance)}/health/ready`;
    const who = this.counts[name] === 1 ? name : instanceLabel(name, instance);
    while (Date.now() < deadline) {
      if (proc?.spawnError) throw new Error(`${who} could not start: ${proc.spawnError.message}`);
      if (proc && !running(proc)) {
        throw new Error(
          `${who} exited with code ${proc.child.exitCode ?? proc.child.signalCode} while starting`,
        );
      }
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${who} was not ready within ${timeoutMs} ms`);
  }
}

/** `orders#2`: instance 1, numbered from 1 as in `pnpm start`'s logs. */
export function instanceLabel(name: ServiceName, instance: number): string {
  return `${name}#${instance + 1}`;
}

function running({ child, spawnError }: Instance): boolean {
  return spawnError === undefined && child.exitCode === null && child.signalCode === null;
}

function deliver({ child, group }: Instance, signal: NodeJS.Signals): boolean {
  if (!group || child.pid === undefined) return child.kill(signal);
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}
