// `pnpm parked <list|show|replay|discard> [--queue <handler queue, its .dlq, or a service>]… [--limit N]`
// Lists, inspects, replays or discards the messages parked in handlers' dead-letter queues, on the
// broker of AMQP_URL (default: the local one). The logic lives in libs/chassis/src/parking.ts.
import { parseArgs } from 'node:util';
import {
  listQueueNames,
  type ParkedMessage,
  ParkingLot,
  selectHandlerQueues,
} from '../libs/chassis/dist/parking.js';

const USAGE = `usage: pnpm parked <command> [--queue <name>]… [--limit N]

  list      each handler's dead-letter queue (*.dlq) with its message count
  show      the parked messages (id, type, reason, attempts, parked at, body), left in place
  replay    moves parked messages back to their handler queue, with fresh attempts
  discard   drops parked messages

  --queue   a handler queue (evt-…--service.handler), its dead-letter queue (….dlq), or a
            service's name for all its handlers; repeatable. Without it, list and show look at
            every dead-letter queue (found with rabbitmqctl, or RabbitMQ's management API when
            RABBITMQ_MANAGEMENT_URL is set); replay and discard need it.
  --limit   at most N messages per queue (show: 10 by default; replay and discard: all there
            when they start)

AMQP_URL picks the broker and virtual host (amqp://guest:guest@127.0.0.1:5672).
RABBITMQ_MANAGEMENT_URL lists its queues where rabbitmqctl cannot reach it (a broker in a
container), as the user it names or else AMQP_URL's: the compose stack's is
http://simplebank:simplebank@127.0.0.1:15672.`;

const fail = (message: string, code = 1): never => {
  console.error(message);
  process.exit(code);
};

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        queue: { type: 'string', short: 'q', multiple: true },
        limit: { type: 'string', short: 'n' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return fail(`${(error as Error).message}\n\n${USAGE}`, 2);
  }
}

const { positionals, values } = parse();
const command = positionals[0] ?? '';
if (values.help) fail(USAGE, 0);
if (!['list', 'show', 'replay', 'discard'].includes(command)) {
  fail(`${command ? `unknown command "${command}"` : 'no command'}\n\n${USAGE}`, 2);
}
let limit: number | undefined;
if (values.limit !== undefined) {
  limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    fail(`--limit must be a whole number above 0 (got "${values.limit}")`, 2);
  }
}
const names = values.queue ?? [];
if ((command === 'replay' || command === 'discard') && names.length === 0) {
  fail(`${command} needs --queue (a handler queue, its .dlq, or a service)`, 2);
}

const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const managementUrl = process.env.RABBITMQ_MANAGEMENT_URL || undefined;

/** The handler queues the names stand for; the broker is asked for its queues only when a name needs it. */
async function handlerQueues(): Promise<string[]> {
  const needsListing = names.length === 0 || names.some((n) => !n.startsWith('evt-'));
  let all: string[] = [];
  if (needsListing) {
    try {
      all = await listQueueNames(amqpUrl, managementUrl);
    } catch (error) {
      const how = managementUrl ? `from ${managementUrl}` : 'with rabbitmqctl';
      const instead = managementUrl
        ? ''
        : 'set RABBITMQ_MANAGEMENT_URL (the compose stack: http://127.0.0.1:15672) or ';
      fail(
        `could not list the broker's queues ${how} (${(error as Error).message.split('\n')[0]}): ` +
          `${instead}name handler queues with --queue evt-…`,
      );
    }
  }
  try {
    return selectHandlerQueues(names, all);
  } catch (error) {
    return fail((error as Error).message);
  }
}

async function connect(): Promise<ParkingLot> {
  try {
    return await ParkingLot.connect(amqpUrl);
  } catch (error) {
    const where = amqpUrl.replace(/\/\/[^@]*@/, '//');
    return fail(`could not connect to RabbitMQ at ${where}: ${(error as Error).message}`);
  }
}

const print = (message: ParkedMessage) => {
  console.log(`  id:        ${message.id ?? '(none)'}`);
  console.log(`  type:      ${message.type ?? '(none)'}`);
  console.log(`  reason:    ${message.reason ?? '(none)'}`);
  console.log(`  attempts:  ${message.attempts ?? '(not run)'}`);
  console.log(`  parked at: ${message.parkedAt ?? '(unknown)'}`);
  console.log(`  body:      ${JSON.stringify(message.body)}`);
  console.log('');
};
const plural = (n: number) => `${n} message${n === 1 ? '' : 's'}`;

async function run(lot: ParkingLot, queues: string[]): Promise<void> {
  if (command === 'list') {
    const listed = await lot.list(queues);
    const width = Math.max(0, ...listed.map((q) => q.deadLetterQueue.length));
    for (const q of listed) console.log(`${q.deadLetterQueue.padEnd(width)}  ${q.messages}`);
    const total = listed.reduce((sum, q) => sum + q.messages, 0);
    console.log(
      `${plural(total)} parked in ${listed.length} dead-letter queue${listed.length === 1 ? '' : 's'}`,
    );
  } else if (command === 'show') {
    for (const { queue, messages } of await lot.list(queues)) {
      if (messages === 0 && names.length === 0) continue;
      const shown = await lot.show(queue, limit ?? 10);
      console.log(`${queue}.dlq: showing ${shown.length} of ${plural(messages)}`);
      for (const message of shown) print(message);
    }
  } else {
    const verb = command === 'replay' ? 'moved' : 'discarded';
    let total = 0;
    for (const queue of queues) {
      const done = command === 'replay' ? await lot.replay(queue, limit) : await lot.discard(queue, limit);
      total += done;
      if (queues.length > 1) console.log(`${queue}: ${verb} ${plural(done)}`);
    }
    console.log(`${verb} ${plural(total)}`);
  }
}

const queues = await handlerQueues();
const lot = await connect();
try {
  await run(lot, queues);
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
} finally {
  await lot.close();
}
