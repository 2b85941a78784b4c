import { dirname, resolve } from 'node:path';
import type { TObject, TProperties, TSchema } from 'typebox';
import { BaseConfig } from './config.ts';

/**
 * The command line every service's entry point answers, the same for all of them ("things your
 * microservices should do"): `--version`, `--help`, and `init`, which prints a systemd unit that
 * runs the service on a plain virtual machine. Configuration stays in the environment: the unit
 * carries `Environment=` lines, never a path to a configuration file. Anything else (no arguments)
 * starts the service.
 */
export interface CliDefinition {
  name: string;
  version: string;
  port: number;
  config?: TObject<TProperties>;
}

export interface CliContext {
  env: NodeJS.ProcessEnv;
  /** The Node binary (`process.execPath`): systemd wants an absolute path. */
  execPath: string;
  /** The entry script (`process.argv[1]`), `<package>/dist/server.js`. */
  entry: string;
}

export type CliResult =
  | { action: 'start' }
  | { action: 'exit'; code: number; stdout: string; stderr: string };

const TELEMETRY = '@simplebank/chassis/telemetry';

/** What `argv` (without node and the script) asks for. */
export function serviceCli(
  definition: CliDefinition,
  argv: readonly string[],
  context: CliContext,
): CliResult {
  const [first, ...rest] = argv;
  const done = (stdout: string, code = 0, stderr = ''): CliResult => ({
    action: 'exit',
    code,
    stdout,
    stderr,
  });
  if (first === undefined) return { action: 'start' };
  if (rest.length > 0)
    return done('', 2, `${definition.name}: unexpected argument ${rest[0]}\n${usage(definition)}`);
  switch (first) {
    case '--version':
    case '-v':
      return done(
        `${definition.name} ${definition.version} (commit ${context.env.GIT_COMMIT || defaultOf(definition, 'GIT_COMMIT')})\n`,
      );
    case '--help':
    case '-h':
    case 'help':
      return done(help(definition));
    case 'init':
      return done(systemdUnit(definition, context));
    default:
      return done('', 2, `${definition.name}: unknown command ${first}\n${usage(definition)}`);
  }
}

function usage({ name }: CliDefinition): string {
  return `Usage: ${name} [--version | --help | init]\n`;
}

/** Every variable the service reads, base settings first, with its default. */
export function environmentVariables(definition: CliDefinition): { name: string; default: string }[] {
  const properties: Record<string, TSchema> = {
    ...BaseConfig.properties,
    ...(definition.config?.properties ?? {}),
  };
  return Object.entries(properties).map(([name, schema]) => {
    const fallback = name === 'PORT' ? definition.port : (schema as { default?: unknown }).default;
    return { name, default: fallback === undefined ? '' : String(fallback) };
  });
}

/** A variable's default, as the service's config schema declares it. */
const defaultOf = (definition: CliDefinition, name: string) =>
  environmentVariables(definition).find((v) => v.name === name)?.default ?? '';

function help(definition: CliDefinition): string {
  const variables = environmentVariables(definition);
  const width = Math.max(...variables.map((v) => v.name.length));
  const lines = variables.map(
    (v) => `  ${v.name.padEnd(width)}  ${v.default === '' ? '(unset)' : `default ${v.default}`}`,
  );
  return [
    `${definition.name} ${definition.version}: the SimpleBank ${definition.name} service.`,
    '',
    usage(definition).trimEnd(),
    '',
    '  (no command)  start the service: HTTP on $HOST:$PORT, health at /health/live and /health/ready',
    '  --version     print the version and the git commit it was built from (GIT_COMMIT)',
    '  --help        print this help',
    '  init          print a systemd unit that runs this service on a virtual machine, with the',
    '                variables set in this environment as Environment= lines',
    '',
    'Configuration comes from the environment only:',
    ...lines,
    '',
  ].join('\n');
}

/** Names whose values must not be written into a world-readable unit file. */
const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|_KEY)$/;
const CREDENTIALS_IN_URL = /:\/\/[^/@\s]*:[^/@\s]*@/;

export function isSecret(name: string, value: string): boolean {
  return SECRET_NAME.test(name) || CREDENTIALS_IN_URL.test(value);
}

/** systemd quoting of one `Environment=` assignment (specifiers start with %). */
function environmentLine(name: string, value: string): string {
  const escaped = `${name}=${value}`.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('%', '%%');
  return `Environment="${escaped}"`;
}

export function systemdUnit(definition: CliDefinition, context: CliContext): string {
  const { name } = definition;
  const entry = resolve(context.entry);
  // `--import` resolves the chassis from the working directory: the service's package directory
  const packageDir = dirname(dirname(entry));
  const shutdownMs =
    Number(context.env.SHUTDOWN_TIMEOUT_MS) || Number(defaultOf(definition, 'SHUTDOWN_TIMEOUT_MS'));
  const environment: string[] = [];
  const written = new Set<string>();
  const secrets: string[] = [];
  // On a VM the service answers on its network address, not only on loopback.
  const env: NodeJS.ProcessEnv = { HOST: '0.0.0.0', NODE_ENV: 'production', ...context.env };
  for (const variable of environmentVariables(definition)) {
    const value = env[variable.name];
    if (value === undefined || value === '') continue;
    if (isSecret(variable.name, value)) secrets.push(variable.name);
    else {
      environment.push(environmentLine(variable.name, value));
      written.add(variable.name);
    }
  }
  for (const extra of ['NODE_ENV', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME', 'OTEL_SDK_DISABLED']) {
    const value = env[extra];
    if (value && !written.has(extra)) environment.push(environmentLine(extra, value));
  }
  return [
    `# ${name}.service: the SimpleBank ${name} service ${definition.version} on a virtual machine.`,
    `# Written by \`${name} init\`; install with:`,
    `#   ${name} init | sudo tee /etc/systemd/system/simplebank-${name}.service`,
    `#   sudo systemctl daemon-reload && sudo systemctl enable --now simplebank-${name}`,
    '# Configuration is environment only: change an Environment= line, or add one for any variable',
    `# of \`${name} --help\`.`,
    ...(secrets.length > 0
      ? [
          '# Secrets are not written here (unit files are world-readable). Set them in a drop-in',
          `# that only root reads: sudo systemctl edit simplebank-${name}, then [Service] and`,
          ...secrets.map((secret) => `#   Environment="${secret}=…"`),
        ]
      : []),
    '',
    '[Unit]',
    `Description=SimpleBank ${name} service`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=exec',
    'DynamicUser=yes',
    `WorkingDirectory=${packageDir}`,
    ...environment,
    `ExecStart=${context.execPath} --enable-source-maps --import ${TELEMETRY} ${entry}`,
    // SIGTERM to node itself: the chassis stops taking work, drains and exits (runService)
    'KillSignal=SIGTERM',
    'KillMode=mixed',
    `TimeoutStopSec=${Math.ceil(shutdownMs / 1000) + 5}`,
    'Restart=on-failure',
    'RestartSec=2',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'CapabilityBoundingSet=',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    `SyslogIdentifier=simplebank-${name}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
