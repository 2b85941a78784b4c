import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
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
  /** Receives every line a service writes. */
  onLine?: (service: ServiceName, line: string, stream: 'stdout' | 'stderr') => void;
  readyTimeoutMs?: number;
}

/** The whole system as local processes, one per service. */
export class Stack {
  private readonly processes = new Map<ServiceName, ChildProcess>();
  readonly urls: Record<ServiceName, string>;

  constructor(private readonly options: StackOptions) {
    const offset = options.portOffset ?? 0;
    this.urls = Object.fromEntries(
      SERVICES.map((s) => [s.name, `http://127.0.0.1:${s.port + offset}`]),
    ) as Record<ServiceName, string>;
  }

  /** The process id of a running service (for CPU and memory readings), if it runs. */
  pid(name: ServiceName): number | undefined {
    return this.processes.get(name)?.pid;
  }

  /** Starts every service and resolves once all of them answer `/health/ready`. */
  async start(): Promise<void> {
    for (const { name } of SERVICES) this.spawn(name);
    await Promise.all(SERVICES.map(({ name }) => this.waitReady(name)));
  }

  /** Starts one service (again) and waits until it is ready. */
  async startService(name: ServiceName): Promise<void> {
    this.spawn(name);
    await this.waitReady(name);
  }

  /** SIGTERM, the way an orchestrator stops a service; resolves when the process has exited. */
  async stopService(name: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.processes.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = once(child, 'exit');
    child.kill(signal);
    const [code] = await exited;
    this.processes.delete(name);
    return code as number | null;
  }

  async stop(): Promise<void> {
    // Upstream first, so nothing new enters while the rest drains.
    for (const { name } of [...SERVICES].reverse()) await this.stopService(name);
  }

  environmentOf(name: ServiceName): NodeJS.ProcessEnv {
    const port = new URL(this.urls[name]).port;
    return {
      ...process.env,
      ...this.options.env,
      PORT: port,
      EXCHANGE_URL: this.urls['stock-exchange'],
      ORDERS_URL: this.urls.orders,
      ACCOUNTS_URL: this.urls['account-transactions'],
      FEES_URL: this.urls.fees,
      MARKET_URL: this.urls.market,
      ...this.options.serviceEnv?.[name],
    };
  }

  private spawn(name: ServiceName): void {
    const entry = join(this.options.root, 'services', name, 'dist', 'server.js');
    // OpenTelemetry first, before the service loads what it instruments (chassis' telemetry.ts)
    const telemetry = pathToFileURL(join(this.options.root, 'libs', 'chassis', 'dist', 'telemetry.js')).href;
    const child = spawn(process.execPath, ['--enable-source-maps', '--import', telemetry, entry], {
      env: this.environmentOf(name),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.processes.set(name, child);
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream] }).on('line', (line) =>
        this.options.onLine?.(name, line, stream),
      );
    }
  }

  private async waitReady(name: ServiceName): Promise<void> {
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 30_000);
    const child = this.processes.get(name);
    while (Date.now() < deadline) {
      if (child && child.exitCode !== null)
        throw new Error(`${name} exited with code ${child.exitCode} while starting`);
      try {
        const response = await fetch(`${this.urls[name]}/health/ready`, {
          signal: AbortSignal.timeout(1000),
        });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${name} was not ready within ${this.options.readyTimeoutMs ?? 30_000} ms`);
  }
}
