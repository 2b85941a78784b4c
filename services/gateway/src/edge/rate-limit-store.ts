import type { Logger } from '@simplebank/chassis';
import type { Redis } from 'ioredis';

type Count = { current: number; ttl: number };
type Callback = (error: Error | null, result?: Count) => void;

/** What @fastify/rate-limit gives a store's `child`: the merged options of a route or limiter. */
interface ChildOptions {
  groupId?: string;
  routeInfo?: { method?: string | string[]; url?: string };
}

// INCR with the window's expiry set on the first hit; the count and the ms left in its window.
const INCREMENT = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}`;

const READ = `
local current = redis.call('GET', KEYS[1])
if not current then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(current), ttl}`;

type Counting = Redis & {
  rateLimitIncrement(key: string, windowMs: number): Promise<[number, number]>;
  rateLimitRead(key: string): Promise<[number, number]>;
};

/** Fixed windows in this process: what the limits fall back on while Redis does not answer. */
export class LocalWindows {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  constructor(private readonly maxKeys = 100_000) {}

  increment(key: string, windowMs: number, now = Date.now()): Count {
    let window = this.windows.get(key);
    if (window === undefined || window.endsAt <= now) {
      window = { count: 0, endsAt: now + windowMs };
      this.windows.delete(key);
      this.windows.set(key, window);
      // bounded: the oldest window goes first (a flood of new keys cannot grow the process)
      if (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value as string);
    }
    window.count++;
    return { current: window.count, ttl: window.endsAt - now };
  }

  read(key: string, now = Date.now()): Count {
    const window = this.windows.get(key);
    return window === undefined || window.endsAt <= now
      ? { current: 0, ttl: 0 }
      : { current: window.count, ttl: window.endsAt - now };
  }
}

/**
 * A @fastify/rate-limit store that counts in Redis, so every gateway instance shares the budgets,
 * and in this process while Redis errors or is too slow (its 500 ms command timeout): a limit
 * never switches off, it is only counted per instance for as long as Redis is away (the plugin's
 * `skipOnError` would let every request through, sign-in guesses included). A route's budget is
 * its own (`POST/auth/token-…`), or a group's shared by several routes (`groupId`, as the order
 * limit of buy and sell).
 */
export function fallbackStore(redis: Redis, log: Logger, namespace: string) {
  const counting = redis as Counting;
  if (!('rateLimitIncrement' in counting)) {
    redis.defineCommand('rateLimitIncrement', { numberOfKeys: 1, lua: INCREMENT });
    redis.defineCommand('rateLimitRead', { numberOfKeys: 1, lua: READ });
  }
  const local = new LocalWindows();
  let redisAway = false;
  const fellBack = (error: unknown) => {
    if (!redisAway) log.warn({ error }, 'rate limits counted in this process: Redis does not answer');
    redisAway = true;
  };
  const answered = () => {
    if (redisAway) log.info('rate limits counted in Redis again');
    redisAway = false;
  };

  class FallbackStore {
    constructor(
      _options?: unknown,
      readonly prefix = namespace,
    ) {}

    incr(key: string, callback: Callback, windowMs: number): void {
      const full = this.prefix + key;
      counting.rateLimitIncrement(full, windowMs).then(
        ([current, ttl]) => {
          answered();
          callback(null, { current, ttl });
        },
        (error: unknown) => {
          fellBack(error);
          callback(null, local.increment(full, windowMs));
        },
      );
    }

    read(key: string, callback: Callback): void {
      const full = this.prefix + key;
      counting.rateLimitRead(full).then(
        ([current, ttl]) => callback(null, { current, ttl }),
        (error: unknown) => {
          fellBack(error);
          callback(null, local.read(full));
        },
      );
    }

    child(routeOptions: unknown): FallbackStore {
      const options = routeOptions as ChildOptions;
      if (options.groupId) return new FallbackStore(undefined, `${namespace}${options.groupId}:`);
      const { method, url } = options.routeInfo ?? {};
      return new FallbackStore(undefined, `${namespace}${String(method ?? '')}${url ?? ''}-`);
    }
  }
  return FallbackStore;
}
